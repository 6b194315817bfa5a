"""The tutorial as a user types it, in real subprocesses: exit codes, files, determinism, start-up."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent
PROGRAMS = ("build-arch", "build-model", "train-eval", "predict", "plot-cm", "plot-reg")


def run(args, cwd, **kw):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


def tutorial(workdir, golub, seed="42"):
    for name in ("X_train.tsv", "y_train.tsv", "X_test.tsv", "y_test.tsv"):
        shutil.copy(golub / name, workdir / name)
    steps = [
        ["build-arch", "--input-shape", "7129", "--layer", 'Dense(16, activation="elu")', "--layer", 'Dense(16, activation="elu")',
         "--layer", 'Dense(1, activation="sigmoid")', "-o", "arch.json"],
        ["build-model", "--arch", "arch.json", "--task", "classification", "--loss", "binary_crossentropy", "--optimizer", "rmsprop",
         "--epochs", "10", "--batch-size", "4", "--seed", seed, "-o", "model.zip"],
        ["train-eval", "--model", "model.zip", "--x", "X_train.tsv", "--y", "y_train.tsv",
         "--scores", "scores.tsv", "--fitted-model", "fitted.zip", "--weights", "weights.h5"],
        ["predict", "--model", "fitted.zip", "--weights", "weights.h5", "--x", "X_test.tsv", "-o", "predictions.tsv"],
        ["plot-cm", "--y-true", "y_test.tsv", "--y-pred", "predictions.tsv", "-o", "cm.png"],
    ]
    logs = []
    for step in steps:
        result = run(step, workdir)
        assert result.returncode == 0, f"{step[0]} failed: {result.stderr}"
        logs.append(result)
    return logs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, golub):
    first, second = tmp_path_factory.mktemp("run1"), tmp_path_factory.mktemp("run2")
    return first, second, tutorial(first, golub), tutorial(second, golub)


OUTPUTS = ("arch.json", "model.zip", "scores.tsv", "fitted.zip", "weights.h5", "predictions.tsv", "cm.png")


def test_tutorial_writes_every_file(two_runs):
    first, _, logs, _ = two_runs
    for name in OUTPUTS:
        assert (first / name).stat().st_size > 0, name
    scores = pd.read_csv(first / "scores.tsv", sep="\t")
    assert scores["set"].tolist() == ["train", "validation"] and {"loss", "accuracy"} <= set(scores.columns)
    predictions = pd.read_csv(first / "predictions.tsv", sep="\t")
    assert list(predictions.columns) == ["Predicted"] and len(predictions) == 34
    assert logs[-1].stderr.startswith("accuracy ")


def test_same_seed_gives_byte_identical_outputs(two_runs):
    first, second, _, _ = two_runs
    for name in OUTPUTS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_training_log_is_one_line_per_epoch_off_a_terminal(two_runs):
    train_log = two_runs[2][2].stderr
    assert train_log.count("Epoch ") == 10 and "\r" not in train_log and "oneDNN" not in train_log


def test_different_seed_gives_different_weights(two_runs, tmp_path, golub):
    first = two_runs[0]
    run(["build-model", "--arch", first / "arch.json", "--epochs", "10", "--batch-size", "4", "--seed", "7", "-o", "m7.zip"], tmp_path)
    result = run(["train-eval", "--model", "m7.zip", "--x", golub / "X_train.tsv", "--y", golub / "y_train.tsv",
                  "--scores", "s.tsv", "--weights", "w.h5"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w.h5").read_bytes() != (first / "weights.h5").read_bytes()


def test_shell_pipe_composes(two_runs, golub, tmp_path):
    first = two_runs[0]
    predict = subprocess.Popen([BIN / "predict", "--model", first / "fitted.zip", "--x", "-", "-o", "-"],
                               stdin=open(golub / "X_test.tsv"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    plot = run([BIN / "plot-cm", "--y-true", golub / "y_test.tsv", "--y-pred", "-", "-o", "cm.svg"], tmp_path, stdin=predict.stdout)
    assert predict.wait(timeout=300) == 0 and plot.returncode == 0, plot.stderr
    assert (tmp_path / "cm.svg").exists()


def test_error_is_one_line_without_traceback_and_debug_shows_it(tmp_path):
    result = run([BIN / "train-eval", "--model", "missing.zip", "--x", "x.tsv", "--y", "y.tsv", "--scores", "s.tsv"], tmp_path)
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "--x x.tsv: no such file" in result.stderr
    result = run([BIN / "train-eval", "--debug", "--model", "missing.zip", "--x", "x.tsv", "--y", "y.tsv", "--scores", "s.tsv"], tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


CHECK_NO_TF = """
import sys, runpy
sys.argv = [{name!r}] + {args!r}
try:
    from galaxy_dl.cli.{module} import main
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules)
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("args", [["--help"], ["--no-such-option"]])
def test_help_and_usage_errors_do_not_import_tensorflow(program, args, tmp_path):
    module = program.replace("-", "_")
    result = run([sys.executable, "-c", CHECK_NO_TF.format(name=program, args=args, module=module)], tmp_path)
    assert "HEAVY:\n" in result.stderr or result.stderr.rstrip().endswith("HEAVY:"), result.stderr
    if args == ["--help"]:
        assert "Usage:" in result.stdout


