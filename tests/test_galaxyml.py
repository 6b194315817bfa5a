"""Galaxy-ML's own files (test-data/, copied from shared/data/galaxy-ml with their provenance) through every
program that reads them, each with the result it must give."""

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from galaxy_dl.cli import build_arch, build_model, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA, invoke, write_tsv


def data(name):
    return str(TEST_DATA / name)


def one_line_error(result, code, *parts):
    assert result.exit_code == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for part in parts:
        assert part in errors[0], errors[0]


def test_fitted_tutorial_model_predicts_exactly_what_galaxy_ml_did(tmp_path):
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", data("tutorial_fitted.h5mlm"), "--x", data("X_test.tsv"), "-o", out])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == (TEST_DATA / "tutorial_fitted_predictions.tsv").read_bytes()


def test_fitted_tutorial_model_converts_once_and_keeps_its_weights(tmp_path):
    converted, params = tmp_path / "fitted.zip", tmp_path / "params.tsv"
    result = invoke(build_model.main, ["--from", data("tutorial_fitted.h5mlm"), "-o", converted, "--params-out", params])
    assert result.exit_code == 0, result.stderr
    table = dict(pd.read_csv(params, sep="\t").to_numpy().tolist())
    assert table["optimizer"] == "rmsprop" and table["epochs"] == "10" and table["batch_size"] == "4"
    assert '"rho": 0.9' in table["optimizer_params"] and '"learning_rate": 0.001' in table["optimizer_params"]
    out = tmp_path / "p.tsv"
    assert invoke(predict.main, ["--model", converted, "--x", data("X_test.tsv"), "-o", out]).exit_code == 0
    ours = pd.read_csv(out, sep="\t")["Predicted"].tolist()
    theirs = pd.read_csv(TEST_DATA / "tutorial_fitted_predictions.tsv", sep="\t")["0"].tolist()
    assert ours == theirs


@pytest.mark.parametrize("model", ["keras_model04", "keras04.json"])
def test_keras04_with_galaxy_ml_weights_predicts_the_temperatures(tmp_path, model):
    """keras_model04 (h5mlm) or keras04.json (via build-model) with model_fit02.h5: R2 > 0.7 on the data it was fitted on."""
    from sklearn.metrics import r2_score

    if model.endswith(".json"):
        archive = tmp_path / "m.zip"
        assert invoke(build_model.main, ["--arch", data(model), "--task", "regression", "--loss", "mse", "-o", archive]).exit_code == 0
        model_path = archive
    else:
        model_path = data(model)
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", model_path, "--weights", data("model_fit02.h5"), "--x", data("regression_X.tabular"), "-o", out])
    assert result.exit_code == 0, result.stderr
    predicted = pd.read_csv(out, sep="\t").iloc[:, 0]
    truth = pd.read_csv(TEST_DATA / "regression_y.tabular", sep="\t").iloc[:, 0]
    assert len(predicted) == 261 and r2_score(truth, predicted) > 0.7


