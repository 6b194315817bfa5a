"""galaxy-dl's estimator on the same arrays and split as plain_keras.py fit_only (loading set apart)."""

import json
import os
import sys
import time

WORK = sys.argv[1]

import numpy as np  # noqa: E402

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
runtime.import_keras()
from sklearn.model_selection import train_test_split  # noqa: E402

from galaxy_dl.architecture import build_sequential, to_json  # noqa: E402
from galaxy_dl.estimator import make_estimator  # noqa: E402
from galaxy_dl.layerspec import parse_layer  # noqa: E402

X = np.load(os.path.join(WORK, "big_X.npy"))
y = np.load(os.path.join(WORK, "big_y.npy"))
Xa, Xv, ya, yv = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
layers = [parse_layer('Dense(256, activation="relu")')] * 3 + [parse_layer('Dense(1, activation="sigmoid")')]
arch = json.loads(to_json(build_sequential((X.shape[1],), layers)))
est = make_estimator("classification", architecture=arch, optimizer="adam", epochs=2, batch_size=256, seed=42, verbose=0)
start = time.perf_counter()
est.fit(Xa, ya, validation_data=(Xv, yv))
print(json.dumps({"fit_seconds": time.perf_counter() - start, "rows": int(len(Xa)), "epochs": 2}))
