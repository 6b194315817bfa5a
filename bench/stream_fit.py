"""Training throughput of one estimator fed in memory vs streamed from the float32 row cache (same rows, model, split).

python bench/stream_fit.py WORK memory|streamed: section 4's model and data; prints one JSON line.
"""

import json
import os
import sys
import time

WORK, MODE = sys.argv[1], sys.argv[2]

import numpy as np  # noqa: E402

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
runtime.import_keras()
from sklearn.model_selection import train_test_split  # noqa: E402

from galaxy_dl.data.rowcache import DenseCache  # noqa: E402
from galaxy_dl.data.streaming import Rows  # noqa: E402
from galaxy_dl.model.architecture import build_sequential, to_json  # noqa: E402
from galaxy_dl.model.estimator import make_estimator  # noqa: E402
from galaxy_dl.model.layerspec import parse_layer  # noqa: E402

X = np.load(os.path.join(WORK, "big_X.npy"))
y = np.load(os.path.join(WORK, "big_y.npy"))
if MODE == "streamed":
    cache = DenseCache(X.shape[1], WORK)
    cache.append(X)
    X = Rows(cache.finish())
train, val = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)
layers = [parse_layer('Dense(256, activation="relu")')] * 3 + [parse_layer('Dense(1, activation="sigmoid")')]
arch = json.loads(to_json(build_sequential((X.shape[1],), layers)))
est = make_estimator("classification", architecture=arch, optimizer="adam", epochs=2, batch_size=256, seed=42, verbose=0)
start = time.perf_counter()
est.fit(X[np.sort(train)], y[np.sort(train)], validation_data=(X[np.sort(val)], y[np.sort(val)]))
print(json.dumps({"fit_seconds": time.perf_counter() - start, "rows": len(train), "epochs": 2}))
