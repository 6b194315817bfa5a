import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galaxy_dl import runtime
from galaxy_dl.errors import UsageError
from galaxy_dl.model.config import CONFIG_KEYS, class_weight, validate_config

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(-2, 2, allow_nan=False) | st.sampled_from(
        ["adam", "sgd", "rmsprop", "mse", "accuracy", "auc", "balanced", "regression", "classification", "auto",
         "EarlyStopping(patience=2)", "TerminateOnNaN()", "0=1,1=2", "learning_rate"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["learning_rate", "momentum", "class_name", "config", "0", "1"]), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module", autouse=True)
def keras():
    runtime.configure()
    runtime.import_keras()


def test_unknown_key_names_the_closest():
    with pytest.raises(UsageError, match="unknown key 'batchsize' \\(did you mean batch_size\\?\\)"):
        validate_config({"batchsize": 3}, "--config c.yml")


def test_types_are_checked():
    with pytest.raises(UsageError, match="epochs must be int, not '10'"):
        validate_config({"epochs": "10"}, "c")
    with pytest.raises(UsageError, match="shuffle must be bool"):
        validate_config({"shuffle": 1}, "c")


def test_class_weight_forms():
    assert class_weight("balanced") == "balanced"
    assert class_weight("ALL=1, AML=2.5") == {"ALL": 1.0, "AML": 2.5}
    with pytest.raises(UsageError):
        class_weight("ALL=-1")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from((*CONFIG_KEYS, "epoch", "lr")), JSON, max_size=6))
def test_any_config_is_accepted_or_refused_cleanly(config):
    from galaxy_dl.model.estimator import make_estimator

    try:
        settings_ = validate_config(config, "c")
        task = settings_.pop("task", "classification")
        make_estimator(task, architecture={}, **settings_).validate()
    except UsageError:
        pass
