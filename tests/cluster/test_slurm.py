"""train-eval under a real Slurm (make slurm-test starts a one-node cluster and sets SLURM_CONF): srun tasks train
as one process, so does a batch script of two tasks without srun (as Galaxy runs a tool), the README's sbatch script
runs as written, scancel, a failing task and a frozen one end every task with a line.

Every wait is bounded: a hang fails the test."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from galaxy_dl.errors import ExitStatus
from tests.cli.test_train_eval_distributed import (  # noqa: F401
    Process,
    assert_same_training,
    command,
    iris_model,
    one_process,
)
from tests.conftest import ROOT, TEST_DATA, build_model_zip

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(not os.environ.get("SLURM_CONF") or not shutil.which("srun"), reason="make slurm-test"),
]


# srun and sbatch pass the environment on: without KERAS_BACKEND (the test suite's), train-eval picks JAX itself
ENV = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}


def run(cmd, cwd=None, timeout=300):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV)


def squeue(job: str) -> str:
    return run(["squeue", "-h", "-j", job, "-o", "%T"], timeout=30).stdout.strip()


def wait_until(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_srun_tasks_train_as_one_process(iris_model, one_process, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = run(["srun", "-n", "2", "--kill-on-bad-exit=1",
                  *command(iris_model, out, "--distribute", "--peer-timeout", "60")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "JAX DataParallel over 2 devices (2 processes x 1)" in result.stderr
    assert len(set(re.findall(r"weights sha256 (\w+)", result.stderr))) == 1  # both tasks hold the same weights
    assert_same_training(out, one_process)


def test_a_batch_script_of_two_tasks_without_srun_trains_in_two_processes(iris_model, one_process, tmp_path):  # noqa: F811
    """As a Galaxy job sent to Slurm with --ntasks=2 runs the tool's command: in the batch script, no srun."""
    out = tmp_path / "out"
    train = " ".join(f"'{a}'" for a in command(iris_model, out, "--distribute", "--peer-timeout", "60"))
    (tmp_path / "job.sh").write_text(f"#!/bin/bash\n{train}\n")
    result = run(["sbatch", "--wait", "--ntasks=2", "--output", "job.log", "job.sh"], cwd=tmp_path, timeout=600)
    log = (tmp_path / "job.log").read_text()
    assert result.returncode == 0, log[-3000:]
    assert "a SLURM allocation of 2 tasks: one process per task (srun)" in log
    assert "JAX DataParallel over 2 devices (2 processes x 1)" in log
    assert len(set(re.findall(r"weights sha256 (\w+)", log))) == 1
    assert_same_training(out, one_process)


def readme_sbatch_script() -> str:
    text = (ROOT / "README.md").read_text()
    scripts = re.findall(r"```sh\n(#!/bin/bash\n#SBATCH.*?)```", text, re.S)
    assert len(scripts) == 1
    return scripts[0]


def test_the_readme_sbatch_script_runs_as_written(tmp_path):
    for name in ("X_train.tsv", "y_train.tsv"):
        shutil.copy(TEST_DATA / name, tmp_path / name)
    shutil.copy(TEST_DATA / "tutorial_model.zip", tmp_path / "model.zip")
    (tmp_path / "job.sh").write_text(readme_sbatch_script())
    result = run(["sbatch", "--wait", "--output", "job.log", "job.sh"], cwd=tmp_path, timeout=600)
    log = (tmp_path / "job.log").read_text() if (tmp_path / "job.log").exists() else ""
    assert result.returncode == 0, result.stderr + log[-3000:]
    assert "2 processes x 1" in log
    for name in ("scores.tsv", "fitted.zip", "weights.h5"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_scancel_mid_training_ends_every_task_and_writes_nothing(tmp_path):
    slow = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                           "--loss", "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8",
                           "--seed", "1", "--verbose", "2")
    out = tmp_path / "out"
    train = " ".join(f"'{a}'" for a in command(slow, out, "--distribute", "--peer-timeout", "60"))
    (tmp_path / "job.sh").write_text(f"#!/bin/bash\n#SBATCH --ntasks=2\nsrun --kill-on-bad-exit=1 {train}\n")
    submitted = run(["sbatch", "--parsable", "--output", "job.log", "job.sh"], cwd=tmp_path, timeout=30)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    log = tmp_path / "job.log"
    try:
        wait_until(lambda: log.exists() and "Epoch 3/" in log.read_text(), 180, "training")
        run(["scancel", job], timeout=30)
        cancelled = time.monotonic()
        wait_until(lambda: not squeue(job), 60, "the job's end")
        wait_until(lambda: not run(["pgrep", "-f", str(out)], timeout=10).stdout.strip(), 30, "every task's end")
        ended = time.monotonic() - cancelled
    finally:
        run(["scancel", job], timeout=30)
    assert ended < 20
    assert os.listdir(out) == []
    text = log.read_text()
    assert "CANCELLED" in text  # Slurm's own line
    assert "Traceback" not in text


