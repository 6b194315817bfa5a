"""What --report adds to a real train-eval run, timed inside that run: train-eval's own command (as its console
script calls it) with ``galaxy_dl.report.render`` and ``report.write`` timed, imports made on the way included.
Whole processes differ by more than a second from run to run on a shared machine; this does not.

    python bench/report_render.py ARGS...   (train-eval's arguments)  -> JSON: report seconds, run seconds
"""

import json
import sys
import time

from galaxy_dl import report
from galaxy_dl.cli import train_eval

spent = {"wall": 0.0, "cpu": 0.0}


def timed(fn):
    def run(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent["wall"] += time.perf_counter() - wall
            spent["cpu"] += time.thread_time() - cpu
    return run


report.render, report.write = timed(report.render), timed(report.write)
start = time.perf_counter()
try:
    train_eval.main(sys.argv[1:], prog_name="train-eval")
except SystemExit as exit_:
    if exit_.code:
        raise
print(json.dumps({"report_s": spent["wall"], "report_cpu_s": spent["cpu"], "run_s": time.perf_counter() - start}))
