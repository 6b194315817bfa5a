"""galaxy-dl's estimator on the same arrays and split as plain_keras.py fit_only (loading set apart)."""

import json
import sys
import time

WORK = sys.argv[1]

from galaxy_dl import runtime  # noqa: E402

runtime.configure()
runtime.import_keras()
import section4  # noqa: E402

Xa, Xv, ya, yv = section4.data(WORK)
est = section4.estimator(Xa.shape[1])
start = time.perf_counter()
est.fit(Xa, ya, validation_data=(Xv, yv))
print(json.dumps({"fit_seconds": time.perf_counter() - start, "rows": len(Xa), "epochs": 2}))
