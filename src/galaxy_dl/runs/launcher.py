"""``train-eval --local-processes N``: N training processes on 127.0.0.1, watched as one job; and ``train-eval
--distribute`` in a SLURM batch script of N tasks, which hands itself to ``srun`` (:func:`srun`).

The launcher imports nothing heavy. It starts the processes with a free port for process 0 (the
coordinator), passes process 0's output through, and watches them all: when one fails, or they
are still running after ``--timeout`` seconds, or the launcher itself gets Ctrl-C or SIGTERM, it
stops every process (SIGTERM, then SIGKILL after :data:`GRACE` seconds: TensorFlow and JAX can sit
in native code that never sees SIGTERM), prints one line naming the process and its error, and exits
with that process's code (128 + N for a process killed by signal N).
"""

import collections
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from galaxy_dl.errors import ExitStatus, PeerError, UsageError

SETTLE = 1.0  # seconds the watchdog waits, after a first failure, for the other processes to end on their own
GRACE = 5.0
POLL = 0.1
LAUNCHER_OPTIONS = {"--local-processes", "--timeout"}
# What JAX and its C++ libraries print besides our own lines: kept out of the launcher's output.
NOISE = ("[Gloo]", "*** Check failure", "    @ ", "WARNING: All log messages before absl", "E0000 ", "I0000 ", "W0000 ")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def strip_options(argv: list[str], options=LAUNCHER_OPTIONS) -> list[str]:
    """``argv`` without the launcher's own options (``--opt VALUE`` and ``--opt=VALUE`` forms)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif arg.split("=", 1)[0] not in options:
            out.append(arg)
    return out


class _Process:
    def __init__(self, index: int, command: list[str], forward: bool):
        self.index = index
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=None if forward else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.tail: collections.deque[str] = collections.deque(maxlen=50)
        self.error: str | None = None  # its own one-line error ("train-eval: error: ..."), kept back from the output
        self.reader = threading.Thread(target=self._read, args=(forward,), daemon=True)
        self.reader.start()

    def _read(self, forward: bool) -> None:
        assert self.popen.stderr is not None  # opened with stderr=PIPE
        for line in self.popen.stderr:
            line = line.rstrip("\n")
            if ": error: " in line and not line.startswith(" "):
                self.error = line.split(": error: ", 1)[1]
            elif line.startswith("F") and "Terminating process because" in line:
                self.error = self.error or "JAX stopped it: another process died or hung"
            elif forward and not line.startswith(NOISE):
                print(line, file=sys.stderr, flush=True)
            self.tail.append(line)

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signum)

    def describe(self, n: int) -> str:
        code = self.popen.returncode
        self.reader.join(timeout=2.0)
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"process {self.index} of {n} was killed by {name}" + (f" ({self.error})" if self.error else "")
        last = self.error or next(
            (line for line in reversed(self.tail) if line.strip() and not line.startswith(NOISE)), ""
        )
        return f"process {self.index} of {n} failed (exit {code})" + (f": {last}" if last else "")


def _command(module: str, argv: list[str], processes: int, threads: int) -> list[str]:
    """``python -m module ARGV --distribute --backend jax``; without --threads in ARGV the processes share
    ``threads`` (this machine's budget) between them."""
    base = [sys.executable, "-m", module, *strip_options(argv)]
    if not any(a == "--threads" or a.startswith("--threads=") for a in base):
        base += ["--threads", str(max(1, threads // processes))]
    if "--distribute" not in base:
        base.append("--distribute")
    if "--backend" not in base and not any(a.startswith("--backend=") for a in base):
        base += ["--backend", "jax"]
    return base


def slurm_batch_tasks() -> int:
    """The task count of the SLURM allocation this process runs in outside any step (a batch script, such as a
    Galaxy job sent to Slurm with --ntasks=N); 1 elsewhere, and inside ``srun``."""
    tasks = os.environ.get("SLURM_NTASKS", "1")
    in_batch = "SLURM_JOB_ID" in os.environ and "SLURM_STEP_NUM_TASKS" not in os.environ
    return int(tasks) if in_batch and tasks.isdigit() else 1


def srun(module: str, argv: list[str], tasks: int, threads: int):
    """Become ``srun --ntasks=N --kill-on-bad-exit=1 python -m module ARGV``: one training process per task of the
    allocation (Slurm then forwards scancel and ends the step when a task fails). Does not return."""
    if shutil.which("srun") is None:
        raise UsageError(f"--distribute in a SLURM allocation of {tasks} tasks starts them with srun: not on the PATH")
    print(f"note: --distribute in a SLURM allocation of {tasks} tasks: one process per task (srun)", file=sys.stderr)
    sys.stderr.flush()
    os.execvp("srun", ["srun", f"--ntasks={tasks}", "--kill-on-bad-exit=1", *_command(module, argv, tasks, threads)])


def run(program: str, module: str, argv: list[str], processes: int, timeout: float | None, threads: int = 1) -> int:
    """Run ``python -m module ARGV --distribute ...`` as ``processes`` processes; returns the exit code."""
    port = free_port()
    base = _command(module, argv, processes, threads)
    started = time.monotonic()
    children = []
    try:
        for index in range(processes):
            command = [
                *base,
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                str(processes),
                "--process-id",
                str(index),
            ]
            children.append(_Process(index, command, forward=index == 0))
        while True:
            failed = [c for c in children if c.popen.poll() not in (None, 0)]
            if failed:
                # processes failing for one reason (the same data) end within moments of each other: wait a moment,
                # so that the lowest process id is named whichever exited first
                deadline = time.monotonic() + SETTLE
                while any(c.popen.poll() is None for c in children) and time.monotonic() < deadline:
                    time.sleep(POLL)
                failed = [c for c in children if c.popen.poll() not in (None, 0)]
                # the cause, not its echo: a process that lost its peer exits with PEER after the one that died
                cause = min(failed, key=lambda c: (c.popen.returncode == ExitStatus.PEER, c.index))
                _stop(children)
                return _report(program, cause.describe(processes), _code(cause.popen.returncode))
            if all(c.popen.returncode == 0 for c in children):
                for child in children:
                    child.reader.join(timeout=2.0)
                return 0
            if timeout and time.monotonic() - started > timeout:
                running = [str(c.index) for c in children if c.popen.poll() is None]
                _stop(children)
                raise PeerError(
                    f"process{'es' if len(running) > 1 else ''} {', '.join(running)} of {processes} still "
                    f"running after --timeout {timeout:g} s: stopped"
                )
            time.sleep(POLL)
    finally:
        _stop(children)


def _code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _report(program: str, message: str, code: int) -> int:
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    return code


def _stop(children) -> None:
    """SIGTERM to every running process, SIGKILL to those still running after GRACE seconds."""
    running = [c for c in children if c.popen.poll() is None]
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    for child in running:
        try:
            child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal(signal.SIGKILL)
            child.popen.wait()
