"""A stand-in for train-eval's processes in the launcher's tests: it behaves as FAKE_WORKER says, by process id."""

import os
import signal
import sys
import time


def main() -> None:
    me = int(sys.argv[sys.argv.index("--process-id") + 1])
    mode = os.environ.get("FAKE_WORKER", "ok")
    print(f"process {me} started", file=sys.stderr, flush=True)
    if mode == "fail" and me == 1:
        time.sleep(0.3)
        print("train-eval: error: y.tsv: has 3 rows, but x.tsv has 4", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "killed" and me == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a process stuck in native code
        time.sleep(600)
    if mode in ("fail", "killed"):
        time.sleep(600)  # the healthy peer would wait for the lost one
    print("done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
