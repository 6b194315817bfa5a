"""train-eval and predict on data bigger than memory, Matrix Market and AnnData input, and their bad inputs."""

import os
import time

import numpy as np
import pandas as pd
import pytest

from galaxy_dl import runtime
from galaxy_dl.cli import predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA, build_model_zip, invoke


@pytest.fixture(scope="module")
def cells_model(tmp_path_factory):
    return build_model_zip(
        tmp_path_factory.mktemp("cells"), "40", ["Normalization()", 'Dense(16, activation="relu")', 'Dense(3, activation="softmax")'],
        "--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.01",
        "--epochs", "10", "--batch-size", "16", "--seed", "3",
    )


def train(model, tmp_path, *args):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    result = invoke(train_eval.main, ["--model", model, "--scores", out / "scores.tsv", "--fitted-model", out / "fitted.zip",
                                      "--cache-dir", tmp_path, *args])
    return result, out


def test_h5ad_cells_train_and_predict_with_genes_reordered(cells_model, tmp_path):
    result, out = train(cells_model, tmp_path, "--x", TEST_DATA / "cells.h5ad", "--y-obs", "cell_type", "--stream")
    assert result.exit_code == 0, result.stderr
    assert "150 rows x 40 columns streamed from a sparse" in result.stderr
    assert pd.read_csv(out / "scores.tsv", sep="\t")["accuracy"].min() > 0.9
    # cells_test.h5ad lists the genes in reverse order, plus one the model never saw
    result = invoke(predict.main, ["--model", out / "fitted.zip", "--x", TEST_DATA / "cells_test.h5ad", "-o", tmp_path / "p.tsv"])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(tmp_path / "p.tsv", sep="\t")["Predicted"]
    truth = pd.read_csv(TEST_DATA / "cells_test_y.tsv", sep="\t")["cell_type"]
    assert set(predicted) <= {"B cell", "T cell", "monocyte"} and (predicted == truth).mean() > 0.9
    assert sorted(os.listdir(tmp_path)) == ["out", "p.tsv"]  # the cache directory holds no cache file


def test_a_missing_gene_is_named_at_prediction(cells_model, tmp_path):
    result, out = train(cells_model, tmp_path, "--x", TEST_DATA / "cells.h5ad", "--y-obs", "cell_type", "--x-layer", "log1p")
    assert result.exit_code == 0, result.stderr
    result = invoke(predict.main, ["--model", out / "fitted.zip", "--x", TEST_DATA / "cells.h5ad", "--x-names-except", "gene07",
                                   "-o", tmp_path / "p.tsv"])
    assert result.exit_code == ExitStatus.DATA
    assert "has 39 feature columns, but the model was trained on 40: missing 'gene07'" in result.stderr
    assert not (tmp_path / "p.tsv").exists()


def test_sparse_and_dense_inputs_give_identical_predictions(cells_model, tmp_path):
    result, out = train(cells_model, tmp_path, "--x", TEST_DATA / "cells_X.mtx", "--y", TEST_DATA / "cells_y.tsv")
    assert result.exit_code == 0, result.stderr
    dense = tmp_path / "cells_X.tsv"
    from scipy.io import mmread

    pd.DataFrame(mmread(TEST_DATA / "cells_X.mtx").toarray()).to_csv(dense, sep="\t", index=False, header=False)
    outputs = []
    for x, extra in ((TEST_DATA / "cells_X.mtx", []), (dense, ["--no-header"]), (TEST_DATA / "cells_dense.h5ad", [])):
        target = tmp_path / f"p{len(outputs)}.tsv"
        result = invoke(predict.main, ["--model", out / "fitted.zip", "--x", x, "--method", "predict_proba", "-o", target, *extra])
        assert result.exit_code == 0, result.stderr
        outputs.append(pd.read_csv(target, sep="\t").to_numpy())
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])


