"""One-hot label tables ("To categorical"'s output, as the GTN's CNN tutorial trains on): one class per row for a
softmax classifier, in scores, --predictions-out, predict and plot-cm; rows with no 1 or several are named."""

import numpy as np
import pandas as pd
import pytest

from galaxy_dl.cli import plot_cm, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import build_model_zip, invoke


@pytest.fixture(scope="module")
def one_hot(tmp_path_factory):
    d = tmp_path_factory.mktemp("one_hot")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 8)).round(3)
    classes = np.argmax(X[:, :4], axis=1)
    pd.DataFrame(X).to_csv(d / "X.tsv", sep="\t", index=False, header=False)
    pd.DataFrame(np.eye(4, dtype=int)[classes]).to_csv(d / "y.tsv", sep="\t", index=False, header=False)
    pd.DataFrame(np.eye(4, dtype=int)[classes], columns=list("abcd")).to_csv(d / "y_named.tsv", sep="\t", index=False)
    model = build_model_zip(d, "8", ['Dense(16, activation="relu")', 'Dense(4, activation="softmax")'],
                            "--loss", "categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.02",
                            "--epochs", "20", "--batch-size", "16", "--seed", "0")
    return {"dir": d, "model": model, "classes": classes}


def test_header_less_one_hot_labels_are_classes_numbered_from_zero(one_hot, tmp_path):
    d = one_hot["dir"]
    result = invoke(train_eval.main, ["--model", one_hot["model"], "--x", d / "X.tsv", "--y", d / "y.tsv", "--no-header",
                                      "--scores", tmp_path / "s.tsv", "--predictions-out", tmp_path / "p.tsv",
                                      "--fitted-model", tmp_path / "f.zip"])
    assert result.exit_code == 0, result.stderr
    held = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert set(held["true"]) <= {0, 1, 2, 3} and set(held["predicted"]) <= {0, 1, 2, 3}
    assert np.array_equal(held["true"], one_hot["classes"][held["row"] - 1])
    assert pd.read_csv(tmp_path / "s.tsv", sep="\t").set_index("set").loc["validation", "accuracy"] > 0.6
    result = invoke(predict.main, ["--model", tmp_path / "f.zip", "--x", d / "X.tsv", "--no-header", "-o", tmp_path / "pred.tsv"])
    assert result.exit_code == 0, result.stderr
    assert set(pd.read_csv(tmp_path / "pred.tsv", sep="\t").iloc[:, 0]) <= {0, 1, 2, 3}
    result = invoke(plot_cm.main, ["--y-true", d / "y.tsv", "--y-true-no-header", "--y-pred", tmp_path / "pred.tsv",
                                   "--dpi", "40", "--matrix-out", tmp_path / "cm.tsv", "-o", tmp_path / "cm.png"])
    assert result.exit_code == 0, result.stderr
    matrix = pd.read_csv(tmp_path / "cm.tsv", sep="\t")
    assert matrix.shape == (4, 5) and matrix.iloc[:, 1:].to_numpy().sum() == 240


def test_a_header_names_the_classes(one_hot, tmp_path):
    d = one_hot["dir"]
    result = invoke(train_eval.main, ["--model", one_hot["model"], "--x", d / "X.tsv", "--x-no-header", "--y", d / "y_named.tsv",
                                      "--scores", tmp_path / "s.tsv", "--predictions-out", tmp_path / "p.tsv"])
    assert result.exit_code == 0, result.stderr
    held = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert set(held["true"]) <= set("abcd") and np.array_equal(held["true"], np.array(list("abcd"))[one_hot["classes"][held["row"] - 1]])


def test_rows_with_no_one_or_several_are_named(one_hot, tmp_path):
    d = one_hot["dir"]
    y = np.eye(4, dtype=int)[one_hot["classes"]]
    y[5] = 0
    y[9] = [1, 1, 0, 0]
    pd.DataFrame(y).to_csv(tmp_path / "y.tsv", sep="\t", index=False, header=False)
    result = invoke(train_eval.main, ["--model", one_hot["model"], "--x", d / "X.tsv", "--y", tmp_path / "y.tsv",
                                      "--no-header", "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.DATA
    assert "line 6 (0 ones), line 10 (2 ones)" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "s.tsv").exists()