def test_a_task_that_fails_ends_the_step_with_one_line(tmp_path):
    slow = build_model_zip(tmp_path, "4", ['Dense(3, activation="softmax")'], "--loss",
                           "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8", "--seed", "1")
    out = tmp_path / "out"
    good = " ".join(f"'{a}'" for a in command(slow, out, "--distribute", "--peer-timeout", "60"))
    bad = " ".join(f"'{a}'" for a in command(tmp_path / "missing.zip", out, "--distribute"))
    (tmp_path / "task.sh").write_text(f'#!/bin/bash\nif [ "$SLURM_PROCID" = 1 ]; then exec {bad}; fi\nexec {good}\n')
    begun = time.monotonic()
    result = run(["srun", "-n", "2", "--kill-on-bad-exit=1", "bash", tmp_path / "task.sh"], timeout=240)
    assert result.returncode != 0
    assert time.monotonic() - begun < 120
    assert f"train-eval: error: --model {tmp_path / 'missing.zip'}: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or os.listdir(out) == []


def test_a_frozen_task_ends_the_step_with_one_line_naming_it(tmp_path):
    """Task 1 stopped (SIGSTOP) mid-training: task 0's watchdog gives it up after --peer-timeout, exits 7 with one
    line naming it, and srun's --kill-on-bad-exit ends the frozen one; no JAX abort."""
    slow = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                           "--loss", "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8",
                           "--seed", "1")
    out = tmp_path / "out"
    step = Process(["srun", "-n", "2", "--kill-on-bad-exit=1", *command(slow, out, "--distribute", "--peer-timeout",
                                                                        "10")], env=ENV)
    try:
        step.wait_for("Epoch 3/")
        task1 = [pid for pid in run(["pgrep", "-f", str(out)], timeout=10).stdout.split()
                 if "SLURM_PROCID=1" in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")]
        assert len(task1) == 1
        os.kill(int(task1[0]), signal.SIGSTOP)
        stopped = time.monotonic()
        code = step.finish(timeout=120)
        ended = time.monotonic() - stopped
    finally:
        step.kill()
    assert code == ExitStatus.PEER, step.seen[-5:]
    assert ended < 10 + 15
    errors = [line for line in step.seen if line.startswith("train-eval: error:")]
    assert errors[0] == ("train-eval: error: lost contact with process 1 of 2: nothing heard from it for 10 s "
                         "(--peer-timeout): it hung, or the network between the processes failed")
    # Slurm ends the frozen task with SIGCONT then SIGTERM: resumed, it says that it lost process 0, or that it was
    # interrupted, whichever comes first
    assert all(line.startswith(("train-eval: error: lost contact with process 0 of 2", "train-eval: error: interrupted"))
               for line in errors[1:]), errors
    assert len(errors) <= 2
    assert not any("Check failed" in line or "stack trace" in line.lower() for line in step.seen)
    assert os.listdir(out) == []