def test_the_memory_budget_switches_to_streaming(binary_data, binary_model, tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXY_MEMORY_MB", "100000")
    result, _ = train(binary_model, tmp_path, "--x", binary_data["x"], "--y", binary_data["y"])
    assert result.exit_code == 0 and "streamed" not in result.stderr
    monkeypatch.setenv("GALAXY_MEMORY_MB", "0")
    result, _ = train(binary_model, tmp_path, "--x", binary_data["x"], "--y", binary_data["y"], "--memory-budget", "1")
    assert result.exit_code == 0 and "streamed" not in result.stderr  # 14 kB of text fits 1 MB
    result, _ = train(binary_model, tmp_path, "--x", binary_data["x"], "--y", binary_data["y"], "--stream")
    assert result.exit_code == 0 and "80 rows x 6 columns streamed from a float32 row cache" in result.stderr


def broken_h5ad(tmp_path):
    import shutil

    import h5py

    path = tmp_path / "noX.h5ad"
    shutil.copy(TEST_DATA / "cells.h5ad", path)
    with h5py.File(path, "a") as f:
        del f["X"]
    return path


BAD = {
    "ragged row": (lambda d: ("X.tsv", "a\tb\n" + "1\t2\n" * 30 + "1\n" + "1\t2\n" * 5), ["--y", "{Y}"],
                   "line 32 has 1 columns, expected 2 (ragged rows?)"),
    "non-numeric cell": (lambda d: ("X.tsv", "a\tb\n" + "1\t2\n" * 30 + "1\tNA2\n"), ["--y", "{Y}"],
                         "line 32, column 2: 'NA2' is not a number"),
    "short Matrix Market": (lambda d: ("X.mtx", "%%MatrixMarket matrix coordinate real general\n36 2 40\n1 1 1\n"), ["--y", "{Y}"],
                            "its header promises 40 entries, but the file can hold at most 10"),
    "h5ad without X": (lambda d: (broken_h5ad(d), None), ["--y-obs", "cell_type"], "has no X matrix"),
    "unknown obs column": (lambda d: (TEST_DATA / "cells.h5ad", None), ["--y-obs", "celltype"],
                           "no obs column named 'celltype' (did you mean cell_type?) (obs columns: cell_type, batch)"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_streamed_input_is_one_line_and_leaves_nothing(case, binary_model, tmp_path):
    make, args, message = BAD[case]
    name, text = make(tmp_path)
    x = tmp_path / name if text is not None else name
    if text is not None:
        x.write_text(text)
    (tmp_path / "Y").write_text("label\n" + "0\n1\n" * 18)
    cache = tmp_path / "cache"
    cache.mkdir()
    result = invoke(train_eval.main, ["--model", binary_model, "--x", x, *[a.format(Y=tmp_path / "Y") for a in args],
                                      "--scores", tmp_path / "s.tsv", "--stream", "--cache-dir", cache])
    assert result.exit_code == ExitStatus.DATA, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"train-eval: error: --x {x}: ") and message in lines[0]
    assert not (tmp_path / "s.tsv").exists() and os.listdir(cache) == []


def test_ctrl_c_during_the_first_pass_exits_130_and_leaves_nothing(binary_data, binary_model, tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(runtime, "check_interrupted", interrupted)
    result, out = train(binary_model, tmp_path, "--x", binary_data["x"], "--y", binary_data["y"], "--stream")
    assert result.exit_code == ExitStatus.INTERRUPTED and result.stderr.strip() == "train-eval: error: interrupted"
    assert os.listdir(out) == [] and os.listdir(tmp_path) == ["out"]


def test_a_disk_that_fills_while_the_cache_is_written(binary_model, tmp_path):
    """A real full disk: a 64 kB tmpfs (in a private mount namespace) as the cache directory."""
    import subprocess
    import sys

    rows = np.random.default_rng(0).standard_normal((400, 100)).round(3)
    x = tmp_path / "X.tsv"
    pd.DataFrame(rows, columns=[f"c{i}" for i in range(100)]).assign(label=np.arange(400) % 2).to_csv(x, sep="\t", index=False)
    small = tmp_path / "small"
    small.mkdir()
    train_eval_bin = os.path.join(os.path.dirname(sys.executable), "train-eval")
    script = (f"mount -t tmpfs -o size=64k tmpfs {small} && exec {train_eval_bin} --model {binary_model} --x {x} "
              f"--target label --stream --cache-dir {small} --scores {tmp_path / 's.tsv'}")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == ExitStatus.OUTPUT, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"train-eval: error: --cache-dir: the disk is full while writing the row cache in {small}")
    assert not (tmp_path / "s.tsv").exists()


@pytest.mark.parametrize("scheme", [["--scheme", "train_val_test"], ["--scheme", "cv", "--folds", "3"]])
def test_a_streamed_run_never_gathers_more_than_a_block(scheme, tmp_path, monkeypatch):
    """Every set (train, validation, test, folds), every score, the held-out predictions and the report read the
    row cache a block at a time: no holdout is ever made dense whole (blocks of 50 rows here, holdouts of 600)."""
    from galaxy_dl.data import streaming

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 40)).round(3)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(40)]).assign(label=(X[:, 0] > 0).astype(int))
    frame.to_csv(tmp_path / "X.tsv", sep="\t", index=False)
    model = build_model_zip(tmp_path, "40", ["Normalization()", 'Dense(8, activation="relu")',
                                             'Dense(1, activation="sigmoid")'], "--epochs", "2", "--batch-size", "10",
                            "--seed", "0")
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 50 * 40 * 4)
    gathered = []
    dense = streaming.Rows.dense

    def recording(self, positions=None):
        out = dense(self, positions)
        gathered.append(len(out))
        return out

    monkeypatch.setattr(streaming.Rows, "dense", recording)
    result = invoke(train_eval.main, ["--model", model, "--x", tmp_path / "X.tsv", "--target", "label", "--stream",
                                      *scheme, "--scores", tmp_path / "s.tsv", "--predictions-out", tmp_path / "p.tsv",
                                      "--report", tmp_path / "r.html"])
    assert result.exit_code == 0, result.stderr
    assert gathered and max(gathered) <= 50
    assert sum(gathered) > 3 * 3000  # every row was read, block by block, for training and for scoring


