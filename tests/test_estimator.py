import json

import numpy as np
import pandas as pd
import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import DataError, ModelError, TrainingError, UsageError


@pytest.fixture(scope="module", autouse=True)
def keras():
    runtime.configure()
    return runtime.import_keras()


def arch(shape, *specs):
    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.layerspec import parse_layer

    return json.loads(to_json(build_sequential(shape, [parse_layer(s) for s in specs])))


def estimator(task, architecture, **params):
    from galaxy_dl.model.estimator import make_estimator

    params = {"epochs": 3, "batch_size": 16, "seed": 0, "verbose": 0, **params}
    return make_estimator(task, architecture=architecture, **params)


@pytest.fixture(scope="module")
def three_class():
    from sklearn.datasets import load_iris

    data = load_iris()
    X = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    return X, data.target_names[data.target]


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_softmax_multiclass_with_string_labels(three_class, loss):
    X, y = three_class
    est = estimator("classification", arch((4,), 'Dense(8, activation="relu")', 'Dense(3, activation="softmax")'),
                    loss=loss, epochs=30, optimizer="adam", optimizer_params={"learning_rate": 0.05})
    assert est.fit(X, y) is est
    assert est.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    predicted = est.predict(X)
    assert set(predicted) <= set(est.classes_) and (predicted == y).mean() > 0.8
    proba = est.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_binary_predict_proba_columns_follow_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).astype("float32")
    y = np.where(X[:, 0] > 0, "pos", "neg")
    est = estimator("classification", arch((2,), 'Dense(1, activation="sigmoid")'), epochs=20,
                    optimizer="adam", optimizer_params={"learning_rate": 0.1}).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (60, 2)
    assert np.array_equal(est.predict(X), est.classes_[proba.argmax(1)])


def test_regression_predicts_floats():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    est = estimator("regression", arch((10,), 'Dense(8, activation="relu")', "Dense(1)"), loss="mse", epochs=2)
    predicted = est.fit(X.astype("float32"), y).predict(X.astype("float32"))
    assert predicted.shape == (442,) and predicted.dtype.kind == "f"


def test_same_seed_same_weights_different_seed_different_weights():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4)).astype("float32")
    y = (X.sum(1) > 0).astype(int)
    a = arch((4,), 'Dense(4, activation="relu")', 'Dense(1, activation="sigmoid")')

    def weights(seed):
        return [w.copy() for w in estimator("classification", a, seed=seed).fit(X, y).model_.get_weights()]

    first, again, other = weights(5), weights(5), weights(6)
    assert all(np.array_equal(p, q) for p, q in zip(first, again, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(first, other, strict=True))


def test_early_stopping_history_is_whole():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 3)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    est = estimator("classification", arch((3,), 'Dense(1, activation="sigmoid")'), epochs=50,
                    callbacks=[{"class_name": "EarlyStopping", "config": {"monitor": "loss", "patience": 0, "min_delta": 10.0}}])
    est.fit(X, y)
    epochs_run = len(est.history_["loss"])
    assert 1 <= epochs_run < 50
    assert all(len(v) == epochs_run for v in est.history_.values())


def test_balanced_class_weight_is_accepted():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2)).astype("float32")
    y = np.array(["rare"] * 10 + ["common"] * 50)
    est = estimator("classification", arch((2,), 'Dense(1, activation="sigmoid")'), class_weight="balanced")
    assert est.fit(X, y).classes_.tolist() == ["common", "rare"]


def test_nan_loss_is_a_training_error():
    X = np.full((20, 2), 1e30, dtype="float32")
    y = np.array([0, 1] * 10)
    est = estimator("classification", arch((2,), "Dense(4)", 'Dense(1, activation="sigmoid")'),
                    optimizer="sgd", optimizer_params={"learning_rate": 1e10})
    with pytest.raises(TrainingError, match="loss became"):
        est.fit(X, y)


