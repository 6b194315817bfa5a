"""Multi-class through all five programs and regression through the first four, in-process."""

import pandas as pd

from galaxy_dl.cli import plot_cm, predict, train_eval
from tests.conftest import build_model_zip, invoke


def test_three_class_string_labels_through_all_five(iris_data, tmp_path):
    model = build_model_zip(tmp_path, "4", ["Normalization()", 'Dense(16, activation="relu")', 'Dense(3, activation="softmax")'],
                            "--loss", "categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.05",
                            "--epochs", "40", "--batch-size", "16", "--seed", "3", "--metrics", "accuracy")
    result = invoke(train_eval.main, ["--model", model, "--x", iris_data["x"], "--y", iris_data["y"], "--scores", tmp_path / "s.tsv",
                                      "--fitted-model", tmp_path / "f.zip", "--weights", tmp_path / "w.h5"])
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t").set_index("set")
    assert scores.loc["validation", "accuracy"] >= 0.8
    result = invoke(predict.main, ["--model", tmp_path / "f.zip", "--x", iris_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(tmp_path / "p.tsv", sep="\t")["Predicted"]
    assert set(predicted) <= {"setosa", "versicolor", "virginica"} and len(predicted) == 150
    result = invoke(predict.main, ["--model", tmp_path / "f.zip", "--x", iris_data["x"], "--method", "predict_proba", "-o", tmp_path / "pp.tsv"])
    assert list(pd.read_csv(tmp_path / "pp.tsv", sep="\t").columns) == ["setosa", "versicolor", "virginica"]
    result = invoke(plot_cm.main, ["--y-true", iris_data["y"], "--y-pred", tmp_path / "p.tsv", "-o", tmp_path / "cm.png",
                                   "--matrix-out", tmp_path / "cm.tsv"])
    assert result.exit_code == 0, result.stderr
    matrix = pd.read_csv(tmp_path / "cm.tsv", sep="\t")
    assert list(matrix.columns) == ["true\\predicted", "setosa", "versicolor", "virginica"]
    assert matrix[["setosa", "versicolor", "virginica"]].to_numpy().sum() == 150


def test_regression_through_four(diabetes_data, tmp_path):
    model = build_model_zip(tmp_path, "10", ["Normalization()", 'Dense(16, activation="relu")', "Dense(1)"], "--task", "regression",
                            "--loss", "mse", "--optimizer", "adam", "--learning-rate", "0.05", "--epochs", "30", "--seed", "0")
    result = invoke(train_eval.main, ["--model", model, "--x", diabetes_data["x"], "--y", diabetes_data["y"], "--scores", tmp_path / "s.tsv",
                                      "--scoring", "r2,neg_mean_absolute_error", "--fitted-model", tmp_path / "f.zip"])
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t").set_index("set")
    assert scores.loc["validation", "r2"] > 0.2
    result = invoke(predict.main, ["--model", tmp_path / "f.zip", "--x", diabetes_data["x"], "-o", tmp_path / "p.tsv"])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(tmp_path / "p.tsv", sep="\t")["Predicted"]
    assert len(predicted) == 442 and predicted.dtype.kind == "f" and predicted.nunique() > 100


def test_no_network_access_at_run_time(binary_data, tmp_path, monkeypatch):
    """Every program runs with the network unplugged: any attempt to connect or resolve fails the test."""
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = build_model_zip(tmp_path, "6", ['Dense(4, activation="relu")', 'Dense(1, activation="sigmoid")'], "--epochs", "2", "--seed", "0")
    assert invoke(train_eval.main, ["--model", model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", tmp_path / "s.tsv",
                                    "--fitted-model", tmp_path / "f.zip", "--weights", tmp_path / "w.h5"]).exit_code == 0
    assert invoke(predict.main, ["--model", tmp_path / "f.zip", "--weights", tmp_path / "w.h5", "--x", binary_data["x"],
                                 "-o", tmp_path / "p.tsv"]).exit_code == 0
    assert invoke(plot_cm.main, ["--y-true", binary_data["y"], "--y-pred", tmp_path / "p.tsv", "-o", tmp_path / "cm.pdf"]).exit_code == 0
    assert attempts == []
