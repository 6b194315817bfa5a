"""Hostile inputs: helpers to run a program as a user would and to check how it refused.

Every refusal is one line ``PROGRAM: error: ...`` with the documented exit code, and leaves the
output directory as it was. Where memory is the point, the program runs as a child process and its
own peak RSS (``wait4``'s ru_maxrss, as a job limit counts it) is compared with what start-up costs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DATA, invoke

BIN = Path(sys.executable).parent
# Importing TensorFlow is about 0.9 GB of the peak; the bound for a refusal is about 1.2 GB.
START_UP_CEILING_KB = 1_200_000
SECRET = b"galaxy-dl-hostile-SECRET-" * 64


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside the inputs, whose bytes must never reach an output."""
    path = tmp_path / "outside" / "secret.bin"
    path.parent.mkdir()
    path.write_bytes(SECRET * 32)
    return path


def refused(result, program: str, code: int, *words: str) -> str:
    """Assert a one-line refusal with ``code`` that mentions ``words``; returns the line."""
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("warning:", "note:"))]
    assert getattr(result, "exit_code", getattr(result, "returncode", None)) == code, stderr
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert SECRET[:20].decode() not in stderr
    return lines[0]


def run(main, args):
    """In-process, as a shell would run it."""
    return invoke(main, args)


class Measured:
    def __init__(self, returncode: int, stdout: str, stderr: str, maxrss_kb: int):
        self.returncode, self.stdout, self.stderr, self.maxrss_kb = returncode, stdout, stderr, maxrss_kb


# The program is started by a small Python process, not by the test's: Linux carries a process's peak RSS
# across fork and exec, so a child of a pytest worker that holds TensorFlow would report the worker's peak.
_MEASURE = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(program: str, *args, timeout: float = 120) -> Measured:
    """Run an installed program as a shell would; its own peak RSS comes from wait4 in its parent."""
    import signal
    import tempfile

    # as a user's shell starts it: not with a backend or limit that an in-process test of this worker chose
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "GALAXY_DL_MAX_PARAMS")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with tempfile.TemporaryDirectory() as tmp:
        rss = os.path.join(tmp, "maxrss")
        proc = subprocess.Popen([sys.executable, "-c", _MEASURE, rss, str(BIN / program), *map(str, args)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"{program} still running after {timeout} s") from None
        with open(rss) as fh:
            maxrss = int(fh.read())
    return Measured(proc.returncode, stdout.decode(), _strip_native(stderr.decode()), maxrss)


def _strip_native(stderr: str) -> str:
    """TensorFlow's C++ start-up lines are not ours to count."""
    return "\n".join(line for line in stderr.splitlines()
                     if not line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages", "To enable")))


@pytest.fixture
def data_copy(tmp_path):
    """Copy a test-data file into the test's directory (to modify it)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copyfile(TEST_DATA / name, target)
        return target

    return copy


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