CGROUP_MEMORY = "/sys/fs/cgroup/memory"


@pytest.mark.skipif(not (os.path.exists(f"{CGROUP_MEMORY}/memory.limit_in_bytes") and os.geteuid() == 0),
                    reason="needs root and the cgroup (v1) memory controller")
def test_a_streamed_run_completes_under_a_memory_limit_that_an_in_memory_run_exceeds(tmp_path):
    """A job limit as a cluster sets it (a memory cgroup: resident pages and page cache alike, 1.25 GB): the
    streamed run completes, its row cache's pages reclaimed as it goes, while the same run with the features in
    memory (240 MB as float32, twice that while parsed) is killed, which shows the limit binds."""
    import subprocess
    import sys

    import pyarrow as pa
    from pyarrow import csv

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60_000, 1000)).astype(np.float32).round(2)
    table = pa.table({**{f"c{i}": X[:, i] for i in range(1000)}, "label": (X[:, 0] > 0).astype(np.int8)})
    csv.write_csv(table, tmp_path / "X.tsv", csv.WriteOptions(delimiter="\t"))
    del X, table
    model = build_model_zip(tmp_path, "1000", ['Dense(8, activation="relu")', 'Dense(1, activation="sigmoid")'],
                            "--epochs", "1", "--batch-size", "512", "--seed", "0")
    group = f"{CGROUP_MEMORY}/galaxy-dl-test-{os.getpid()}"
    os.mkdir(group)
    try:
        with open(f"{group}/memory.limit_in_bytes", "w") as fh:
            fh.write(str(1250 << 20))

        def run(mode):
            def enter():
                with open(f"{group}/cgroup.procs", "w") as fh:
                    fh.write(str(os.getpid()))
            command = [os.path.join(os.path.dirname(sys.executable), "train-eval"), mode, "--model", model,
                       "--x", tmp_path / "X.tsv", "--target", "label", "--cache-dir", tmp_path,
                       "--scores", tmp_path / f"s{mode}.tsv"]
            return subprocess.run([str(c) for c in command], preexec_fn=enter, capture_output=True, text=True,
                                  timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))

        streamed = run("--stream")
        assert streamed.returncode == 0, streamed.stderr[-2000:]
        assert (tmp_path / "s--stream.tsv").exists()
        in_memory = run("--no-stream")
        assert in_memory.returncode != 0  # killed by the limit (or out of memory)
    finally:
        for _ in range(50):  # the group empties once its processes are reaped
            try:
                os.rmdir(group)
                break
            except OSError:
                time.sleep(0.1)
