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


def train_eval_with(argv: list[str], **wrappers) -> None:
    """train-eval's own command in this process, each ``galaxy_dl.report`` function named in ``wrappers``
    replaced by ``wrapper(function)``; a non-zero exit is raised."""
    for name, wrap in wrappers.items():
        setattr(report, name, wrap(getattr(report, name)))
    try:
        train_eval.main(argv, prog_name="train-eval")
    except SystemExit as exit_:
        if exit_.code:
            raise


def main(argv: list[str]) -> None:
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

    start = time.perf_counter()
    train_eval_with(argv, render=timed, write=timed)
    print(json.dumps({"report_s": spent["wall"], "report_cpu_s": spent["cpu"], "run_s": time.perf_counter() - start}))


if __name__ == "__main__":
    main(sys.argv[1:])