def test_plot_reg_never_imports_keras(golub, tmp_path):
    args = ["--y-true", str(golub / "regression_y.tabular"), "--y-pred", str(golub / "regression_predictions.tsv"),
            "-o", str(tmp_path / "r.png")]
    result = run([sys.executable, "-c", CHECK_NO_TF.format(name="plot-reg", args=args, module="plot_reg")], tmp_path)
    assert result.stderr.rstrip().endswith("HEAVY:"), result.stderr
    assert (tmp_path / "r.png").exists()


def test_plot_cm_never_imports_keras(two_runs, golub, tmp_path):
    first = two_runs[0]
    args = ["--y-true", str(golub / "y_test.tsv"), "--y-pred", str(first / "predictions.tsv"), "-o", str(tmp_path / "cm.png")]
    result = run([sys.executable, "-c", CHECK_NO_TF.format(name="plot-cm", args=args, module="plot_cm")], tmp_path)
    assert "HEAVY:" in result.stderr and result.stderr.rstrip().endswith("HEAVY:"), result.stderr
    assert (tmp_path / "cm.png").exists()


def test_threads_option_reaches_tensorflow_and_blas(tmp_path, golub):
    script = """
import os, sys
sys.argv = ["build-arch", "--threads", "1", "--input-shape", "3", "--layer", "Dense(1)", "-o", "a.json", "--quiet"]
from galaxy_dl.cli.build_arch import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
import tensorflow as tf
from threadpoolctl import threadpool_info
print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads(),
      os.environ["OMP_NUM_THREADS"], os.environ["OPENBLAS_NUM_THREADS"])
"""
    result = run([sys.executable, "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1", "1", "1"]


def test_galaxy_slots_is_the_default_thread_count(tmp_path):
    script = """
import os, sys
os.environ["GALAXY_SLOTS"] = "2"
from galaxy_dl.cli.common import setup_runtime
setup_runtime(None)
print(os.environ["TF_NUM_INTRAOP_THREADS"])
"""
    result = run([sys.executable, "-c", script], tmp_path)
    assert result.stdout.strip() == "2", result.stderr


@pytest.fixture(scope="module")
def long_training(tmp_path_factory):
    """A 20,000-row table and a 500-epoch model: training that is still running when the signal comes."""
    import numpy as np

    d = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(20000, 20))).to_csv(d / "x.tsv", sep="\t", index=False)
    pd.DataFrame({"y": rng.integers(0, 2, 20000)}).to_csv(d / "y.tsv", sep="\t", index=False)
    assert run(["build-arch", "--input-shape", "20", "--layer", "Dense(64)", "--layer", 'Dense(1, activation="sigmoid")',
                "-o", "a.json", "--quiet"], d).returncode == 0
    assert run(["build-model", "--arch", "a.json", "--epochs", "500", "--batch-size", "8", "-o", "m.zip"], d).returncode == 0
    return d


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_interrupted_training_exits_130_and_writes_nothing(long_training, tmp_path, signum):
    import signal
    import time

    for name in ("a.json", "m.zip", "x.tsv", "y.tsv"):
        shutil.copy(long_training / name, tmp_path / name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(["train-eval", "--model", "m.zip", "--x", "x.tsv", "--y", "y.tsv", "--scores", "s.tsv",
                             "--fitted-model", "f.zip", "--weights", "w.h5"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a shell's background jobs ignore SIGINT
    deadline = time.time() + 120
    line = ""
    while "Epoch 1/" not in line and time.time() < deadline:
        line = proc.stderr.readline()
    proc.send_signal(getattr(signal, signum))
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "train-eval: error: interrupted" in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "m.zip", "x.tsv", "y.tsv"]  # no temporary left either
