"""Model architectures: build them from layer specs, write them as Keras JSON, load them safely.

The JSON is exactly what Keras 3's ``model.to_json()`` writes (pretty-printed), so
``keras.models.model_from_json`` reads it too. Loading never imports a module or
runs code named by the file: every ``module`` in the config must be Keras' own, and
layers that carry code are refused before Keras sees the config.
"""

import inspect
import json
import math
import re
import sys
import warnings

from galaxy_dl import limits
from galaxy_dl.data.documents import parse_json
from galaxy_dl.errors import ModelError, UsageError, first_line, suggest
from galaxy_dl.model.layerspec import (
    ARGUMENT_MODULES,
    REMOVED_LAYERS,
    RENAMED_ARGUMENTS,
    RENAMED_LAYERS,
    LayerCall,
    ObjectCall,
    accepted_arguments,
)

# Layer classes that hold code or load other files: never built, never loaded.
FORBIDDEN_CLASSES = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "InputLayer"}
MODEL_CLASSES = {"Sequential", "Functional", "Model"}
# Layer arguments that Keras reads as a file when given text (StringLookup, IntegerLookup, TextVectorization):
# a server's file would become part of the model. Only inline values are accepted.
PATH_ARGUMENTS = ("vocabulary",)
# What TensorFlow accepts in the name scopes it makes of layer names (a space or a colon fails only in training).
LAYER_NAME = re.compile(r"[A-Za-z0-9_.>-]+")


def _layer_classes(keras) -> dict:
    return {
        name: obj
        for name, obj in vars(keras.layers).items()
        if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer) and name not in FORBIDDEN_CLASSES
    }


def build_object(call: ObjectCall, where: str):
    """Instantiate a class named inside a layer spec: an initializer, regularizer or constraint, or a
    layer (an RNN cell, or the layer a wrapper such as Bidirectional or TimeDistributed wraps)."""
    import keras

    for module_name in ARGUMENT_MODULES:
        module = getattr(keras, module_name)
        cls = getattr(module, call.name, None)
        if inspect.isclass(cls):
            try:
                return cls(*_resolve(call.args, where), **_resolve(call.kwargs, where))
            except (TypeError, ValueError) as exc:
                raise UsageError(f"{where}: {call.name}: {exc}") from None
    layers = _layer_classes(keras)
    if call.name in layers or call.name in REMOVED_LAYERS or call.name in RENAMED_LAYERS:
        return make_layer(LayerCall(call.name, call.args, call.kwargs))
    known = [n for m in ARGUMENT_MODULES for n, o in vars(getattr(keras, m)).items() if inspect.isclass(o)]
    raise UsageError(
        f"{where}: {call.name!r} is not a Keras layer, initializer, regularizer or "
        f"constraint{suggest(call.name, known + list(layers))}"
    )


def _resolve(value, where: str):
    if isinstance(value, ObjectCall):
        return build_object(value, where)
    if isinstance(value, list):
        return [_resolve(v, where) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, where) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(v, where) for k, v in value.items()}
    return value


def make_layer(call: LayerCall, name: str | None = None):
    """Instantiate the Keras layer a :class:`LayerCall` names, with a clear error for each mistake."""
    import keras

    where = f"layer {call.text or call.name!r}"
    classes = _layer_classes(keras)
    cls_name = call.name
    if cls_name in REMOVED_LAYERS:
        raise UsageError(f"{where}: Keras 3 has no {cls_name}; use {REMOVED_LAYERS[cls_name]}")
    if cls_name in RENAMED_LAYERS:
        print(f"warning: {cls_name} is {RENAMED_LAYERS[cls_name]} in Keras 3 (it picks cuDNN itself)", file=sys.stderr)
        cls_name = RENAMED_LAYERS[cls_name]
    cls = classes.get(cls_name)
    if cls is None:
        raise UsageError(f"{where}: unknown layer {call.name!r}{suggest(call.name, classes)}")
    kwargs = {}
    for key, value in call.kwargs.items():
        key = RENAMED_ARGUMENTS.get((cls_name, key), key)
        kwargs[key] = _resolve(value, where)
    if name is not None:
        kwargs.setdefault("name", name)
    if "name" in kwargs:
        check_name(kwargs["name"], where, UsageError)
    accepted = accepted_arguments(cls)
    for key in [key for key in kwargs if key not in accepted]:
        dropped = _dropped_by_keras(cls, _resolve(call.args, where), kwargs, key)
        if dropped is None:
            raise UsageError(f"{where}: {cls_name} takes no argument {key!r}{suggest(key, accepted)}")
        print(
            f"warning: {where}: {key} is a Keras 2 argument that Keras 3 drops ({dropped}); left out", file=sys.stderr
        )
        del kwargs[key]
    _refuse_paths(cls, call.args, kwargs, where)
    try:
        return cls(*_resolve(call.args, where), **kwargs)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {first_line(exc)}") from None


