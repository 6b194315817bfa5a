"""Convert Keras 2 architecture JSON (what Galaxy-ML's ``keras_model_config`` writes) to Keras 3.

Keras 2 documents lack the ``module`` keys Keras 3 needs to find classes, carry the
input shape as ``batch_input_shape`` on the first layer, call functional models
``Model``, and keep a few arguments Keras 3 dropped. Arguments that no longer exist
and changed nothing at their old value are dropped with a warning; arguments whose
old value meant something Keras 3 can no longer do are an error.
"""

import inspect
import sys

from galaxy_dl.errors import ModelError, first_line
from galaxy_dl.model.layerspec import REMOVED_LAYERS, RENAMED_LAYERS, accepted_arguments

# (argument, value that had no effect); any other value changes meaning.
DROPPED_ARGUMENTS = {
    "time_major": False,
    "implementation": None,  # any value: a performance hint only
}


def is_keras2(config: dict) -> bool:
    version = str(config.get("keras_version", ""))
    return version.startswith(("1.", "2.")) or "module" not in config


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _convert_layer(layer: dict, source: str, keras) -> dict:
    cls_name = layer.get("class_name")
    cls = getattr(keras.layers, str(cls_name), None)
    if not inspect.isclass(cls):
        if cls_name in RENAMED_LAYERS:
            _warn(f"{source}: {cls_name} becomes {RENAMED_LAYERS[cls_name]} in Keras 3")
            cls_name = RENAMED_LAYERS[cls_name]
            cls = getattr(keras.layers, cls_name)
        elif cls_name in REMOVED_LAYERS:
            raise ModelError(
                f"layer class {cls_name} does not exist in Keras 3; use {REMOVED_LAYERS[cls_name]}", source=source
            )
        else:
            raise ModelError(f"unknown layer class {cls_name!r}", source=source)
    config = dict(layer.get("config") or {})
    if cls_name == "InputLayer":
        if "batch_input_shape" in config:
            config["batch_shape"] = config.pop("batch_input_shape")
        config.pop("ragged", None)
    else:
        accepted = accepted_arguments(cls) | {"batch_input_shape"}
        unknown = sorted(set(config) - accepted)
        known = {k: v for k, v in config.items() if k in accepted and k != "batch_input_shape"}
        for key in unknown:
            value = config.pop(key)
            verdict = _keras_verdict(cls, known, key, value)
            if verdict == "accepted":
                config[key] = value
                continue
            if verdict is not None:
                _warn(f"{source}: layer {config.get('name', cls_name)}: dropped {key}={value!r} (Keras 3: {verdict})")
                continue
            harmless = DROPPED_ARGUMENTS.get(key, "missing")
            if harmless is None or value == harmless or value in (None, False):
                _warn(
                    f"{source}: layer {config.get('name', cls_name)}: dropped {key}={value!r} (gone in Keras 3, "
                    "no effect)"
                )
            else:
                raise ModelError(
                    f"layer {config.get('name', cls_name)}: {key}={value!r} has no Keras 3 equivalent", source=source
                )
    out = {"module": "keras.layers", "class_name": cls_name, "config": config, "registered_name": None}
    if "inbound_nodes" in layer:
        out["inbound_nodes"] = layer["inbound_nodes"]
    if "name" in layer:
        out["name"] = layer["name"]
    return out


def _keras_verdict(cls, known: dict, key: str, value):
    """What Keras 3 itself does with an argument its signature lacks: ``"accepted"``, the text of
    the deprecation warning with which it drops it (as Embedding does ``input_length``), or None
    when it refuses the argument."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls.from_config({**known, key: value})
    except Exception:  # Keras refuses unknown arguments with TypeError or ValueError, nested configs with others
        return None
    for warning in caught:
        text = str(warning.message)
        if f"`{key}`" in text or f"'{key}'" in text:
            return first_line(warning.message)
    return "accepted"


def convert_keras2(config: dict, source: str) -> dict:
    """A Keras 3 model config equivalent to the Keras 2 ``config``."""
    import keras

    inner = dict(config["config"])
    layers = inner.get("layers")
    if not isinstance(layers, list):
        raise ModelError("Keras 2 architecture without a 'layers' list", source=source)
    converted = [_convert_layer(layer, source, keras) for layer in layers if isinstance(layer, dict)]
    if config["class_name"] == "Sequential":
        first = converted[0]["config"] if converted else {}
        if "batch_input_shape" in first:
            shape = first.pop("batch_input_shape")
            converted.insert(
                0,
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": shape, "dtype": first.get("dtype", "float32"), "name": "input_layer"},
                    "registered_name": None,
                },
            )
        inner["layers"] = converted
        class_name = "Sequential"
    else:
        inner["layers"] = converted
        class_name = "Functional"
    for layer in converted:
        layer["config"].pop("batch_input_shape", None)
    _warn(f"{source}: converted a Keras {config.get('keras_version', '2')} architecture to Keras 3")
    module = "keras" if class_name == "Sequential" else "keras.src.models.functional"
    return {"module": module, "class_name": class_name, "config": inner, "registered_name": None}
