import json
import zipfile

import pandas as pd
import pytest

from galaxy_dl.cli import train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import build_model_zip, invoke, write_tsv


def run(model, x, y, tmp_path, *extra):
    return invoke(train_eval.main, ["--model", model, "--x", x, "--y", y, "--scores", tmp_path / "scores.tsv", *extra])


def test_train_val_scores_table(binary_data, binary_fitted):
    scores = pd.read_csv(binary_fitted["scores"], sep="\t")
    assert scores["set"].tolist() == ["train", "validation"]
    assert scores["rows"].tolist() == [64, 16]  # stratified 20% holdout of 80 rows
    assert {"loss", "accuracy"} <= set(scores.columns)
    assert scores["accuracy"].between(0, 1).all()


def test_fitted_archive_and_weights(binary_fitted):
    with zipfile.ZipFile(binary_fitted["fitted"]) as zf:
        state = json.loads(zf.read("state.json"))
    assert state["classes_"] == [0, 1] and state["feature_names_in_"] == [f"f{i}" for i in range(6)]
    assert open(binary_fitted["weights"], "rb").read(8) == b"\x89HDF\r\n\x1a\n"


def test_train_val_test_and_optional_outputs(binary_data, binary_model, tmp_path):
    result = run(binary_model, binary_data["x"], binary_data["y"], tmp_path, "--scheme", "train_val_test",
                 "--scoring", "accuracy,f1_macro,roc_auc", "--predictions-out", tmp_path / "held.tsv",
                 "--history-out", tmp_path / "history.tsv")
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert scores["set"].tolist() == ["train", "validation", "test"]
    assert scores["rows"].sum() == 80 and {"f1_macro", "roc_auc"} <= set(scores.columns)
    held = pd.read_csv(tmp_path / "held.tsv", sep="\t")
    assert list(held.columns) == ["set", "row", "true", "predicted"] and set(held["set"]) == {"validation", "test"}
    history = pd.read_csv(tmp_path / "history.tsv", sep="\t")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5] and {"loss", "val_loss"} <= set(history.columns)


def test_cross_validation_reports_each_fold_mean_std(binary_data, binary_model, tmp_path):
    result = run(binary_model, binary_data["x"], binary_data["y"], tmp_path, "--scheme", "cv", "--folds", "3",
                 "--fitted-model", tmp_path / "final.zip")
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert scores["set"].tolist() == ["fold1", "fold2", "fold3", "mean", "std", "refit_train"]
    folds = scores[scores["set"].str.startswith("fold")]
    assert folds["rows"].sum() == 80
    assert scores.loc[scores["set"] == "mean", "accuracy"].item() == pytest.approx(folds["accuracy"].mean())
    assert (tmp_path / "final.zip").exists()


def test_group_split_from_column(binary_data, binary_model, tmp_path):
    frame = pd.read_csv(binary_data["x"], sep="\t")
    frame["patient"] = [f"p{i // 4}" for i in range(len(frame))]
    x = write_tsv(tmp_path / "xg.tsv", frame)
    result = run(binary_model, x, binary_data["y"], tmp_path, "--split", "group", "--groups-column", "patient",
                 "--predictions-out", tmp_path / "held.tsv")
    assert result.exit_code == 0, result.stderr
    held = pd.read_csv(tmp_path / "held.tsv", sep="\t")
    held_groups = set(frame["patient"].iloc[held["row"] - 1])
    assert len(held_groups) == 4  # 20% of 20 groups, whole groups only
    assert all(frame["patient"].value_counts()[g] == 4 for g in held_groups)


