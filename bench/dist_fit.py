"""Section 4's fit on JAX in one of N processes (galaxy-dl's distribution plan), and the cost of one all-reduce
of the model's gradient. Usage: dist_fit.py WORK N PROCESS_ID PORT THREADS; prints JSON from process 0."""

import json
import os
import sys
import time

WORK, N, ME, PORT, THREADS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
os.environ["KERAS_BACKEND"] = "jax"

import numpy as np  # noqa: E402

from galaxy_dl import runtime  # noqa: E402
from galaxy_dl.runs import distribution  # noqa: E402

runtime.configure(THREADS)
cluster = distribution.Cluster(distribute=True, coordinator=f"127.0.0.1:{PORT}" if N > 1 else None,
                               num_processes=N if N > 1 else None, process_id=ME if N > 1 else None, peer_timeout=120)
plan = distribution.start(cluster, "jax")
runtime.import_keras()
import section4  # noqa: E402
from allreduce import allreduce_seconds  # noqa: E402

Xa, Xv, ya, yv = section4.data(WORK)
est = section4.estimator(Xa.shape[1])
plan.prepare(est)
start = time.perf_counter()
est.fit(Xa, ya)
fit = time.perf_counter() - start
params = int(sum(np.prod(w.shape) for w in est.model_.get_weights()))

allreduce = allreduce_seconds(params)
plan.finish()  # done with the peers: a process that leaves first is no lost peer
steps = 2 * (len(Xa) // N // (256 // N))
if ME == 0:
    print(json.dumps({"processes": N, "threads": THREADS, "fit_seconds": fit, "rows": len(Xa), "epochs": 2, "steps": steps,
                      "params": params, "allreduce_seconds": allreduce}))
