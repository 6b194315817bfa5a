"""train-eval over several devices and processes: real runs in subprocesses (JAX and TensorFlow), and the faults;
and archives that are backend-neutral (trained on JAX, predicted on TensorFlow, and the reverse).

Multi-process runs happen inside a private network namespace when the tests run as root (nothing can listen
beyond its loopback), else on 127.0.0.1. Every wait is bounded: a hang fails the test.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import h5py
import numpy as np
import pandas as pd
import pytest

from galaxy_dl.cli import predict, train_eval
from galaxy_dl.errors import ExitStatus
from galaxy_dl.runs.launcher import free_port
from tests.conftest import TEST_DATA, build_model_zip, invoke

pytestmark = pytest.mark.slow
BIN = os.path.dirname(sys.executable)
IRIS = ["--x", TEST_DATA / "iris_X.tsv", "--y", TEST_DATA / "iris_y.tsv"]
# A full batch (150 rows, 120 after the 20% validation holdout) per step: the gradient is the same sum
# whichever process holds which rows, so runs differ only by float rounding.
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def netns():
    """A command prefix that runs in a private network namespace with only loopback up, shared by every
    command of this module; empty when that cannot be made (not root): then the runs use 127.0.0.1 only."""
    name = f"galaxy-dl-test-{uuid.uuid4().hex[:8]}"
    made = os.geteuid() == 0 and subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if made and subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], capture_output=True).returncode:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
        made = False
    yield ["ip", "netns", "exec", name] if made else []
    if made:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    return build_model_zip(
        tmp_path_factory.mktemp("iris_dist"), "4", ["Normalization()", 'Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
        "--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.05",
        "--epochs", "20", "--batch-size", "120", "--seed", "7",
    )


def command(model, out, *args):
    out.mkdir(exist_ok=True)
    return [os.path.join(BIN, "train-eval"), "--model", str(model), *map(str, IRIS), "--scores", str(out / "scores.tsv"),
            "--weights", str(out / "weights.h5"), "--history-out", str(out / "history.tsv"), *map(str, args)]


def run(cmd, prefix=(), timeout=240):
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout)


def weights(path) -> dict:
    out = {}
    with h5py.File(path) as fh:
        fh.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_training(a, b, tolerance=TOLERANCE):
    wa, wb = weights(a / "weights.h5"), weights(b / "weights.h5")
    assert sorted(wa) == sorted(wb)
    model_weights = [k for k in wa if k.startswith("layers/")]
    assert model_weights
    for key in model_weights:
        np.testing.assert_allclose(wa[key], wb[key], atol=tolerance, rtol=0, err_msg=key)
    for name in ("scores.tsv", "history.tsv"):
        fa, fb = (pd.read_csv(d / name, sep="\t") for d in (a, b))
        assert list(fa.columns) == list(fb.columns)
        numeric = fa.select_dtypes("number").columns
        np.testing.assert_allclose(fa[numeric].to_numpy(), fb[numeric].to_numpy(), atol=tolerance, rtol=0)


@pytest.fixture(scope="module")
def one_process(iris_model, tmp_path_factory):
    """The reference: one process on JAX, no distribution."""
    out = tmp_path_factory.mktemp("one") / "out"
    result = run(command(iris_model, out, "--backend", "jax", "--fitted-model", out / "fitted.zip"))
    assert result.returncode == 0, result.stderr
    return out


def test_two_local_processes_train_as_one(iris_model, one_process, netns, tmp_path):
    out = tmp_path / "out"
    result = run(command(iris_model, out, "--local-processes", "2", "--timeout", "200"), netns)
    assert result.returncode == 0, result.stderr
    assert ("note: training data-parallel: JAX DataParallel over 2 devices (2 processes x 1); "
            "no GPU or TPU here: CPU devices only") in result.stderr
    assert_same_training(out, one_process)


def test_two_devices_in_one_jax_process_streaming_from_the_row_cache(iris_model, one_process, tmp_path):
    out = tmp_path / "out"
    result = run(command(iris_model, out, "--backend", "jax", "--distribute", "--devices", "2", "--stream",
                         "--cache-dir", tmp_path))
    assert result.returncode == 0, result.stderr
    assert "150 rows x 4 columns streamed from a float32 row cache" in result.stderr
    assert "JAX DataParallel over 2 devices (1 process x 2)" in result.stderr
    # Normalization's statistics come from the cache block by block, another rounding: 1e-5 after 20 Adam steps
    assert_same_training(out, one_process, tolerance=1e-5)


def test_tensorflow_mirrored_strategy_over_two_logical_cpus(tmp_path):
    # MirroredStrategy over logical CPUs takes about a second per step here: three epochs
    iris_model = build_model_zip(tmp_path, "4", ["Normalization()", 'Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                                 "--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--epochs", "3",
                                 "--batch-size", "120", "--seed", "7")
    reference = tmp_path / "one"
    result = invoke(train_eval.main, command(iris_model, reference)[1:])  # TensorFlow is loaded in this process
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out"
    result = run(command(iris_model, out, "--distribute", "--devices", "2"))
    assert result.returncode == 0, result.stderr
    assert "TensorFlow MirroredStrategy over 2 devices (/device:CPU:0, /device:CPU:1)" in result.stderr
    assert_same_training(out, reference)


class Process:
    """One train-eval process started by hand (as srun or a user would), its stderr read line by line."""

    def __init__(self, cmd, prefix=(), env=None):
        self.popen = subprocess.Popen([*prefix, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True, env=env)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.popen.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen within {timeout} s; stderr so far: {self.seen[-10:]}")

    def finish(self, timeout=180):
        code = self.popen.wait(timeout=timeout)
        self.reader.join(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def kill(self):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)


def processes(model, tmp_path, n, netns, *extra):
    port = free_port()
    started = []
    for me in range(n):
        cmd = command(model, tmp_path / f"out{me}", "--backend", "jax", "--distribute", "--coordinator", f"127.0.0.1:{port}",
                      "--num-processes", n, "--process-id", me, "--peer-timeout", "60", *extra)
        started.append(Process(cmd, netns))
    return started


def test_processes_started_by_hand_agree_and_only_process_0_writes(iris_model, one_process, netns, tmp_path):
    started = processes(iris_model, tmp_path, 2, netns)
    try:
        digests = [p.wait_for("weights sha256") for p in started]
        assert [p.finish() for p in started] == [0, 0], [p.seen[-5:] for p in started]
    finally:
        for p in started:
            p.kill()
    assert digests[0].split()[-1] == digests[1].split()[-1]
    assert "process 0 of 2" in digests[0] and "process 1 of 2" in digests[1]
    assert_same_training(tmp_path / "out0", one_process)
    assert os.listdir(tmp_path / "out1") == []  # only process 0 writes


def test_srun_tasks_need_no_options(iris_model, one_process, netns, tmp_path):
    """Two tasks as srun starts them on one node (SLURM's variables; JAX finds the coordinator from them)."""
    job = next(j for j in range(4000 + os.getpid() % 1000, 9000) if _port_free(j % 4096 + 61440))
    started = []
    try:
        for task in range(2):
            env = {**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, "SLURM_JOB_ID": str(job), "SLURM_STEP_NODELIST": "127.0.0.1", "SLURM_NTASKS": "2",
                   "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NUM_NODES": "1", "SLURM_PROCID": str(task),
                   "SLURM_LOCALID": str(task)}
            started.append(Process(command(iris_model, tmp_path / f"out{task}", "--distribute", "--peer-timeout", "60"),
                                   netns, env))
        assert [p.finish() for p in started] == [0, 0], [p.seen[-5:] for p in started]
    finally:
        for p in started:
            p.kill()
    assert any("JAX DataParallel over 2 devices (2 processes x 1)" in line for line in started[0].seen)
    assert_same_training(tmp_path / "out0", one_process)
    assert os.listdir(tmp_path / "out1") == []


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_a_peer_killed_mid_training_ends_the_other_with_one_line(iris_model, netns, tmp_path):
    slow = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                           "--loss", "sparse_categorical_crossentropy", "--epochs", "100000", "--batch-size", "8", "--seed", "1")
    started = processes(slow, tmp_path, 2, netns)
    try:
        started[0].wait_for("Epoch 3/")
        started[1].kill()
        begun = time.monotonic()
        code = started[0].finish(timeout=120)
    finally:
        for p in started:
            p.kill()
    assert code == ExitStatus.PEER, started[0].seen[-5:]
    assert time.monotonic() - begun < 60
    errors = [line for line in started[0].seen if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("train-eval: error: lost contact with process 1 of 2: it ended")
    assert os.listdir(tmp_path / "out0") == []


def test_a_peer_that_never_starts_is_given_up_on_in_time(iris_model, netns, tmp_path):
    cmd = command(iris_model, tmp_path / "out", "--backend", "jax", "--distribute", "--coordinator", f"127.0.0.1:{free_port()}",
                  "--num-processes", "2", "--process-id", "0", "--peer-timeout", "3")
    begun = time.monotonic()
    result = run(cmd, netns, timeout=120)
    assert result.returncode == ExitStatus.PEER
    assert result.stderr.strip().splitlines()[-1].startswith("train-eval: error: process 1 of 2 did not reach --coordinator")
    assert time.monotonic() - begun < 60
    assert os.listdir(tmp_path / "out") == []


def test_fewer_training_rows_than_processes_ends_every_process_alike(netns, tmp_path):
    rows = pd.read_csv(TEST_DATA / "iris_X.tsv", sep="\t").head(3)
    rows.to_csv(tmp_path / "x.tsv", sep="\t", index=False)
    pd.DataFrame({"width": [0.2, 0.4, 0.3]}).to_csv(tmp_path / "y.tsv", sep="\t", index=False)
    model = build_model_zip(tmp_path, "4", ["Dense(1)"], "--task", "regression", "--batch-size", "2", "--seed", "1")
    cmd = [os.path.join(BIN, "train-eval"), "--model", model, "--x", tmp_path / "x.tsv", "--y", tmp_path / "y.tsv",
           "--split", "shuffle", "--val-size", "2", "--scores", tmp_path / "s.tsv", "--local-processes", "2", "--timeout", "200"]
    result = run([str(c) for c in cmd], netns)
    assert result.returncode == ExitStatus.DATA, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "train-eval: error: process 0 of 2 failed (exit 3): 1 training rows leave the smallest of the 2 processes' shares "
        "0 rows, fewer than its part (1) of a --batch-size 2 batch: lower --batch-size or use fewer processes")
    assert not (tmp_path / "s.tsv").exists()


