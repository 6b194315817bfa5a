"""Galaxy-ML's estimator files (``h5mlm``) read as data, never unpickled.

Galaxy-ML (0.10 and later) writes a Keras estimator as HDF5: ``-model_config-`` (JSON naming the
object, ``{"-object-": {"-keras_model-": 0}}`` for a bare Keras estimator), and under
``-keras_models-/0/`` the estimator's class name and parameters as JSON text, its fitted attributes
(``classes_``) as arrays, and once fitted its weights in Keras' HDF5 weight layout. Only those
JSON strings and arrays are read; no class the file names is imported. The architecture inside the
parameters is converted like any architecture (Keras 2 documents to Keras 3), the compile and fit
parameters are mapped to ours, and whatever has no counterpart is named in one warning.
"""

import contextlib
import inspect
import json
import sys

from galaxy_dl.data import hdf5guard
from galaxy_dl.data.documents import parse_json
from galaxy_dl.errors import ModelError, UsageError, first_line

CONFIG = "-model_config-"
KERAS_MODELS = "-keras_models-"
ESTIMATORS = {"KerasGClassifier": "classification", "KerasGRegressor": "regression"}
BATCH_ESTIMATORS = ("KerasGBatchClassifier", "KerasGBatchRegressor")
# Galaxy-ML's flat optimizer parameters; each goes to the optimizer when set and accepted by it.
OPTIMIZER_PARAMS = (
    "learning_rate",
    "rho",
    "epsilon",
    "centered",
    "momentum",
    "nesterov",
    "beta_1",
    "beta_2",
    "amsgrad",
    "initial_accumulator_value",
    "beta",
    "learning_rate_power",
    "l1_regularization_strength",
    "l2_regularization_strength",
    "l2_shrinkage_regularization_strength",
)
FIT_PARAMS = ("epochs", "batch_size", "validation_split", "steps_per_epoch", "validation_steps", "seed")
# Read elsewhere (config, model_type) or settings of Keras' runtime, not of the model: no warning when unset.
IGNORED_WHEN_UNSET = ("run_eagerly", "steps_per_execution")
# What predict heads its column with for these models: model_prediction's pandas default, so that
# workflows built on Galaxy-ML's predictions keep working.
PREDICTION_COLUMN = "0"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _text(dataset, what: str, source: str) -> str:
    value = dataset[()]
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise ModelError(f"{what} is not text", source=source)
    return value


def _json(dataset, what: str, source: str):
    return parse_json(_text(dataset, what, source), source, ModelError, what)


def _named_classes(node) -> list[str]:
    """Class names a Galaxy-ML object description mentions (its ``-reduce-``/``-global-`` entries), as text."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "-global-" and isinstance(value, list) and len(value) == 2:
                found.append(".".join(str(v) for v in value))
            else:
                found.extend(_named_classes(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_named_classes(value))
    return found


@contextlib.contextmanager
def _hdf5(path: str, source: str):
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ModelError(f"not a readable HDF5 file (truncated?): {first_line(exc)}", source=source) from None
    try:
        with handle:
            hdf5guard.check(handle, source, ModelError)
            yield handle
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"corrupt Galaxy-ML file: {first_line(exc)}", source=source) from None


def read(path: str, source: str) -> dict:
    """The parts of a Galaxy-ML Keras estimator file: class name, parameters, fitted classes and whether
    it holds weights. Anything that is not a plain Keras estimator is refused with what it is."""
    with _hdf5(path, source) as f:
        if CONFIG not in f:
            raise ModelError(
                "an HDF5 file, but not a Galaxy-ML model (no -model_config-); weights go to --weights", source=source
            )
        config = _json(f[CONFIG], "-model_config-", source)
        top = config.get("-object-") if isinstance(config, dict) else None
        if not (isinstance(top, dict) and set(top) == {"-keras_model-"}):
            named = _named_classes(config)
            what = f"a Galaxy-ML {named[0]}" if named else "a Galaxy-ML model that is not a Keras estimator"
            raise ModelError(
                f"{what}: galaxy-dl reads Galaxy-ML's Keras estimators (KerasGClassifier, KerasGRegressor) "
                "only; use Galaxy-ML's tools for it",
                source=source,
            )
        group = f.get(f"{KERAS_MODELS}/{top['-keras_model-']}")
        if group is None or "class_name" not in group or "params" not in group:
            raise ModelError("Galaxy-ML Keras estimator without class_name and params", source=source)
        class_name = _text(group["class_name"], "class_name", source)
        if class_name in BATCH_ESTIMATORS:
            raise ModelError(
                f"a Galaxy-ML {class_name}: it trains from a batch generator (sequences, images, genomic "
                "intervals), which galaxy-dl does not have; rebuild it with build-model from its "
                "architecture (keras_model_config's JSON) for tabular data",
                source=source,
            )
        if class_name not in ESTIMATORS:
            raise ModelError(
                f"class {class_name!r} is not a Galaxy-ML Keras estimator (KerasGClassifier, KerasGRegressor)",
                source=source,
            )
        params = _json(group["params"], "params", source)
        if not isinstance(params, dict) or not isinstance(params.get("config"), dict):
            raise ModelError("Galaxy-ML parameters without a model config", source=source)
        classes = None
        if "attributes" in group and "classes_" in group["attributes"]:
            classes = group["attributes"]["classes_"][()]
        return {
            "class_name": class_name,
            "params": params,
            "classes": classes,
            "fitted": "weights" in group,
            "weights_group": f"{KERAS_MODELS}/{top['-keras_model-']}/weights",
        }


def architecture_of(params: dict, source: str) -> dict:
    """Galaxy-ML keeps the model's inner config and ``model_type``; rebuild the document and convert it."""
    from galaxy_dl.model.architecture import parse_config

    inner = params["config"]
    functional = str(params.get("model_type", "sequential")).lower() == "functional" or "input_layers" in inner
    layers = inner.get("layers") or []
    keras3 = bool(layers) and all(isinstance(layer, dict) and "module" in layer for layer in layers)
    if keras3:
        doc = {
            "module": "keras.src.models.functional" if functional else "keras",
            "class_name": "Functional" if functional else "Sequential",
            "config": inner,
            "registered_name": None,
        }
    else:
        doc = {"class_name": "Model" if functional else "Sequential", "config": inner, "keras_version": "2"}
    return parse_config(json.dumps(doc), source)


