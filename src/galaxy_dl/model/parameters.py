"""The names an estimator's parameters go by beyond scikit-learn's own: a layer argument (``dense_1.units``), an
optimizer parameter (``learning_rate``), a callback argument (``EarlyStopping.patience``).

``KerasEstimator.set_params`` takes them through :func:`native`, so scikit-learn's search classes vary them like
any other parameter; :mod:`galaxy_dl.runs.searchspace` (runs) parses and checks the values a search is given.
"""

import copy
import difflib
import functools
import inspect
from typing import Any

from galaxy_dl.errors import UsageError

SETTINGS = (
    "epochs",
    "batch_size",
    "optimizer",
    "loss",
    "loss_weights",
    "class_weight",
    "shuffle",
    "validation_split",
    "steps_per_epoch",
)
FIXED_LAYER_ARGUMENTS = {
    "name",
    "dtype",
    "trainable",
    "batch_shape",
    "batch_input_shape",
    "input_shape",
    "sparse",
    "ragged",
    "optional",
}
MODEL_CLASSES = {"Sequential", "Functional", "Model"}


def searchable(estimator) -> list[tuple[str, object, str]]:
    """(name, current value, what it belongs to) for every name a search may vary, in that order:
    settings, optimizer parameters, callback arguments, layer arguments."""
    from galaxy_dl.model.compilation import callback_class, optimizer_class

    rows = [(name, getattr(estimator, name), "build-model setting") for name in SETTINGS]
    optimizer = optimizer_class(estimator.optimizer)
    given = dict(estimator.optimizer_params or {})
    rows += [
        (name, given.get(name, default), f"optimizer {optimizer.__name__}")
        for name, default in _defaults(optimizer).items()
    ]
    for spec in estimator.callbacks or ():
        rows += [
            (f"{spec['class_name']}.{name}", spec["config"].get(name, default), f"callback {spec['class_name']}")
            for name, default in _defaults(callback_class(spec["class_name"])).items()
        ]
    for layer in layer_configs(estimator.architecture):
        config = layer["config"]
        rows += [
            (f"{config['name']}.{name}", value, f"layer {layer['class_name']}")
            for name, value in config.items()
            if name not in FIXED_LAYER_ARGUMENTS
        ]
    return rows


def _defaults(cls) -> dict:
    return {
        name: None if p.default is inspect.Parameter.empty else p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name not in ("self", "args", "kwargs", "name")
    }


@functools.cache
def _optimizer_parameters() -> frozenset:
    """Parameters of any optimizer: a search may vary the optimizer and its parameters together."""
    from galaxy_dl.model.compilation import OPTIMIZERS, optimizer_class

    return frozenset(name for optimizer in OPTIMIZERS for name in _defaults(optimizer_class(optimizer)))


def layer_configs(architecture):
    """Every layer config of a model config, nested models' layers included (their own entries too)."""
    for layer in (architecture or {}).get("config", {}).get("layers", []):
        if isinstance(layer, dict) and isinstance(layer.get("config"), dict) and layer["config"].get("name"):
            if layer.get("class_name") != "InputLayer":
                yield layer
            if layer.get("class_name") in MODEL_CLASSES:
                yield from layer_configs(layer)


def locate(estimator, name: str) -> tuple[str, str | None, str]:
    """(kind, owner, argument) of a searchable name: kind is setting, optimizer, callback or layer."""
    from galaxy_dl.runtime import import_keras

    import_keras()  # optimizer and callback arguments come from Keras: in a search's worker, the first import
    if name in SETTINGS:
        return "setting", None, name
    owner, dot, argument = name.rpartition(".")
    if dot:
        for layer in layer_configs(estimator.architecture):
            if (
                layer["config"]["name"] == owner
                and argument in layer["config"]
                and argument not in FIXED_LAYER_ARGUMENTS
            ):
                return "layer", owner, argument
        from galaxy_dl.model.compilation import callback_class

        if any(spec["class_name"] == owner for spec in estimator.callbacks or ()) and argument in _defaults(
            callback_class(owner)
        ):
            return "callback", owner, argument
    elif name in _optimizer_parameters():
        return "optimizer", None, name
    names = [row[0] for row in searchable(estimator)]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise UsageError(f"--param {name}: no such parameter{hint}; train-eval --list-params lists them all")


def plain(value):
    """NumPy scalars (what scipy's distributions draw) as Python values, so archives stay JSON."""
    return value.item() if hasattr(value, "item") else value


def native(estimator, params: dict) -> dict:
    """``params`` as the estimator's own parameters: searched names become changes to copies of its
    architecture, optimizer parameters or callbacks (used by ``KerasEstimator.set_params``)."""
    own = set(estimator._get_param_names())
    result = {key: plain(value) for key, value in params.items() if key in own}
    changed: dict[str, Any] = {}
    for name, value in params.items():
        if name in own:
            continue
        kind, owner, argument = locate(estimator, name)
        value = plain(value)
        if kind == "optimizer":
            changed.setdefault(
                "optimizer_params", dict(result.get("optimizer_params", estimator.optimizer_params) or {})
            )
            changed["optimizer_params"][argument] = value
        elif kind == "callback":
            if "callbacks" not in changed:
                changed["callbacks"] = copy.deepcopy(list(result.get("callbacks", estimator.callbacks) or []))
            for spec in changed["callbacks"]:
                if spec["class_name"] == owner:
                    spec["config"][argument] = value
        else:
            if "architecture" not in changed:
                changed["architecture"] = copy.deepcopy(result.get("architecture", estimator.architecture))
            for layer in layer_configs(changed["architecture"]):
                layer.pop("build_config", None)  # shapes change with units: Keras builds each layer again
                if layer["config"]["name"] == owner:
                    layer["config"][argument] = value
    return {**result, **changed}