def test_normalization_layer_is_adapted_on_training_data():
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(80, 3)) * [1000, 1, 0.001] + [5e4, 0, -3]).astype("float32")
    y = (X[:, 1] > 0).astype(int)
    est = estimator("classification", arch((3,), "Normalization()", 'Dense(1, activation="sigmoid")')).fit(X, y)
    norm = est.model_.layers[0]
    np.testing.assert_allclose(np.ravel(norm.mean), X.mean(0), rtol=1e-4)


def test_flat_columns_are_reshaped_to_the_input_shape():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 16)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    est = estimator("classification", arch((4, 4, 1), "Conv2D(2, 2)", "Flatten()", 'Dense(1, activation="sigmoid")')).fit(X, y)
    assert est.predict(X).shape == (30,)
    with pytest.raises(DataError, match="takes 16 input columns, but the table has 15"):
        est.predict(X[:, :15])


@pytest.mark.parametrize("specs, params, message", [
    (('Dense(1, activation="sigmoid")',), {"loss": "categorical_crossentropy"}, "needs one output unit per class"),
    (('Dense(1, activation="softmax")',), {}, "softmax output with one unit always outputs 1"),
    (('Dense(3, activation="softmax")',), {"loss": "binary_crossentropy"}, "use categorical_crossentropy"),
    (("Dense(1)",), {"loss": "huber", "epochs": 0}, "--epochs must be a positive integer"),
    (("Dense(1)",), {"optimizer": "sgd", "optimizer_params": {"momentun": 0.9}}, "did you mean momentum"),
    (("Dense(1)",), {"optimizer": "adamm"}, "unknown optimizer 'adamm' \\(did you mean Adam"),
    (("Dense(1)",), {"metrics": ["acuracy"]}, "unknown metric 'acuracy'"),
    (("Dense(1)",), {"loss": "binary_crossentropi"}, "unknown loss"),
    (("Dense(1)",), {"callbacks": [{"class_name": "CSVLogger", "config": {}}]}, "--history-out"),
    (("Dense(1)",), {"callbacks": [{"class_name": "EarlyStopping", "config": {"patiense": 2}}]}, "did you mean patience"),
])
def test_incompatible_choices_are_refused_up_front(specs, params, message):
    from galaxy_dl.model.architecture import model_from_config

    a = arch((4,), *specs)
    with pytest.raises(UsageError, match=message):
        estimator("classification", a, **params).validate(model_from_config(a, "a"))


def test_regression_refuses_classification_loss():
    with pytest.raises(UsageError, match="classification loss"):
        estimator("regression", arch((4,), "Dense(1)"), loss="binary_crossentropy").validate()


def test_falsy_optimizer_values_are_kept():
    from galaxy_dl.model.compilation import make_optimizer

    opt = make_optimizer("SGD", {"momentum": 0.0, "nesterov": False, "learning_rate": 0.5})
    assert float(opt.momentum) == 0.0 and opt.nesterov is False and float(opt.learning_rate) == 0.5


def test_too_many_classes_for_one_sigmoid_unit():
    X = np.zeros((9, 2), dtype="float32")
    with pytest.raises(DataError, match="3 classes, but the output layer has 1 unit"):
        estimator("classification", arch((2,), 'Dense(1, activation="sigmoid")')).fit(X, np.array([0, 1, 2] * 3))


def test_model_that_does_not_fit_the_data():
    with pytest.raises((ModelError, DataError)):
        estimator("classification", arch((3,), 'Dense(1, activation="sigmoid")')).fit(np.zeros((4, 5), "float32"), np.array([0, 1, 0, 1]))


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory):
    """Three 0/1 labels per row (DeepSEA-style), one sigmoid unit each."""
    from tests.conftest import build_model_zip, write_tsv

    d = tmp_path_factory.mktemp("multilabel")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6)).round(3)
    labels = pd.DataFrame({"l1": (X[:, 0] > 0).astype(int), "l2": (X[:, 1] > 0).astype(int), "l3": (X[:, 2] + X[:, 3] > 0).astype(int)})
    model = build_model_zip(d, "6", ['Dense(16, activation="relu")', 'Dense(3, activation="sigmoid")'],
                            "--epochs", "30", "--seed", "0", "--optimizer", "adam", "--learning-rate", "0.05")
    return {"x": write_tsv(d / "X.tsv", pd.DataFrame(X, columns=list("abcdef"))), "y": write_tsv(d / "y.tsv", labels),
            "labels": labels, "model": model, "dir": d}