def test_target_column_and_column_selection(iris_data, tmp_path):
    frame = iris_data["frame"].assign(species=iris_data["target"]["species"], id=range(150))
    x = write_tsv(tmp_path / "all.tsv", frame)
    model = build_model_zip(tmp_path, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                            "--loss", "sparse_categorical_crossentropy", "--epochs", "2", "--seed", "0")
    result = invoke(train_eval.main, ["--model", model, "--x", x, "--target", "species", "--x-names-except", "id",
                                      "--scores", tmp_path / "s.tsv", "--fitted-model", tmp_path / "f.zip"])
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "f.zip") as zf:
        state = json.loads(zf.read("state.json"))
    assert state["classes_"] == ["setosa", "versicolor", "virginica"]
    assert state["feature_names_in_"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_regression_scores(diabetes_data, tmp_path):
    model = build_model_zip(tmp_path, "10", ['Dense(8, activation="relu")', "Dense(1)"], "--task", "regression",
                            "--loss", "mse", "--epochs", "2", "--seed", "0")
    result = run(model, diabetes_data["x"], diabetes_data["y"], tmp_path, "--scoring", "r2,neg_mean_absolute_error")
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert scores["set"].tolist() == ["train", "validation"] and {"r2", "neg_mean_absolute_error", "loss"} <= set(scores.columns)


def test_missing_values_drop(binary_data, binary_model, tmp_path):
    frame = pd.read_csv(binary_data["x"], sep="\t")
    frame.iloc[3, 2] = None
    x = write_tsv(tmp_path / "holes.tsv", frame)
    result = run(binary_model, x, binary_data["y"], tmp_path)
    assert result.exit_code == ExitStatus.DATA
    assert "1 missing values in 1 columns (first at line 5, column 'f2')" in result.stderr
    result = run(binary_model, x, binary_data["y"], tmp_path, "--missing", "drop")
    assert result.exit_code == 0 and "dropped 1 rows" in result.stderr


@pytest.mark.parametrize("y_text, code, message", [
    ("label\n0\n1\n", ExitStatus.DATA, "has 80 rows but --y"),
    ("a\tb\n" + "0\t1\n" * 80, ExitStatus.DATA, "the labels have 2 columns, but the model's output has 1 unit(s): choose one label column"),
])
def test_bad_labels(binary_data, binary_model, tmp_path, y_text, code, message):
    y = tmp_path / "y.tsv"
    y.write_text(y_text)
    result = run(binary_model, binary_data["x"], y, tmp_path, "--fitted-model", tmp_path / "f.zip")
    assert result.exit_code == code and message in result.stderr
    assert not (tmp_path / "f.zip").exists() and not (tmp_path / "scores.tsv").exists()


def test_more_classes_than_output_can_express(binary_data, binary_model, tmp_path):
    y = tmp_path / "y3.tsv"
    y.write_text("label\n" + "".join(f"{i % 3}\n" for i in range(80)))
    result = run(binary_model, binary_data["x"], y, tmp_path)
    assert result.exit_code == ExitStatus.DATA and "3 classes, but the output layer has 1 unit" in result.stderr


def test_usage_errors(binary_data, binary_model, tmp_path):
    result = invoke(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.USAGE and "--y, --target or --y-obs" in result.stderr
    result = run(binary_model, binary_data["x"], binary_data["y"], tmp_path, "--scoring", "acurracy")
    assert result.exit_code == ExitStatus.USAGE and "did you mean accuracy" in result.stderr
    result = run(binary_model, binary_data["x"], binary_data["y"], tmp_path, "--val-size", "1.5")
    assert result.exit_code == ExitStatus.USAGE


def test_unfit_model_file_errors(binary_data, tmp_path):
    bad = tmp_path / "model.zip"
    bad.write_text("not a zip")
    result = run(bad, binary_data["x"], binary_data["y"], tmp_path)
    assert result.exit_code == ExitStatus.MODEL and f"--model {bad}: not a galaxy-dl estimator archive" in result.stderr


def test_named_groups_as_validation_and_test(binary_data, binary_model, tmp_path):
    frame = pd.read_csv(binary_data["x"], sep="\t")
    frame["site"] = [f"site{i % 5}" for i in range(len(frame))]
    x = write_tsv(tmp_path / "xs.tsv", frame)
    result = run(binary_model, x, binary_data["y"], tmp_path, "--scheme", "train_val_test", "--split", "group",
                 "--groups-column", "site", "--val-groups", "site1", "--test-groups", "site3,site4",
                 "--predictions-out", tmp_path / "held.tsv")
    assert result.exit_code == 0, result.stderr
    held = pd.read_csv(tmp_path / "held.tsv", sep="\t")
    sites = frame["site"].iloc[held["row"] - 1].to_numpy()
    assert set(sites[held["set"] == "validation"]) == {"site1"} and set(sites[held["set"] == "test"]) == {"site3", "site4"}
    scores = pd.read_csv(tmp_path / "scores.tsv", sep="\t").set_index("set")
    assert scores["rows"].to_dict() == {"train": 32, "validation": 16, "test": 32}
    result = run(binary_model, x, binary_data["y"], tmp_path, "--split", "group", "--groups-column", "site", "--val-groups", "site9")
    assert result.exit_code == ExitStatus.DATA and "no rows in group 'site9'" in result.stderr


def test_scores_to_stdout_keep_training_logs_on_stderr(binary_data, binary_model):
    result = invoke(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", "-"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("set\trows\tloss") and len(result.stdout.splitlines()) == 3
    assert "Epoch 1/5" in result.stderr and "Epoch" not in result.stdout
