import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxy_dl.errors import UsageError
from galaxy_dl.model.layerspec import LayerCall, ObjectCall, parse_kwargs, parse_layer, parse_shape


def test_parses_call_with_literal_arguments():
    call = parse_layer('Dense(16, activation="elu", use_bias=False)')
    assert call == LayerCall("Dense", (16,), {"activation": "elu", "use_bias": False}, 'Dense(16, activation="elu", use_bias=False)')


def test_bare_name_and_module_prefix_are_calls():
    assert parse_layer("Flatten").name == "Flatten"
    assert parse_layer("keras.layers.Dropout(0.5)").args == (0.5,)


def test_nested_object_calls_become_data_not_code():
    call = parse_layer("Dense(4, kernel_regularizer=L1L2(l1=0.01, l2=0.0), kernel_constraint=MaxNorm(3))")
    assert call.kwargs["kernel_regularizer"] == ObjectCall("L1L2", (), {"l1": 0.01, "l2": 0.0})
    assert call.kwargs["kernel_constraint"] == ObjectCall("MaxNorm", (3,), {})


@pytest.mark.parametrize("spec", [
    "Dense(__import__('os').system('true'))",
    "Dense(16, activation=os.system)",
    "Dense(16, **kw)",
    "Dense(16, kernel_initializer={**kw})",  # an internal error (AttributeError) before: found by mypy
    "Dense(16)[0]",
    "lambda: 1",
    "Dense(16,",
])
def test_refuses_anything_but_literals_and_calls(spec):
    with pytest.raises(UsageError) as err:
        parse_layer(spec)
    assert "layer spec" in str(err.value)


@pytest.mark.parametrize("text, shape", [("7129", (7129,)), ("7129,", (7129,)), ("(7129,)", (7129,)), ("28,28,1", (28, 28, 1)), ("(None, 8)", (None, 8))])
def test_input_shapes(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["0", "-3", "abc", "1.5", "True", "()"])
def test_bad_input_shapes(text):
    with pytest.raises(UsageError, match="input shape"):
        parse_shape(text)


def test_parse_kwargs_keeps_falsy_values():
    assert parse_kwargs("momentum=0, nesterov=False, rho=0.0", "--optimizer-param") == {"momentum": 0, "nesterov": False, "rho": 0.0}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_kwargs_text_parses_or_fails_cleanly(text):
    with contextlib.suppress(UsageError):
        assert isinstance(parse_kwargs(text, "--optimizer-param"), dict)


def test_kwargs_that_close_the_call_early_are_refused():
    """'a=1), (2' parses as a tuple, not a call: an internal error before."""
    with pytest.raises(UsageError, match="is not NAME=VALUE"):
        parse_kwargs("a=1), (2", "--optimizer-param")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        call = parse_layer(text)
    except UsageError:
        return
    assert isinstance(call, LayerCall) and call.name


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner),
    max_leaves=8,
))
def test_literal_arguments_round_trip(value):
    call = parse_layer(f"Dense(units={value!r})")
    assert call.kwargs["units"] == value
