"""``train-eval --local-processes N``: N training processes on 127.0.0.1, watched as one job.

The launcher imports nothing heavy. It starts the processes with a free port for process 0 (the
coordinator), passes process 0's output through, and watches them all: when one fails, or they
are still running after ``--timeout`` seconds, or the launcher itself gets Ctrl-C or SIGTERM, it
stops every process (SIGTERM, then SIGKILL after :data:`GRACE` seconds: TensorFlow and JAX can sit
in native code that never sees SIGTERM), prints one line naming the process and its error, and exits
with that process's code (128 + N for a process killed by signal N).
"""

import collections
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time

from galaxy_dl.errors import ExitStatus, PeerError

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


def run(program: str, module: str, argv: list[str], processes: int, timeout: float | None, threads: int = 1) -> int:
    """Run ``python -m module ARGV --distribute ...`` as ``processes`` processes; returns the exit code.
    Without --threads in ARGV the processes share ``threads`` (this machine's budget) between them."""
    port = free_port()
    base = [sys.executable, "-m", module, *strip_options(argv)]
    if not any(a == "--threads" or a.startswith("--threads=") for a in base):
        base += ["--threads", str(max(1, threads // processes))]
    if "--distribute" not in base:
        base.append("--distribute")
    if "--backend" not in base and not any(a.startswith("--backend=") for a in base):
        base += ["--backend", "jax"]
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