def _dropped_by_keras(cls, args, kwargs: dict, key: str) -> str | None:
    """Keras' own deprecation warning when it accepts ``key`` only to drop it (Embedding's ``input_length``, as
    older GTN tutorials write it), else None."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(*args, **kwargs)
    except Exception:  # refused: the caller says which argument
        return None
    return next((first_line(w.message) for w in caught if key in str(w.message)), None)


def check_name(name, where: str, error: type, source: str | None = None) -> None:
    if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
        raise error(f"{where}: layer name {name!r} may hold only letters, digits and _ . - >", source=source)


def _refuse_paths(cls, args, kwargs, where: str) -> None:
    """Refuse a file named by an argument Keras would read it from (positional or by name)."""
    try:
        bound = inspect.signature(cls.__init__).bind_partial(None, *args, **kwargs).arguments
    except TypeError:
        bound = kwargs  # Keras reports the mismatch itself
    for key in PATH_ARGUMENTS:
        if isinstance(bound.get(key), str):
            raise UsageError(
                f"{where}: {key} must be given inline as a list, not as a file name "
                "(no layer may read a file of the server)"
            )


def sized(build, source: str | None, error: type):
    """The model ``build()`` makes, refused before its weights take memory when it is too large.

    Inside a ``keras.StatelessScope`` Keras creates every variable with its shape but no value; the
    parameters and each layer's output per row are counted then, and only a model within the limits
    (:mod:`galaxy_dl.limits`) gets its values, initialised in the order they were created.
    """
    import keras
    from keras.src.backend.common import global_state

    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build()
        check_size(model, source, error)
    except BaseException:
        global_state.set_global_attribute("uninitialized_variables", [])  # what was refused is never initialised
        raise
    with keras.StatelessScope():
        pass  # leaving it initialises the deferred variables
    return model


def check_size(model, source: str | None, error: type) -> None:
    import keras

    ceiling = limits.max_params()
    count = sum(math.prod(v.shape) for v in model.weights)
    if count > ceiling:
        raise error(
            f"the model has {count:,} parameters, more than the limit of {ceiling:,} (raise it with --max-params)",
            source=source,
        )
    for layer in model.layers:
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer not called on a known shape
            continue
        for tensor in outputs:
            dims = tuple(tensor.shape[1:])
            if dims and None not in dims and math.prod(dims) > limits.MAX_LAYER_OUTPUT:
                raise error(
                    f"layer {layer.name!r} outputs {math.prod(dims):,} values per row (shape {dims}), more than "
                    f"{limits.MAX_LAYER_OUTPUT:,}",
                    source=source,
                )


def build_sequential(input_shape: tuple, calls: list[LayerCall], name: str | None = None):
    """A Sequential model from an input shape and layer calls; shape errors name the layer."""
    import keras

    if not calls:
        raise UsageError("give at least one --layer")
    keras.backend.clear_session(
        free_memory=False
    )  # layer names restart at 'dense': same specs, same JSON, in any process

    def build():
        model = keras.Sequential(name=name)
        model.add(keras.Input(shape=input_shape))
        for call in calls:
            layer = make_layer(call)
            try:
                model.add(layer)
            except (TypeError, ValueError) as exc:
                raise UsageError(
                    f"layer {call.text or call.name!r} does not fit the previous output: {first_line(exc)}"
                ) from None
        return model

    return sized(build, None, UsageError)


def build_functional(spec: dict, source: str):
    """A functional model from a graph spec (inputs, named layers wired by name, outputs)."""
    return sized(lambda: _functional(spec, source), source, UsageError)


def _functional(spec: dict, source: str):
    import keras

    from galaxy_dl.model.layerspec import parse_layer, parse_shape

    def fail(msg):
        raise UsageError(msg, source=source)

    if not isinstance(spec, dict):
        fail("the spec must be a mapping with 'inputs', 'layers' and 'outputs'")
    keras.backend.clear_session(free_memory=False)
    unknown = set(spec) - {"name", "inputs", "layers", "outputs"}
    if unknown:
        key = sorted(unknown)[0]
        fail(f"unknown key {key!r}{suggest(key, ['name', 'inputs', 'layers', 'outputs'])}")
    tensors: dict = {}
    inputs = []
    for i, entry in enumerate(spec.get("inputs") or []):
        if not isinstance(entry, dict) or "shape" not in entry:
            fail(f"inputs[{i}] needs a 'shape' (and a 'name')")
        name = str(entry.get("name", f"input_{i + 1}"))
        shape = parse_shape(str(tuple(entry["shape"])) if isinstance(entry["shape"], list) else str(entry["shape"]))
        tensors[name] = keras.Input(shape=shape, name=name)
        inputs.append(tensors[name])
    if not inputs:
        fail("declare at least one entry under 'inputs'")
    previous = inputs[-1]
    for i, entry in enumerate(spec.get("layers") or []):
        if isinstance(entry, str):
            entry = {"layer": entry}
        if not isinstance(entry, dict) or "layer" not in entry:
            fail(f"layers[{i}] needs a 'layer' such as 'Dense(8)'")
        call = parse_layer(str(entry["layer"]))
        name = entry.get("name")
        layer = make_layer(call, name=str(name) if name is not None else None)
        wired = entry.get("inputs")
        if wired is None:
            args = previous
        else:
            wired = wired if isinstance(wired, list) else [wired]
            args = []
            for ref in wired:
                if isinstance(ref, int) and not isinstance(ref, bool):
                    refs = list(tensors)
                    if not -len(refs) <= ref < len(refs):
                        fail(f"layers[{i}] wires index {ref}, but only {len(refs)} tensors exist")
                    args.append(tensors[refs[ref]])
                elif str(ref) in tensors:
                    args.append(tensors[str(ref)])
                else:
                    fail(f"layers[{i}] wires {ref!r}, which is not defined above{suggest(str(ref), tensors)}")
            args = args[0] if len(args) == 1 else args
        try:
            previous = layer(args)
        except (TypeError, ValueError) as exc:
            fail(f"layers[{i}] ({call.text}): {first_line(exc)}")
        tensors[layer.name] = previous
    outputs = []
    for ref in spec.get("outputs") or [layer.name]:
        if str(ref) not in tensors:
            fail(f"output {ref!r} is not a layer defined above{suggest(str(ref), tensors)}")
        outputs.append(tensors[str(ref)])
    return keras.Model(
        inputs=inputs if len(inputs) > 1 else inputs[0],
        outputs=outputs if len(outputs) > 1 else outputs[0],
        name=spec.get("name"),
    )


def to_json(model) -> str:
    """Keras' own JSON, pretty-printed with sorted keys so that diffs are readable and stable."""
    return json.dumps(json.loads(model.to_json()), indent=2, sort_keys=True) + "\n"