def test_multilabel_trains_scores_and_predicts_a_column_per_label(multilabel, tmp_path):
    from galaxy_dl.cli import predict, train_eval
    from tests.conftest import invoke

    fitted = tmp_path / "f.zip"
    result = invoke(train_eval.main, ["--model", multilabel["model"], "--x", multilabel["x"], "--y", multilabel["y"],
                                      "--scoring", "accuracy,f1_macro,roc_auc", "--scores", tmp_path / "s.tsv", "--fitted-model", fitted])
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t").set_index("set")
    assert scores.loc["train", "roc_auc"] > 0.8 and 0 <= scores.loc["validation", "accuracy"] <= 1
    out, proba = tmp_path / "p.tsv", tmp_path / "q.tsv"
    assert invoke(predict.main, ["--model", fitted, "--x", multilabel["x"], "-o", out]).exit_code == 0
    assert invoke(predict.main, ["--model", fitted, "--x", multilabel["x"], "--method", "predict_proba", "-o", proba]).exit_code == 0
    predicted, probabilities = pd.read_csv(out, sep="\t"), pd.read_csv(proba, sep="\t")
    assert predicted.columns.tolist() == probabilities.columns.tolist() == ["l1", "l2", "l3"]
    assert set(np.unique(predicted.to_numpy())) <= {0, 1}
    assert ((probabilities.to_numpy() > 0.5).astype(int) == predicted.to_numpy()).all()
    assert (predicted.to_numpy() == multilabel["labels"].to_numpy()).mean() > 0.8


def test_multilabel_labels_must_be_zero_or_one(multilabel, tmp_path):
    from galaxy_dl.cli import train_eval
    from galaxy_dl.errors import ExitStatus
    from tests.conftest import invoke, write_tsv

    bad = multilabel["labels"].copy()
    bad.iloc[5, 1] = 2
    y = write_tsv(tmp_path / "y.tsv", bad)
    result = invoke(train_eval.main, ["--model", multilabel["model"], "--x", multilabel["x"], "--y", y, "--scores", tmp_path / "s.tsv"])
    assert result.exit_code == ExitStatus.DATA
    assert f"--y {y}: multi-label labels must be 0 or 1: label column 2 holds 2" in result.stderr
    assert not (tmp_path / "s.tsv").exists()


def test_labels_are_encoded_by_search_and_unseen_ones_named():
    import numpy as np

    from galaxy_dl.errors import LabelError
    from galaxy_dl.model.estimator import KerasClassifier

    classes = np.array(["ALL", "AML", "CLL"], dtype=object)
    codes = KerasClassifier._encode_column(np.array(["CLL", "ALL", "AML", "ALL"], dtype=object), classes, 3,
                                           "sparse_categorical_crossentropy")
    assert codes.tolist() == [2, 0, 1, 0]
    assert KerasClassifier._encode_column(np.array([1, 0, 1]), np.array([0, 1]), 1, "binary_crossentropy").tolist() == [1.0, 0.0, 1.0]
    for unseen, shown in ((np.array(["ALL", "MDS"], dtype=object), "'MDS'"), (np.array([3, 1]), "3")):
        with pytest.raises(LabelError, match=f"label {shown} was not seen in training"):
            KerasClassifier._encode_column(unseen, classes, 3, "sparse_categorical_crossentropy")