def test_a_batch_that_does_not_split_over_the_devices(binary_data, tmp_path):
    model = build_model_zip(tmp_path, "6", ['Dense(1, activation="sigmoid")'], "--batch-size", "3", "--seed", "1")
    result = run([os.path.join(BIN, "train-eval"), "--model", model, "--x", str(binary_data["x"]), "--y", str(binary_data["y"]),
                  "--scores", str(tmp_path / "s.tsv"), "--backend", "jax", "--distribute", "--devices", "2"])
    assert result.returncode == ExitStatus.USAGE
    assert result.stderr.strip().splitlines()[-1] == (
        "train-eval: error: --batch-size 3 must be a multiple of the 2 devices it is split over (1 process x 2); "
        "it is the global batch")
    assert not (tmp_path / "s.tsv").exists()


def test_process_id_out_of_range(binary_data, binary_model, tmp_path):
    result = invoke(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
                                      "--scores", tmp_path / "s.tsv", "--distribute",
                                      "--coordinator", "127.0.0.1:5000", "--num-processes", "2", "--process-id", "5"])
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.strip() == ("train-eval: error: --process-id 5 is out of range for --num-processes 2 (0 to 1)")


def test_distribute_without_jax_says_how_to_install_it(binary_data, binary_model, tmp_path):
    script = ("import sys; sys.modules['jax'] = None; from galaxy_dl.cli.train_eval import main; "
              "main(prog_name='train-eval')")
    args = ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", tmp_path / "s.tsv",
            "--distribute", "--backend", "jax"]
    result = run([sys.executable, "-c", script, *map(str, args)], timeout=60)
    assert result.returncode == ExitStatus.USAGE
    assert result.stderr.strip() == ("train-eval: error: --backend jax needs jax, which is not installed: "
                                     "pip install 'galaxy-dl[jax]'")
    assert "tensorflow" not in result.stderr