def _callbacks(entries, unmapped: list) -> list:
    from galaxy_dl.model.compilation import CALLBACKS

    out = []
    for entry in entries or ():
        selection = entry.get("callback_selection", entry) if isinstance(entry, dict) else {}
        kind = selection.get("callback_type")
        if kind in (None, "None"):
            continue
        config = {k: v for k, v in selection.items() if k != "callback_type" and v is not None}
        if kind in CALLBACKS:
            out.append({"class_name": kind, "config": config})
        else:
            unmapped.append(f"callback {kind}")
    return out


def estimator_params(params: dict, source: str) -> dict:
    """Galaxy-ML's flat parameters as ours; what has no counterpart is named in one warning."""
    from galaxy_dl.model.compilation import optimizer_class

    unmapped = []
    out = {key: params[key] for key in FIT_PARAMS if params.get(key) is not None}
    out["loss"] = params.get("loss")
    if params.get("loss_weights") is not None:
        out["loss_weights"] = params["loss_weights"]
    out["metrics"] = [str(m) for m in params.get("metrics") or []]
    out["optimizer"] = str(params.get("optimizer") or "rmsprop")
    try:
        accepted = set(inspect.signature(optimizer_class(out["optimizer"]).__init__).parameters)
    except UsageError as exc:
        raise ModelError(str(exc), source=source) from None
    out["optimizer_params"] = {}
    for key in OPTIMIZER_PARAMS:
        value = params.get(key)
        if value is None:
            continue
        if key in accepted:
            out["optimizer_params"][key] = value
        elif value not in (False, 0, 0.0):
            unmapped.append(f"{key}={value!r} (not a parameter of {out['optimizer']})")
    out["callbacks"] = _callbacks(params.get("callbacks"), unmapped)
    verbose = params.get("verbose")
    out["verbose"] = verbose if verbose in (0, 1, 2) else "auto"
    for key in IGNORED_WHEN_UNSET:
        if params.get(key) is not None:
            unmapped.append(f"{key}={params[key]!r}")
    known = (
        set(OPTIMIZER_PARAMS)
        | set(FIT_PARAMS)
        | set(IGNORED_WHEN_UNSET)
        | {"loss", "loss_weights", "metrics", "optimizer", "callbacks", "verbose", "config", "model_type"}
    )
    unmapped.extend(f"{key}={params[key]!r}" for key in sorted(set(params) - known) if params[key] is not None)
    if unmapped:
        _warn(f"{source}: Galaxy-ML settings with no galaxy-dl counterpart, not used: {', '.join(unmapped)}")
    return out


def convert(path: str, source: str):
    """The Galaxy-ML file as an unfitted galaxy-dl estimator, its architecture, and what else it holds
    (``fitted``, ``classes``, ``weights_group``); archive.load attaches the weights of a fitted one."""
    from galaxy_dl.model.estimator import ESTIMATORS as OURS

    parts = read(path, source)
    architecture = architecture_of(parts["params"], source)
    try:
        estimator = OURS[ESTIMATORS[parts["class_name"]]](
            architecture=architecture, **estimator_params(parts["params"], source)
        )
        estimator.validate()
    except UsageError as exc:
        raise ModelError(f"invalid parameters: {exc}", source=source) from None
    return estimator, architecture, parts


@contextlib.contextmanager
def weights_file(path: str, group: str, source: str):
    """The weights group as a file of its own (Keras' HDF5 weights layout), so Keras' loader reads it."""
    import os
    import tempfile

    import h5py

    fd, tmp = tempfile.mkstemp(suffix=".h5", prefix="galaxy-dl-h5mlm-")
    os.close(fd)
    try:
        with _hdf5(path, source) as src, h5py.File(tmp, "w") as dst:
            weights = src[group]
            for key, value in weights.attrs.items():
                dst.attrs[key] = value
            for name in weights:
                src.copy(weights[name], dst, name=name)
        yield tmp
    finally:
        os.unlink(tmp)
