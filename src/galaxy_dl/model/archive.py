"""The estimator archive: a ZIP of JSON members and, once fitted, HDF5 weights. Never a pickle.

Members (see :mod:`galaxy_dl.data.formats`): a manifest (format name, version, library
versions), the architecture, the parameters, and when fitted the learned state and
the weights. Writing is deterministic (fixed timestamps, order and permissions), so
the same inputs give a byte-identical file. Reading checks names, sizes and
compression ratios before inflating anything, and executes nothing.
"""

import io
import json
import platform
import zipfile
import zlib

from galaxy_dl import __version__, limits
from galaxy_dl.data import formats
from galaxy_dl.data.documents import parse_json
from galaxy_dl.data.fileio import atomic_path, open_input
from galaxy_dl.errors import ModelError, UsageError, first_line

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
PICKLE_PREFIXES = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
FITTED_STATE = (
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "history_",
    "target_layout_",
    "targets_",
    "encoding_",
)
ALLOWED_MEMBERS = {formats.MANIFEST, formats.ARCHITECTURE, formats.PARAMS, formats.STATE, formats.WEIGHTS}


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def _versions() -> dict:
    import keras
    import numpy
    import sklearn

    return {
        "galaxy_dl": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "scikit_learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _plain(value):
    """numpy scalars and arrays (and lists of arrays) to JSON-native values."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def to_bytes(estimator) -> bytes:
    """Serialize an estimator (fitted or not) to the archive's bytes."""
    from galaxy_dl.model.weights import to_bytes as weights_bytes

    params = estimator.get_params()
    architecture = params.pop("architecture")
    fitted = hasattr(estimator, "model_")
    manifest = {
        "format": formats.ESTIMATOR_FORMAT,
        "format_version": formats.ESTIMATOR_VERSION,
        "task": estimator.task,
        "fitted": fitted,
        "created_by": _versions(),
    }
    members = [
        (formats.MANIFEST, _json_bytes(manifest)),
        (formats.ARCHITECTURE, _json_bytes(architecture)),
        (formats.PARAMS, _json_bytes(params)),
    ]
    if fitted:
        state = {name: _plain(getattr(estimator, name, None)) for name in FITTED_STATE}
        if getattr(estimator, "best_params_", None) is not None:  # chosen by a search (galaxy_dl.runs.search)
            state["best_params_"] = estimator.best_params_
        members.append((formats.STATE, _json_bytes(state)))
        members.append((formats.WEIGHTS, weights_bytes(estimator.model_)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data)
    return buffer.getvalue()


def save(estimator, path: str) -> None:
    data = to_bytes(estimator)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def _head(path: str, source: str) -> bytes:
    """The first bytes, which tell our archive from Galaxy-ML's HDF5 and from a pickle."""
    with open_input(path, ModelError, source, "an estimator archive") as fh:
        return fh.read(8)


def _read_members(path: str, source: str, head: bytes) -> dict[str, bytes]:
    if head.startswith(PICKLE_PREFIXES):
        raise ModelError(
            "is a Python pickle (a Galaxy-ML model?); pickles can run code and are refused: rebuild it with "
            "build-model",
            source=source,
        )
    try:
        zf = zipfile.ZipFile(path)
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,
    ):
        raise ModelError(
            "not a galaxy-dl estimator archive (not a valid ZIP file, or truncated)", source=source
        ) from None
    members = {}
    with zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
                raise ModelError(f"refused: unsafe member name {name!r}", source=source)
            if name not in ALLOWED_MEMBERS:
                raise ModelError(f"unexpected member {name!r}", source=source)
            limit = limits.MAX_MEMBER_BYTES if name == formats.WEIGHTS else limits.MAX_JSON_BYTES
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limit or (
                info.file_size > limits.RATIO_FLOOR_BYTES and ratio > limits.MAX_COMPRESSION_RATIO
            ):
                raise ModelError(
                    f"refused: member {name!r} would inflate to {info.file_size} bytes (zip bomb?)", source=source
                )
            if name in members:
                raise ModelError(f"member {name!r} appears twice", source=source)
            try:
                with zf.open(info) as member:  # never more than the header declares, whatever the stream holds
                    data = member.read(info.file_size + 1)
            except (
                zipfile.BadZipFile,
                zlib.error,
                OSError,
                EOFError,
                ValueError,
                RuntimeError,
                NotImplementedError,
            ) as exc:
                raise ModelError(f"member {name!r} is corrupt: {first_line(exc)}", source=source) from None
            if len(data) != info.file_size:
                raise ModelError(
                    f"member {name!r} is corrupt (it does not inflate to the size its header declares)", source=source
                )
            members[name] = data
    return members


def _json_member(members: dict, name: str, source: str, expect=dict):
    if name not in members:
        raise ModelError(f"member {name!r} is missing", source=source)
    value = parse_json(members[name], source, ModelError, f"member {name!r}")
    if not isinstance(value, expect):
        raise ModelError(f"member {name!r} has the wrong structure", source=source)
    return value


def read_manifest(members: dict, source: str) -> dict:
    manifest = _json_member(members, formats.MANIFEST, source)
    if manifest.get("format") != formats.ESTIMATOR_FORMAT:
        raise ModelError(f"not a galaxy-dl estimator archive (format {manifest.get('format')!r})", source=source)
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"invalid format version {version!r}", source=source)
    if version > formats.ESTIMATOR_VERSION:
        raise ModelError(
            f"written by a newer galaxy-dl (format version {version}; this one reads up to "
            f"{formats.ESTIMATOR_VERSION}): upgrade galaxy-dl",
            source=source,
        )
    return manifest


