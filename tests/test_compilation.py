import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import UsageError
from galaxy_dl.model.compilation import canonical_loss, canonical_metric, make_callback, make_optimizer


@pytest.fixture(scope="module", autouse=True)
def keras():
    return runtime.import_keras()


@pytest.mark.parametrize("alias, name", [("logcosh", "log_cosh"), ("kullback_leibler_divergence", "kl_divergence"),
                                         ("MEAN_SQUARED_ERROR", "mse"), ("cosine_proximity", "cosine_similarity")])
def test_loss_aliases(alias, name):
    assert canonical_loss(alias) == name


def test_metric_aliases():
    assert canonical_metric("acc") == "accuracy" and canonical_metric("AUC") == "auc"


@pytest.mark.parametrize("name, params", [
    ("rmsprop", {"rho": 0.8, "momentum": 0, "centered": True, "clipnorm": 1.0}),
    ("Ftrl", {"learning_rate_power": -0.5, "l1_regularization_strength": 0.01, "l2_shrinkage_regularization_strength": 0,
              "initial_accumulator_value": 0.1, "beta": 0}),
    ("adamw", {"weight_decay": 0.01, "amsgrad": True, "clipvalue": 0.5}),
    ("Nadam", {"beta_1": 0.8, "beta_2": 0.99}),
])
def test_every_optimizer_parameter_is_reachable(name, params):
    optimizer = make_optimizer(name, params)
    for key, value in params.items():
        assert float(getattr(optimizer, key)) == pytest.approx(float(value))


def test_callbacks_take_their_parameters():
    cb = make_callback({"class_name": "ReduceLROnPlateau", "config": {"factor": 0.5, "patience": 0, "min_lr": 1e-5}})
    assert cb.factor == 0.5 and cb.patience == 0
    with pytest.raises(UsageError, match="choose from EarlyStopping"):
        make_callback({"class_name": "ModelCheckpoint", "config": {}})
