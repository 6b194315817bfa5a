"""Broken input that used to crash or to be taken as valid: one line, the documented exit code, nothing written."""

import json
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest

from galaxy_dl.cli import build_arch, plot_cm, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA, write_tsv
from tests.hostile.conftest import listing, refused, run


def _with_state(tmp_path, **changes):
    with zipfile.ZipFile(TEST_DATA / "tutorial_fitted.zip") as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    state = json.loads(members["state.json"])
    state.update(changes)
    members["state.json"] = json.dumps(state).encode()
    path = tmp_path / "fitted.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("changes, words", [
    ({"classes_": [0, 1, 2, 3]}, "4 classes for an output of 1 unit"),
    ({"n_features_in_": 10**12}, "1000000000000 features, but the model takes 7129"),
])
def test_fitted_state_that_does_not_fit_the_model(changes, words, tmp_path):
    result = run(predict.main, ["--model", _with_state(tmp_path, **changes), "--x", TEST_DATA / "X_test.tsv",
                                "-o", tmp_path / "p.tsv"])
    refused(result, "predict", ExitStatus.MODEL, words)
    assert not (tmp_path / "p.tsv").exists()


def test_text_in_an_h5ad_matrix(data_copy, tmp_path):
    h5ad = data_copy("cells_dense.h5ad")
    with h5py.File(h5ad, "r+") as f:
        attrs = dict(f["X"].attrs)
        del f["X"]
        f.create_dataset("X", data=np.full((150, 40), b"text", dtype="S4"))
        f["X"].attrs.update(attrs)
    refused(run(predict.main, ["--model", TEST_DATA / "cells_fitted.zip", "--x", h5ad, "-o", tmp_path / "p.tsv"]),
            "predict", ExitStatus.DATA, "not numbers")


def test_negative_matrix_market_entry_count(tmp_path):
    mtx = tmp_path / "X.mtx"
    mtx.write_text("%%MatrixMarket matrix coordinate real general\n10 40 -5\n")
    refused(run(predict.main, ["--model", TEST_DATA / "cells_fitted.zip", "--x", mtx, "-o", tmp_path / "p.tsv"]),
            "predict", ExitStatus.DATA, "-5 entries")


def test_math_text_labels_are_drawn_as_written(tmp_path):
    labels = pd.DataFrame({"label": ["$\\undefinedmacro{x$", "$a$"] * 5})
    truth = write_tsv(tmp_path / "t.tsv", labels)
    result = run(plot_cm.main, ["--y-true", truth, "--y-pred", truth, "--dpi", "40", "-o", tmp_path / "cm.svg"])
    assert result.exit_code == 0, result.stderr
    assert "\\undefinedmacro{x" in (tmp_path / "cm.svg").read_text()


def test_math_text_labels_in_the_training_report(binary_data, binary_model, tmp_path):
    y = pd.read_csv(binary_data["y"], sep="\t")
    y["label"] = np.where(y["label"] == 1, "$\\undefinedmacro{x$", "$a$")
    labels = write_tsv(tmp_path / "y.tsv", y)
    result = run(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", labels,
                                   "--scores", tmp_path / "s.tsv", "--report", tmp_path / "r.html"])
    assert result.exit_code == 0, result.stderr
    assert listing(tmp_path) == ["r.html", "s.tsv", "y.tsv"]


@pytest.mark.parametrize("value", ["inf", "1e400"])
def test_infinite_regression_target_is_bad_data(value, diabetes_data, tmp_path):
    from tests.conftest import build_model_zip

    model = build_model_zip(tmp_path, "10", ["Dense(1)"], "--task", "regression", "--loss", "mse", "--epochs", "1")
    y = pd.read_csv(diabetes_data["y"], sep="\t").astype(str)
    y.iloc[3, 0] = value
    labels = write_tsv(tmp_path / "y_bad.tsv", y)
    result = run(train_eval.main, ["--model", model, "--x", diabetes_data["x"], "--y", labels,
                                   "--scores", tmp_path / "s.tsv"])
    refused(result, "train-eval", ExitStatus.DATA, "finite")
    assert not (tmp_path / "s.tsv").exists()


def test_labels_of_one_class(binary_data, binary_model, tmp_path):
    y = pd.read_csv(binary_data["y"], sep="\t")
    y["label"] = 1
    result = run(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", write_tsv(tmp_path / "y.tsv", y),
                                   "--scores", tmp_path / "s.tsv"])
    refused(result, "train-eval", ExitStatus.DATA, "at least two classes")


def test_click_usage_errors_are_one_line(binary_data, binary_model, tmp_path):
    result = run(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
                                   "--scores", tmp_path / "s.tsv", "--process-id", "-1"])
    refused(result, "train-eval", ExitStatus.USAGE, "--process-id")


@pytest.mark.parametrize("name", ["a b", "a:b", "é"])
def test_layer_names_tensorflow_rejects_are_refused_at_once(name, tmp_path):
    result = run(build_arch.main, ["--input-shape", "4", "--layer", f"Dense(2, name={name!r})", "-o", tmp_path / "a.json"])
    refused(result, "build-arch", ExitStatus.USAGE, "layer name")