def _walk(node, path="$"):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def check_safe(config: dict, source: str) -> None:
    """Refuse configs that would make Keras import foreign modules or deserialize code."""
    for path, node in _walk(config):
        module = node.get("module")
        if isinstance(module, str) and not (module == "builtins" or module == "keras" or module.startswith("keras.")):
            raise ModelError(
                f"refused: {path} names module {module!r}; only Keras' own classes are loaded", source=source
            )
        cls = node.get("class_name")
        if cls in FORBIDDEN_CLASSES - {"InputLayer"}:
            raise ModelError(f"refused: {path} is a {cls} layer, which would run code from the file", source=source)
        if cls == "__lambda__" or (node.get("registered_name") == "function" and "code" in node.get("config", {})):
            raise ModelError(f"refused: {path} holds Python code", source=source)
        config = node.get("config")
        if ".layers[" in path and path.endswith("]") and isinstance(config, dict) and "name" in config:
            check_name(config["name"], path, ModelError, source)
        for key in PATH_ARGUMENTS:
            if isinstance(node.get(key), str):
                raise ModelError(
                    f"refused: {path}.{key} names a file; a layer may not read a file of the server "
                    "(give the values inline)",
                    source=source,
                )


def parse_config(text: str, source: str) -> dict:
    """Parse and check an architecture JSON document; convert Keras 2 documents to Keras 3."""
    config = parse_json(text, source, ModelError)
    if (
        not isinstance(config, dict)
        or config.get("class_name") not in MODEL_CLASSES
        or not isinstance(config.get("config"), dict)
    ):
        raise ModelError(
            "JSON but not a Keras model architecture (expected class_name Sequential, Functional or Model)",
            source=source,
        )
    from galaxy_dl.model.legacy import convert_keras2, is_keras2

    if is_keras2(config):
        config = convert_keras2(config, source)
    check_safe(config, source)
    return config


def model_from_config(config: dict, source: str):
    """Deserialize in Keras' safe mode; any failure is a one-line ModelError naming the file.

    Keras consumes parts of the dict it deserializes (a Functional config comes back empty), so it
    gets a copy: the caller's config is what gets stored.
    """
    import copy

    import keras

    def build():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
        except Exception as exc:  # Keras raises many types for bad configs
            raise ModelError(f"cannot build the model: {first_line(exc)}", source=source) from None

    return sized(build, source, ModelError)


def load_json_file(path: str, source: str | None = None) -> dict:
    source = source or path
    from galaxy_dl.data.fileio import open_input

    with open_input(path, ModelError, source, "an architecture JSON") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError("not a text file (not UTF-8); expected an architecture JSON", source=source) from None
    return parse_config(text, source)


def config_output_names(config: dict) -> list[str]:
    """The model's output names, read from its config without building it (Keras names outputs by layer)."""
    inner = config.get("config") or {}
    if config.get("class_name") == "Sequential":
        layers = inner.get("layers") or []
        return [str(layers[-1].get("config", {}).get("name"))] if layers else []
    spec = inner.get("output_layers") or []
    if isinstance(spec, dict):
        spec = list(spec.values())
    if spec and isinstance(spec[0], str):  # one output written as [name, node, tensor]
        spec = [spec]
    return [str(entry[0]) for entry in spec]


def summary(model) -> str:
    lines = []
    model.summary(print_fn=lambda text, line_break=False: lines.append(text), line_length=100)
    return "\n".join(lines)