def attach_model(estimator, architecture: dict, source: str, weights) -> None:
    """Build and compile the estimator's model and load its weights: ``weights`` is (path, source) of an
    HDF5 file, or the bytes of the archive's weights member."""
    from galaxy_dl.model.architecture import model_from_config
    from galaxy_dl.model.weights import load as load_weights_file
    from galaxy_dl.model.weights import load_bytes

    model = model_from_config(architecture, source)
    estimator._compile(model)
    model.optimizer.build(model.trainable_variables)  # so the saved optimizer state loads too
    if isinstance(weights, bytes):
        load_bytes(model, weights, f"{source} ({formats.WEIGHTS})")
    else:
        load_weights_file(model, *weights)
    estimator.model_ = model


def load(path: str, source: str | None = None, *, require_fitted: bool = False, weights: tuple[str, str] | None = None):
    """Read an archive (or a Galaxy-ML h5mlm file) into an estimator; a fitted one gets its model and weights back.

    ``weights`` = (path, source) loads the weights from that HDF5 file instead of the archive's member.
    """
    import numpy as np

    from galaxy_dl.model.architecture import check_safe
    from galaxy_dl.model.estimator import ESTIMATORS, LAYOUTS

    source = source or path
    head = _head(path, source)
    if head.startswith(formats.HDF5_SIGNATURE):
        return _load_galaxyml(path, source, require_fitted=require_fitted, weights=weights)
    members = _read_members(path, source, head)
    manifest = read_manifest(members, source)
    task = manifest.get("task")
    if task not in ESTIMATORS:
        raise ModelError(f"unknown task {task!r}", source=source)
    architecture = _json_member(members, formats.ARCHITECTURE, source)
    check_safe(architecture, source)
    params = _json_member(members, formats.PARAMS, source)
    cls = ESTIMATORS[task]
    known = set(cls._get_param_names()) - {"architecture"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ModelError(f"member {formats.PARAMS!r} has unknown parameter {unknown[0]!r}", source=source)
    try:
        estimator = cls(architecture=architecture, **params)
        estimator.validate()
    except UsageError as exc:
        raise ModelError(f"invalid parameters: {exc}", source=source) from None
    if manifest.get("fitted"):
        state = _json_member(members, formats.STATE, source)
        if formats.WEIGHTS not in members:
            raise ModelError(f"member {formats.WEIGHTS!r} is missing", source=source)
        attach_model(estimator, architecture, source, weights or members[formats.WEIGHTS])
        layout = state.get("target_layout_") or "single"
        if layout not in LAYOUTS:
            raise ModelError(f"unknown label layout {layout!r}", source=source)
        estimator.target_layout_ = layout
        if task == "classification":
            classes = state.get("classes_")
            if not isinstance(classes, list) or not classes:
                raise ModelError("fitted classifier without class labels", source=source)
            estimator.classes_ = [np.asarray(c) for c in classes] if layout == "multioutput" else np.asarray(classes)
            _check_classes(estimator, layout, source)
        targets = state.get("targets_")
        if targets is not None:
            estimator.targets_ = [str(t) for t in targets]
        n = state.get("n_features_in_")
        if not isinstance(n, int) or isinstance(n, bool):
            raise ModelError("fitted estimator without its feature count", source=source)
        inputs = model_width(estimator.model_)
        if n < 1 or (inputs is not None and n != inputs):
            raise ModelError(f"{formats.STATE} says {n} features, but the model takes {inputs}", source=source)
        estimator.n_features_in_ = n
        names = state.get("feature_names_in_")
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        _load_encoding(estimator, state.get("encoding_"), source)
        estimator.history_ = state.get("history_") or {}
        if isinstance(state.get("best_params_"), dict):
            estimator.best_params_ = state["best_params_"]
    elif require_fitted:
        untrained(estimator, architecture, source, weights)
    return estimator


def _load_encoding(estimator, state, source: str) -> None:
    """A sequence model's encoding (alphabet, k-mer vocabulary, length rule), checked against the feature count."""
    from galaxy_dl.data.seqcoding import Encoding

    if state is None:
        return
    if not isinstance(state, dict):
        raise ModelError(f"{formats.STATE}: encoding_ is not a sequence encoding", source=source)
    encoding = Encoding.from_dict(state, source)
    if encoding.alphabet is None or encoding.length is None or encoding.width != estimator.n_features_in_:
        raise ModelError(f"{formats.STATE}: its sequence encoding does not fit the model's input", source=source)
    estimator.encoding_ = encoding.to_dict()


def model_width(model) -> int | None:
    """How many columns a row of input has for ``model`` (None when an input has a free dimension)."""
    import math

    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    if any(d is None for shape in shapes for d in shape):
        return None
    return sum(math.prod(shape) for shape in shapes)


def _check_classes(estimator, layout: str, source: str) -> None:
    """The recorded classes must fit the outputs by the rule training applies (KerasClassifier._check_classes)."""
    import numpy as np

    from galaxy_dl.errors import LabelError

    if layout == "multilabel":
        return
    outputs = estimator.model_.outputs
    per_output = estimator.classes_ if layout == "multioutput" else [estimator.classes_]
    if len(per_output) != len(outputs):
        raise ModelError(
            f"{formats.STATE} has classes for {len(per_output)} outputs, but the model has {len(outputs)}",
            source=source,
        )
    for classes, output in zip(per_output, outputs, strict=True):
        units, n = output.shape[-1], len(classes)
        try:
            if n < 1 or np.ndim(classes) != 1:
                raise LabelError("no list of classes")
            type(estimator)._check_classes(classes, units, "")
        except LabelError:
            raise ModelError(
                f"{formats.STATE} has {n} classes for an output of {units} unit(s)", source=source
            ) from None


def _load_galaxyml(path: str, source: str, *, require_fitted: bool, weights: tuple[str, str] | None):
    """A galaxy-dl estimator equivalent to the Galaxy-ML file (galaxyml converts), fitted with its weights when
    it was (attached here, as for our own archives)."""
    import numpy as np

    from galaxy_dl.model import galaxyml

    estimator, architecture, parts = galaxyml.convert(path, source)
    if not parts["fitted"]:
        if require_fitted:
            untrained(estimator, architecture, source, weights)
        return estimator
    with galaxyml.weights_file(path, parts["weights_group"], source) as own_weights:
        attach_model(estimator, architecture, source, weights or (own_weights, f"{source} (weights)"))
    state_from_model(estimator)
    if estimator.target_layout_ != "single":
        raise ModelError(
            "a fitted Galaxy-ML model with several outputs: its labels per output are not recorded", source=source
        )
    if estimator.task == "classification":
        if parts["classes"] is None or not len(parts["classes"]):
            raise ModelError("fitted Galaxy-ML classifier without classes_", source=source)
        estimator.classes_ = np.asarray(parts["classes"])
    estimator.prediction_column_ = galaxyml.PREDICTION_COLUMN
    return estimator


def untrained(estimator, architecture: dict, source: str, weights) -> None:
    """Where a fitted estimator is needed: an untrained regressor with a weights file is one (as Galaxy-ML's
    builder output and its weights were used); anything else is an error."""
    if weights is None:
        raise ModelError("this estimator has not been trained yet: run train-eval first", source=source)
    if estimator.task == "classification":
        raise ModelError(
            "an untrained classifier with --weights: its class labels are unknown; "
            "train it with train-eval (or use its fitted archive)",
            source=source,
        )
    attach_model(estimator, architecture, source, weights)
    state_from_model(estimator)


def state_from_model(estimator) -> None:
    """The fitted state a file without ours implies: label layout and feature count from the model, no history."""
    model = estimator.model_
    estimator.target_layout_ = "multioutput" if len(model.outputs) > 1 else "single"
    estimator.n_features_in_ = model_width(model)
    estimator.history_ = {}
