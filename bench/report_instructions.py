"""What --report costs a real train-eval run, counted in instructions rather than seconds: train-eval's own
command under valgrind's callgrind, counting only while ``galaxy_dl.report.render`` runs (first use in the
process included). The count repeats to within 0.1% from run to run, where wall time on a shared machine moves
by a quarter, so two versions of the report's code can be told apart by a few percent in one run each.

    python bench/report_instructions.py ARGS...   (train-eval's arguments)  -> JSON: instructions, callgrind file

Instructions are not seconds: compression loops run several instructions a cycle, the interpreter fewer. Use it
to compare versions of the same work; time is measured by ``report_render.py``. Needs valgrind (Debian's
``valgrind``); about 2 minutes for the tutorial.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

COUNTING = "GALAXY_DL_BENCH_COUNTING"


def counted(argv: list[str]) -> None:
    """Inside valgrind: run train-eval with instrumentation switched on around the report's rendering only."""
    from report_render import train_eval_with

    def switch(state: str) -> None:
        subprocess.run(["callgrind_control", "--instr=" + state, str(os.getpid())], check=True, capture_output=True)

    def counting(render):
        def run(*args, **kwargs):
            switch("on")
            try:
                return render(*args, **kwargs)
            finally:
                switch("off")
        return run

    train_eval_with(argv, render=counting)


def main(argv: list[str]) -> None:
    if not shutil.which("valgrind"):
        raise SystemExit("report_instructions: needs valgrind (apt-get install valgrind)")
    out = os.path.join(tempfile.mkdtemp(prefix="report-instructions-"), "callgrind.out")
    env = {**os.environ, COUNTING: "1", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                          sys.executable, __file__, *argv], env=env, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode or not found:
        raise SystemExit(f"report_instructions: valgrind run failed ({run.returncode}): {run.stderr[-1500:]}")
    print(json.dumps({"instructions": int(found.group(1)), "callgrind_out": out}))


if __name__ == "__main__":
    if os.environ.get(COUNTING):
        counted(sys.argv[1:])
    else:
        main(sys.argv[1:])
