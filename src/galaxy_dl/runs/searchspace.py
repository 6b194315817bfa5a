"""What train-eval --search may vary, and the values given for it (``--param NAME=VALUES``).

Names (``train-eval --list-params`` prints them with their current values):

- the estimator's settings: ``epochs``, ``batch_size``, ``optimizer``, ``loss``, ``class_weight``, …;
- any parameter of the optimizer, bare: ``learning_rate``, ``momentum``, …;
- a callback's argument: ``EarlyStopping.patience``;
- any argument of a layer, by the name build-arch gave the layer: ``dense_1.units``, ``dropout.rate``,
  ``dense.kernel_regularizer`` (with a call value such as ``L2(0.01)``).

Values are parsed with :mod:`ast`, never evaluated: a list (``16,32,64``, ``[16, 32, 64]``; bare words are text:
``relu,elu``), or for random search one distribution: ``loguniform(1e-4, 1e-1)``, ``uniform(0, 0.5)``,
``randint(8, 129)`` (``choice(…)`` is a list). The estimator's ``set_params`` takes these names through
:func:`galaxy_dl.model.parameters.native`, so scikit-learn's search classes vary them like any other parameter.
"""

import ast
import copy
from dataclasses import dataclass, replace

from galaxy_dl.errors import GalaxyDLError, UsageError, first_line
from galaxy_dl.model.layerspec import ObjectCall, literal
from galaxy_dl.model.parameters import MODEL_CLASSES, layer_configs, locate, plain, searchable

DISTRIBUTIONS = ("loguniform", "uniform", "randint")


@dataclass(frozen=True)
class Distribution:
    """What random search draws a value from: ``kind(low, high)`` (randint's high is excluded)."""

    kind: str
    low: float
    high: float

    def frozen(self):
        from scipy import stats

        if self.kind == "loguniform":
            return stats.loguniform(self.low, self.high)
        if self.kind == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        return stats.randint(self.low, self.high)

    def ends(self) -> tuple:
        """The extreme values it can draw: both are checked before the search starts."""
        if self.kind == "randint":
            return self.low, self.high - 1
        return float(self.low), float(self.high)

    def __str__(self) -> str:
        return f"{self.kind}({self.low}, {self.high})"


@dataclass(frozen=True)
class Param:
    """One searched name with its values (``texts``: as written) or its distribution."""

    name: str
    values: tuple = ()
    texts: tuple = ()
    distribution: Distribution | None = None

    def label(self, value):
        """How a value appears in the results table and the fitted archive: as given for objects
        (``L2(0.01)``), else the plain value."""
        value = plain(value)
        for candidate, text in zip(self.values, self.texts, strict=False):  # a distribution: one text, no values
            if isinstance(candidate, (dict, list, tuple)) and candidate == value:
                return text
        return value


def parse(text: str) -> Param:
    """``NAME=VALUES`` as given to ``--param`` (the name is checked later, against an estimator)."""
    name, sep, values = (part.strip() for part in text.partition("="))
    if not sep or not name:
        raise UsageError(f"--param {text!r} is not NAME=VALUES (e.g. dense_1.units=16,32,64)")
    return parse_values(name, values)


def parse_values(name: str, values: str) -> Param:
    where = f"--param {name}"
    try:
        tree = ast.parse(f"[{values}\n]", mode="eval").body
    except SyntaxError as exc:
        raise UsageError(f"{where}: {values!r} is not a list of values: {exc.msg}") from None
    if not isinstance(tree, ast.List):  # '1], [2' closes the list early: an internal error before
        raise UsageError(f"{where}: {values!r} is not a list of values")
    nodes = tree.elts
    if len(nodes) == 1 and isinstance(nodes[0], ast.List):  # [16, 32, 64]
        nodes = nodes[0].elts
    if len(nodes) == 1 and _called(nodes[0]) in (*DISTRIBUTIONS, "choice"):
        call = nodes[0]
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)  # _called() checked both
        if call.keywords:
            raise UsageError(f"{where}: {call.func.id}() takes its values as positional arguments")
        if call.func.id != "choice":
            args = [_value(node, where) for node in call.args]
            return Param(name, texts=(values,), distribution=_distribution(call.func.id, args, where))
        nodes = call.args
    if any(_called(node) in (*DISTRIBUTIONS, "choice") for node in nodes):
        raise UsageError(f"{where}: give one distribution, or a list of values, not both")
    if not nodes:
        raise UsageError(f"{where}: no values given")
    return Param(name, tuple(_value(node, where) for node in nodes), tuple(ast.unparse(node) for node in nodes))


def _called(node) -> str | None:
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _value(node, where: str):
    if isinstance(node, ast.Name) and node.id not in ("true", "false", "null", "none"):
        return node.id  # a bare word is text: activation=relu,elu
    try:
        return literal(node, where)
    except UsageError:
        raise UsageError(
            f"{where}: {ast.unparse(node)!r} is not a value (numbers, text, True/False/None, lists, "
            "or a call such as L2(0.01))"
        ) from None