def test_unfitted_tutorial_builder_trains_and_predicts(tmp_path):
    fitted = tmp_path / "fitted.zip"
    result = invoke(train_eval.main, ["--model", data("tutorial_builder.h5mlm"), "--x", data("X_train.tsv"), "--y", data("y_train.tsv"),
                                      "--seed", "42", "--scores", tmp_path / "s.tsv", "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert scores["set"].tolist() == ["train", "validation"] and scores["accuracy"].between(0, 1).all()
    out = tmp_path / "p.tsv"
    assert invoke(predict.main, ["--model", fitted, "--x", data("X_test.tsv"), "-o", out]).exit_code == 0
    assert len(pd.read_csv(out, sep="\t")) == 34


def test_keras_model02_trains_two_outputs_and_predicts_a_column_each(tmp_path):
    """Galaxy-ML's functional example: an Embedding+LSTM branch on 100 token columns, 5 auxiliary columns, two outputs."""
    rng = np.random.default_rng(0)
    n = 24
    X = np.hstack([rng.integers(0, 1000, (n, 100)), rng.normal(size=(n, 5)).round(3)])
    x = write_tsv(tmp_path / "X.tsv", pd.DataFrame(X, columns=[f"c{i}" for i in range(105)]))
    # Label columns named after the outputs but in the other order: matched by name.
    y = write_tsv(tmp_path / "y.tsv", pd.DataFrame({"dense_4": (X[:, 100] > 0).astype(int), "dense": np.tile(["no", "yes"], n // 2)}))
    model = tmp_path / "m.zip"
    result = invoke(build_model.main, ["--from", data("keras_model02"), "--epochs", "1", "--seed", "3",
                                       "--loss-weights", "dense=1,dense_4=0.5", "-o", model])
    assert result.exit_code == 0, result.stderr
    assert "dropped input_length=100 (Keras 3: Argument `input_length` is deprecated" in result.stderr
    fitted = tmp_path / "f.zip"
    result = invoke(train_eval.main, ["--model", model, "--x", x, "--y", y, "--scoring", "accuracy",
                                      "--scores", tmp_path / "s.tsv", "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    columns = pd.read_csv(tmp_path / "s.tsv", sep="\t").columns.tolist()
    for name in ("dense_accuracy", "dense_4_accuracy", "dense_loss", "dense_4_loss", "loss"):
        assert name in columns
    out = tmp_path / "p.tsv"
    assert invoke(predict.main, ["--model", fitted, "--x", x, "-o", out]).exit_code == 0
    frame = pd.read_csv(out, sep="\t")
    assert frame.columns.tolist() == ["dense", "dense_4"] and len(frame) == n
    assert set(frame["dense"]) <= {"no", "yes"} and set(frame["dense_4"]) <= {0, 1}


@pytest.mark.parametrize("name", ["keras01.json", "keras02.json", "keras03.json", "keras04.json", "keras05.json"])
def test_every_galaxy_ml_architecture_builds(tmp_path, name):
    task = "regression" if name in ("keras03.json", "keras04.json") else "classification"
    loss = "mse" if task == "regression" else "binary_crossentropy" if name == "keras02.json" else "categorical_crossentropy"
    result = invoke(build_model.main, ["--arch", data(name), "--task", task, "--loss", loss, "-o", tmp_path / "m.zip"])
    assert result.exit_code == 0, result.stderr
    assert "converted a Keras 2.10.0 architecture to Keras 3" in result.stderr


def test_keras_model01_is_read_but_its_loss_refused(tmp_path):
    """keras_model01 is a KerasGRegressor compiled with binary_crossentropy: read, then refused for that."""
    result = invoke(train_eval.main, ["--model", data("keras_model01"), "--x", data("regression_X.tabular"),
                                      "--y", data("regression_y.tabular"), "--scores", tmp_path / "s.tsv"])
    one_line_error(result, ExitStatus.MODEL, "keras_model01", "binary_crossentropy is a classification loss")
    assert not (tmp_path / "s.tsv").exists()


def test_batch_generator_estimator_is_named_and_refused(tmp_path):
    result = invoke(predict.main, ["--model", data("keras_batch_model01"), "--x", data("X_test.tsv"), "-o", tmp_path / "p.tsv"])
    one_line_error(result, ExitStatus.MODEL, "keras_batch_model01", "KerasGBatchClassifier", "batch generator")
    assert not (tmp_path / "p.tsv").exists()


def test_untrained_classifier_with_weights_needs_its_labels(tmp_path):
    result = invoke(predict.main, ["--model", data("tutorial_builder.h5mlm"), "--weights", data("model_fit02.h5"),
                                   "--x", data("X_test.tsv"), "-o", tmp_path / "p.tsv"])
    one_line_error(result, ExitStatus.MODEL, "untrained classifier", "class labels are unknown")


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copy(TEST_DATA / name, target)
    target.chmod(0o644)
    return target


def _set_text(path, key, text):
    with h5py.File(path, "r+") as f:
        del f[key]
        f[key] = text


def _truncate(path):
    path.write_bytes(path.read_bytes()[:5000])


def _not_keras(path):
    _set_text(path, "-model_config-", '{"-object-": {"-reduce-": {"-func-": {"-global-": ["sklearn.ensemble", "RandomForestClassifier"]}}}}')


def _foreign_class(path):
    _set_text(path, "-keras_models-/0/class_name", "os.system")


def _wrong_shape(path):
    with h5py.File(path, "r+") as f:
        del f["-keras_models-/0/weights/dense_1/dense_1/kernel"]
        f["-keras_models-/0/weights/dense_1/dense_1/kernel"] = np.zeros((16, 3), dtype="float32")


@pytest.mark.parametrize("damage, message", [
    (_truncate, "not a readable HDF5 file (truncated?)"),
    (_not_keras, "a Galaxy-ML sklearn.ensemble.RandomForestClassifier: galaxy-dl reads Galaxy-ML's Keras estimators"),
    (_foreign_class, "class 'os.system' is not a Galaxy-ML Keras estimator"),
    (_wrong_shape, "dense_1"),
])
def test_damaged_h5mlm_files_are_one_line_errors(tmp_path, damage, message):
    path = _copy(tmp_path, "tutorial_fitted.h5mlm")
    damage(path)
    out = tmp_path / "p.tsv"
    result = invoke(predict.main, ["--model", path, "--x", data("X_test.tsv"), "-o", out])
    one_line_error(result, ExitStatus.MODEL, str(path), message)
    assert not out.exists()


def test_h5mlm_parameters_map_to_ours_with_a_warning_for_the_rest(capsys):
    from galaxy_dl.model.galaxyml import estimator_params

    params = {"loss": "mean_squared_error", "optimizer": "adam", "learning_rate": 0.01, "beta_1": 0.8, "rho": 0.9,
              "momentum": None, "epochs": 7, "batch_size": 3, "metrics": ["mse"], "seed": 5, "run_eagerly": True,
              "callbacks": [{"callback_selection": {"callback_type": "EarlyStopping", "patience": 2, "monitor": "val_loss"}},
                            {"callback_selection": {"callback_type": "CSVLogger", "filename": "log.csv"}},
                            {"callback_selection": {"callback_type": "None"}}]}
    out = estimator_params(params, "m.h5mlm")
    assert out["optimizer_params"] == {"learning_rate": 0.01, "beta_1": 0.8}
    assert out["callbacks"] == [{"class_name": "EarlyStopping", "config": {"patience": 2, "monitor": "val_loss"}}]
    assert (out["epochs"], out["batch_size"], out["seed"], out["loss"]) == (7, 3, 5, "mean_squared_error")
    warning = capsys.readouterr().err
    assert "rho=0.9 (not a parameter of adam)" in warning and "callback CSVLogger" in warning and "run_eagerly=True" in warning


ARCHITECTURES = {
    "sequential": None,  # build-arch
    "functional": "two_input_graph.yml",
    "keras2_sequential": "keras2_sequential.json",
    "keras2_functional": str(TEST_DATA.parent / "tests" / "data" / "keras2_functional.json"),
}


@pytest.mark.parametrize("kind", list(ARCHITECTURES))
def test_every_architecture_path_survives_build_train_predict(tmp_path, kind):
    """build-model -> train-eval -> predict for each way an architecture is made (the Keras 2 functional one used
    to lose its config in build-model)."""
    import json

    arch = tmp_path / "arch.json"
    source = ARCHITECTURES[kind]
    if kind == "sequential":
        args = ["--input-shape", "8", "--layer", 'Dense(4, activation="relu")', "--layer", 'Dense(1, activation="sigmoid")']
    elif kind == "functional":
        args = ["--spec", data(source)]
    if kind in ("sequential", "functional"):
        assert invoke(build_arch.main, [*args, "-o", arch]).exit_code == 0
    else:
        arch = source if kind == "keras2_functional" else data(source)
    n_columns = sum(_input_widths(json.loads(open(arch).read())))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, n_columns)).round(3)
    x = write_tsv(tmp_path / "X.tsv", pd.DataFrame(X, columns=[f"c{i}" for i in range(n_columns)]))
    y = write_tsv(tmp_path / "y.tsv", pd.DataFrame({"label": (X[:, 0] > 0).astype(int)}))
    model, fitted, out = tmp_path / "m.zip", tmp_path / "f.zip", tmp_path / "p.tsv"
    result = invoke(build_model.main, ["--arch", arch, "--epochs", "2", "--seed", "0", "-o", model])
    assert result.exit_code == 0, result.stderr
    result = invoke(train_eval.main, ["--model", model, "--x", x, "--y", y, "--scores", tmp_path / "s.tsv", "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    result = invoke(predict.main, ["--model", fitted, "--x", x, "-o", out])
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(out, sep="\t")) == 40


def _input_widths(doc):
    """The flat column count of each model input, from the architecture document."""
    widths = []
    for layer in doc["config"]["layers"]:
        config = layer.get("config", {})
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if layer["class_name"] == "InputLayer" and shape:
            widths.append(int(np.prod(shape[1:])))
    return widths or [int(np.prod((doc["config"]["layers"][0]["config"].get("batch_input_shape"))[1:]))]


def test_label_table_with_fewer_columns_than_outputs(tmp_path):
    rng = np.random.default_rng(0)
    X = np.hstack([rng.integers(0, 1000, (12, 100)), rng.normal(size=(12, 5))])
    x = write_tsv(tmp_path / "X.tsv", pd.DataFrame(X))
    y = write_tsv(tmp_path / "y.tsv", pd.DataFrame({"dense": [0, 1] * 6}))
    result = invoke(train_eval.main, ["--model", data("keras_model02"), "--x", x, "--y", y, "--scores", tmp_path / "s.tsv"])
    one_line_error(result, ExitStatus.DATA, str(y), "the model has 2 outputs (dense, dense_4), but the labels have 1 column")
    assert not (tmp_path / "s.tsv").exists()
