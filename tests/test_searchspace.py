import json

import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import UsageError
from galaxy_dl.model.parameters import locate, native, searchable
from galaxy_dl.runs.searchspace import Distribution, params_table, parse, prepare


@pytest.fixture(scope="module", autouse=True)
def keras():
    runtime.configure()
    return runtime.import_keras()


@pytest.fixture(scope="module")
def estimator():
    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.estimator import make_estimator
    from galaxy_dl.model.layerspec import parse_layer

    layers = ['Dense(8, activation="relu")', "Dropout(0.1)", 'Dense(3, activation="softmax")']
    architecture = json.loads(to_json(build_sequential((4,), [parse_layer(s) for s in layers])))
    return make_estimator("classification", architecture=architecture, loss="sparse_categorical_crossentropy",
                          optimizer="adam", optimizer_params={"learning_rate": 0.01}, epochs=4, batch_size=16, seed=0,
                          callbacks=[{"class_name": "EarlyStopping", "config": {"patience": 2}}])


@pytest.mark.parametrize("text, values", [
    ("dense.units=16,32,64", (16, 32, 64)),
    ("dense.units=[16, 32]", (16, 32)),
    ("dense.activation=relu,elu", ("relu", "elu")),
    ('dense.activation="relu", "elu"', ("relu", "elu")),
    ("shuffle=True,False", (True, False)),
    ("class_weight=None,balanced", (None, "balanced")),
    ("learning_rate=choice(0.1, 0.01)", (0.1, 0.01)),
    ("dropout.rate=0, 0.5", (0, 0.5)),
])
def test_values_are_parsed_as_literals(text, values):
    param = parse(text)
    assert param.values == values and param.distribution is None


def test_calls_and_distributions():
    regularizer = parse("dense.kernel_regularizer=None, L2(0.01)")
    assert regularizer.values[0] is None and regularizer.values[1].name == "L2"
    assert regularizer.texts == ("None", "L2(0.01)")
    assert parse("learning_rate=loguniform(1e-4, 1e-1)").distribution == Distribution("loguniform", 1e-4, 1e-1)
    assert parse("dense.units=randint(8, 129)").distribution.ends() == (8, 128)
    drawn = parse("dropout.rate=uniform(0, 0.5)").distribution.frozen().rvs(size=200, random_state=0)
    assert drawn.min() >= 0 and drawn.max() <= 0.5


@pytest.mark.parametrize("text, message", [
    ("dense.units", "is not NAME=VALUES"),
    ("dense.units=", "no values given"),
    ("dense.units=16,,", "not a list of values"),
    ("dense.units=1], [2", "not a list of values"),  # closes the list early: an internal error before
    ("dense.units=os.system", "is not a value"),
    ("dense.units=16, randint(1, 3)", "one distribution, or a list of values"),
    ("learning_rate=loguniform(0, 1)", "needs LOW > 0"),
    ("dense.units=randint(1.5, 3)", "whole numbers"),
    ("dense.units=uniform(3, 1)", "LOW must be below HIGH"),
])
def test_bad_values_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse(text)


def test_every_kind_of_name_is_listed_with_its_value(estimator):
    rows = {name: (value, owner) for name, value, owner in searchable(estimator)}
    assert rows["epochs"] == (4, "build-model setting")
    assert rows["learning_rate"] == (0.01, "optimizer Adam")
    assert rows["beta_1"][0] == 0.9
    assert rows["EarlyStopping.patience"] == (2, "callback EarlyStopping")
    assert rows["dense.units"] == (8, "layer Dense") and rows["dense_1.units"] == (3, "layer Dense")
    assert rows["dropout.rate"] == (0.1, "layer Dropout")
    assert "dense.name" not in rows and not any(name.startswith("input_layer") for name in rows)
    table = params_table(estimator)
    assert table.loc[table["parameter"] == "dense.kernel_initializer", "value"].item().startswith("GlorotUniform(")


def test_unknown_names_list_the_closest(estimator):
    with pytest.raises(UsageError, match=r"dense\.unit: no such parameter \(closest: dense\.units, dense_1\.units"):
        locate(estimator, "dense.unit")
    assert locate(estimator, "momentum") == ("optimizer", None, "momentum")  # another optimizer's, searched with it
    assert locate(estimator, "EarlyStopping.patience") == ("callback", "EarlyStopping", "patience")


def test_native_changes_copies(estimator):
    before = json.dumps(estimator.architecture, sort_keys=True)
    params = native(estimator, {"dense.units": 32, "learning_rate": 0.1, "EarlyStopping.patience": 5, "epochs": 7})
    assert json.dumps(estimator.architecture, sort_keys=True) == before
    layers = {layer["config"]["name"]: layer for layer in params["architecture"]["config"]["layers"]}
    assert layers["dense"]["config"]["units"] == 32
    assert not any("build_config" in layer for layer in layers.values())  # Keras builds them for the new shapes
    assert params["optimizer_params"] == {"learning_rate": 0.1} and estimator.optimizer_params == {"learning_rate": 0.01}
    assert params["callbacks"] == [{"class_name": "EarlyStopping", "config": {"patience": 5}}]
    assert params["epochs"] == 7


def test_set_params_builds_the_changed_model(estimator):
    from sklearn.base import clone

    changed = clone(estimator).set_params(**{"dense.units": 5, "dense.kernel_regularizer": {"class_name": "L2",
                                             "config": {"l2": 0.01}, "module": "keras.regularizers",
                                             "registered_name": None}})
    model = changed._build_model()
    assert model.layers[0].units == 5 and model.layers[2].kernel.shape == (5, 3)
    assert model.layers[0].kernel_regularizer.l2 == pytest.approx(0.01)


def test_prepare_serializes_calls_and_checks_each_value(estimator):
    (param,) = prepare(estimator, [parse("dense.kernel_regularizer=None, L2(0.01)")])
    assert param.values[1]["class_name"] == "L2" and param.label(param.values[1]) == "L2(0.01)"
    assert prepare(estimator, [parse("dropout.rate=0, 0.5")])[0].values == (0.0, 0.5)


@pytest.mark.parametrize("text, message", [
    ("dense.units=abc", r"--param dense\.units: abc is not a whole number \(dense\.units is 8 now\)"),
    ("dense.units=8.0", "is not a whole number"),
    ("dense.units=-2", r"dense\.units=-2: .*expected a positive integer"),
    ("learning_rate=-1", "the learning rate must be a positive number, not -1"),
    ("epochs=0", "--epochs must be a positive integer, not 0"),
    ("optimizer=adam,nosuch", r"optimizer=nosuch: .*unknown optimizer"),
    ("dropout.rate=uniform(0, 1.5)", r"dropout\.rate=uniform\(0, 1\.5\): .*between 0 and 1"),
    ("dense.activation=relu,nosuch", "Could not interpret activation function identifier: nosuch"),
    ("learning_rate=L2(0.01)", "calls are values of layer arguments only"),
    ("dense.kernel_regularizer=__import__('os')", "'__import__' is not a Keras layer, initializer"),
    ("EarlyStopping.patience=two", "is not a whole number"),
])
def test_wrong_values_are_refused_before_searching(estimator, text, message):
    with pytest.raises(UsageError, match=message):
        prepare(estimator, [parse(text)])


def test_a_name_given_twice_is_refused(estimator):
    with pytest.raises(UsageError, match="given twice"):
        prepare(estimator, [parse("epochs=2"), parse("epochs=3")])