def probabilities_both_ways(fitted, x, tmp_path):
    """predict_proba on TensorFlow (this process) and on JAX (a subprocess)."""
    on_tf, on_jax = tmp_path / "tf.tsv", tmp_path / "jax.tsv"
    result = invoke(predict.main, ["--model", fitted, "--x", x, "--method", "predict_proba", "-o", on_tf])
    assert result.exit_code == 0, result.stderr
    result = run([os.path.join(BIN, "predict"), "--model", str(fitted), "--x", str(x), "--method", "predict_proba",
                  "-o", str(on_jax), "--backend", "jax"])
    assert result.returncode == 0, result.stderr
    return pd.read_csv(on_tf, sep="\t"), pd.read_csv(on_jax, sep="\t")


def test_trained_on_jax_predicted_on_tensorflow(one_process, tmp_path):
    on_tf, on_jax = probabilities_both_ways(one_process / "fitted.zip", TEST_DATA / "iris_X.tsv", tmp_path)
    assert list(on_tf.columns) == ["setosa", "versicolor", "virginica"] and len(on_tf) == 150
    assert (on_tf - on_jax).abs().to_numpy().max() < 1e-5
    assert on_tf.std().min() > 0.1  # real predictions, not a constant


def test_trained_on_tensorflow_predicted_on_jax(binary_data, binary_fitted, tmp_path):
    on_tf, on_jax = probabilities_both_ways(binary_fitted["fitted"], binary_data["x"], tmp_path)
    assert (on_tf - on_jax).abs().to_numpy().max() < 1e-5
