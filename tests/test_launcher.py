"""The local launcher's watchdog, with stand-in processes (tests/fake_worker.py): no TensorFlow or JAX."""

import time

import pytest

from galaxy_dl.errors import PeerError
from galaxy_dl.runs import launcher

MODULE = "tests.fake_worker"


def run(monkeypatch, mode, processes=2, timeout=60.0):
    monkeypatch.setenv("FAKE_WORKER", mode)
    monkeypatch.setattr(launcher, "GRACE", 1.0)
    started = time.monotonic()
    code = launcher.run("train-eval", MODULE, ["--model", "m.zip"], processes, timeout)
    return code, time.monotonic() - started


def test_all_processes_succeed(monkeypatch, capfd):
    code, _ = run(monkeypatch, "ok", processes=3)
    err = capfd.readouterr().err
    assert code == 0
    assert "process 0 started" in err and "process 1 started" not in err  # only process 0's output is shown


def test_a_failing_process_stops_the_others_with_its_error_and_code(monkeypatch, capfd):
    code, seconds = run(monkeypatch, "fail")
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1] == "train-eval: error: process 1 of 2 failed (exit 3): y.tsv: has 3 rows, but x.tsv has 4"
    assert seconds < 30  # process 0 would have slept 600 s


def test_a_killed_process_is_named_with_its_signal(monkeypatch, capfd):
    code, seconds = run(monkeypatch, "killed")
    assert code == 128 + 9
    assert capfd.readouterr().err.strip().splitlines()[-1] == "train-eval: error: process 1 of 2 was killed by SIGKILL"
    assert seconds < 30


def test_processes_that_ignore_sigterm_are_killed_after_the_timeout(monkeypatch):
    with pytest.raises(PeerError, match=r"processes 0, 1 of 2 still running after --timeout 2 s: stopped"):
        run(monkeypatch, "hang", timeout=2.0)


def test_the_launchers_own_options_are_not_passed_on():
    argv = ["--model", "m.zip", "--local-processes", "2", "--timeout=30", "--x", "x.tsv"]
    assert launcher.strip_options(argv) == ["--model", "m.zip", "--x", "x.tsv"]