def _distribution(kind: str, args: list, where: str) -> Distribution:
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise UsageError(f"{where}: {kind}(LOW, HIGH) takes two numbers")
    low, high = args
    if not low < high:
        raise UsageError(f"{where}: {kind}({low}, {high}): LOW must be below HIGH")
    if kind == "loguniform" and low <= 0:
        raise UsageError(f"{where}: loguniform({low}, {high}) needs LOW > 0")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise UsageError(f"{where}: randint(LOW, HIGH) takes whole numbers (HIGH is excluded)")
    return Distribution(kind, low, high)


# --- the names ---------------------------------------------------------------------------------------------


# --- checking values before a search ----------------------------------------------------------------------


def prepare(estimator, params: list[Param]) -> list[Param]:
    """The params with values in the estimator's own form (a layer argument's ``L2(0.01)`` serialized as Keras
    does), each value checked by setting it and building with it; wrong ones are one-line UsageErrors."""
    names = [param.name for param in params]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(f"--param {name} is given twice: give all its values in one --param")
    currents = {name: value for name, value, _ in searchable(estimator)}
    prepared = []
    for param in params:
        kind, owner, _argument = locate(estimator, param.name)
        current = currents.get(param.name)
        if param.distribution is not None:
            for end in param.distribution.ends():
                _check(
                    estimator,
                    owner if kind == "layer" else None,
                    param.name,
                    _convert(kind, param.name, end, current, str(end)),
                    str(param.distribution),
                )
            prepared.append(param)
            continue
        values = tuple(
            _convert(kind, param.name, value, current, text)
            for value, text in zip(param.values, param.texts, strict=True)
        )
        for value, text in zip(values, param.texts, strict=True):
            _check(estimator, owner if kind == "layer" else None, param.name, value, text)
        prepared.append(replace(param, values=values))
    return prepared


def _convert(kind: str, name: str, value, current, text: str):
    where = f"--param {name}"
    if isinstance(value, ObjectCall):
        if kind != "layer":
            raise UsageError(f"{where}: {text} is a call; calls are values of layer arguments only")
        import keras

        from galaxy_dl.model.architecture import build_object

        return keras.saving.serialize_keras_object(build_object(value, where))
    if kind == "setting":
        from galaxy_dl.model.config import validate_config

        return validate_config({name: value}, where)[name]
    if name == "learning_rate" and not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        raise UsageError(f"{where}: the learning rate must be a positive number, not {text}")
    expected = _kind(current)
    if expected and not _fits(value, current):
        raise UsageError(f"{where}: {text} is not {expected} ({name} is {current!r} now)")
    return float(value) if isinstance(current, float) and isinstance(value, int) else value


def _kind(current) -> str | None:
    """What a value must be, judged by the current one (None and objects: anything Keras accepts)."""
    for cls, text in (
        (bool, "True or False"),
        (int, "a whole number"),
        (float, "a number"),
        (str, "text"),
        ((list, tuple), "a list or a number"),
    ):
        if isinstance(current, cls):
            return text
    return None


def _fits(value, current) -> bool:
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(current, bool)
    if isinstance(current, int):
        return isinstance(value, int)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    if isinstance(current, str):
        return isinstance(value, str)
    return isinstance(value, (list, tuple, int))


def _check(estimator, layer: str | None, name: str, value, text: str) -> None:
    """Set the value on a copy and build with it: Keras' own checks (units, rates, optimizer arguments).
    A changed ``layer`` is built alone first, for Keras' message about that layer."""
    from sklearn.base import clone

    from galaxy_dl.model.architecture import model_from_config

    try:
        trial = clone(estimator).set_params(**{name: value})
        trial.validate()
        if layer is not None:
            _build_layer(next(entry for entry in layer_configs(trial.architecture) if entry["config"]["name"] == layer))
            model_from_config(trial.architecture, f"--param {name}")
    except (GalaxyDLError, ValueError, TypeError) as exc:
        message = first_line(exc).removeprefix(f"--param {name}: ")
        raise UsageError(f"--param {name}={text}: {message}") from None


def _build_layer(entry: dict) -> None:
    """The layer alone, for Keras' own message (deserializing a whole model hides it behind its own)."""
    import keras

    cls = getattr(keras.layers, entry["class_name"], None)
    if isinstance(cls, type) and entry["class_name"] not in MODEL_CLASSES:
        cls(**copy.deepcopy(entry["config"]))


def params_table(estimator):
    """--list-params: every searchable name, its current value and what it belongs to."""
    import pandas as pd

    return pd.DataFrame(
        [{"parameter": name, "value": shown(value), "of": owner} for name, value, owner in searchable(estimator)]
    )


def shown(value) -> str:
    """A value as a user would write it: ``GlorotUniform(seed=None)`` for a serialized Keras object."""
    import json

    if isinstance(value, dict) and isinstance(value.get("class_name"), str) and isinstance(value.get("config"), dict):
        arguments = ", ".join(f"{key}={item!r}" for key, item in value["config"].items())
        return f"{value['class_name']}({arguments})"
    return value if isinstance(value, str) else json.dumps(value)
