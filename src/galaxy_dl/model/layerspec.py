"""Parse layer specifications such as ``Dense(16, activation="elu")`` without ``eval``.

A spec is parsed with :mod:`ast`; only literals and calls of whitelisted Keras classes
(layers at the top level; initializers, regularizers and constraints as arguments)
are accepted. The result is plain data (:class:`LayerCall`), checked against Keras
only when the layer is built, so parsing needs no heavy import.
"""

import ast
from dataclasses import dataclass, field

from galaxy_dl.errors import UsageError

# Keras 2 names that Galaxy-ML offers and Keras 3 dropped: the modern replacement.
RENAMED_LAYERS = {"CuDNNGRU": "GRU", "CuDNNLSTM": "LSTM"}
REMOVED_LAYERS = {
    "LocallyConnected1D": "Conv1D (Keras 3 has no locally connected layers)",
    "LocallyConnected2D": "Conv2D (Keras 3 has no locally connected layers)",
    "ThresholdedReLU": "ReLU(threshold=...)",
    "Lambda": "a built-in layer (Lambda layers hold Python code and are refused)",
}
# Arguments renamed between Keras 2 and Keras 3 whose meaning is identical.
RENAMED_ARGUMENTS = {("LeakyReLU", "alpha"): "negative_slope"}

# Where the class named in a nested call may come from, in lookup order.
ARGUMENT_MODULES = ("initializers", "regularizers", "constraints")


@dataclass(frozen=True)
class ObjectCall:
    """A call of a Keras initializer, regularizer or constraint class inside a layer spec."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LayerCall:
    """A parsed layer spec: class name, positional and keyword arguments."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    text: str = ""


def literal(node: ast.AST, spec: str):
    if isinstance(node, ast.Call):
        return _call(node, spec, ObjectCall)
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [literal(elt, spec) for elt in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else values
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other}
            raise UsageError(f"layer spec {spec!r}: '**' in a dictionary is not allowed")
        return {
            literal(k, spec): literal(v, spec) for k, v in zip(node.keys, node.values, strict=True) if k is not None
        }
    if isinstance(node, ast.Name) and node.id in ("true", "false", "null", "none"):
        return {"true": True, "false": False}.get(node.id)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise UsageError(
            f"layer spec {spec!r}: {ast.unparse(node)!r} is not a literal "
            "(use numbers, strings, True/False/None, tuples, lists, or a call such as L2(0.01))"
        ) from None


def _call(node: ast.Call, spec: str, kind):
    name = _dotted_name(node.func, spec)
    args = tuple(literal(a, spec) for a in node.args)
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise UsageError(f"layer spec {spec!r}: '**' arguments are not allowed")
        kwargs[kw.arg] = literal(kw.value, spec)
    if kind is LayerCall:
        return LayerCall(name, args, kwargs, spec)
    return kind(name, args, kwargs)


MODULE_PREFIXES = {"keras", "layers", "initializers", "regularizers", "constraints", "callbacks"}


def _dotted_name(func: ast.AST, spec: str) -> str:
    """The class name of ``Dense``, ``layers.Dense`` or ``keras.layers.Dense``; nothing else."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or any(p not in MODULE_PREFIXES for p in [func.id, *parts[1:]][: len(parts)]):
        raise UsageError(f"layer spec {spec!r}: {ast.unparse(func)!r} is not a Keras class name")
    return parts[0] if parts else func.id


def parse_layer(spec: str) -> LayerCall:
    """Parse one ``--layer`` value; a bare name such as ``Flatten`` means ``Flatten()``."""
    text = spec.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"layer spec {spec!r} is not valid: {exc.msg}") from None
    node = tree.body
    if isinstance(node, (ast.Name, ast.Attribute)):
        node = ast.Call(func=node, args=[], keywords=[])
    if not isinstance(node, ast.Call):
        raise UsageError(f'layer spec {spec!r} must be a layer call such as Dense(16, activation="relu")')
    return _call(node, spec, LayerCall)


def parse_shape(text: str) -> tuple[int | None, ...]:
    """Parse ``7129``, ``7129,``, ``(7129,)`` or ``28,28,1`` into a shape tuple."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise UsageError(f"input shape {text!r} is not a list of integers such as 7129 or 28,28,1") from None
    shape = value if isinstance(value, tuple) else (value,)
    if not shape or not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape):
        raise UsageError(f"input shape {text!r} must be positive integers (None for a variable length)")
    return shape


def parse_kwargs(text: str, option: str) -> dict:
    """``'learning_rate=0.01, momentum=0'`` -> dict, with the same literal rules as layer specs."""
    try:
        tree = ast.parse(f"_({text})", mode="eval")
    except SyntaxError:
        raise UsageError(f"{option}: {text!r} is not NAME=VALUE[, NAME=VALUE…]") from None
    node = tree.body
    if not isinstance(node, ast.Call):  # 'a=1), (2' closes the call early: an internal error before
        raise UsageError(f"{option}: {text!r} is not NAME=VALUE[, NAME=VALUE…]")
    if node.args:
        raise UsageError(f"{option}: {text!r}: give values as NAME=VALUE")
    call = _call(node, text, ObjectCall)
    return dict(call.kwargs.items())


def accepted_arguments(cls) -> set[str]:
    """The keyword arguments a layer class takes: its constructors' along the MRO, and the base Layer's."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names.update(p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "args", "kwargs"))
    return names | {"name", "dtype", "trainable", "autocast", "input_dim", "input_shape", "batch_size"}
