"""HDF5 weights files at any path, in Keras 3's format or Keras 2's.

Keras 3's ``save_weights`` insists on a ``.weights.h5`` name and its loader picks the
format by suffix; Galaxy's paths end in ``.dat``. So we write under a temporary
``.weights.h5`` name and rename, and load through a correctly named link.
"""

import os
import re
import shutil
import tempfile
import warnings

from galaxy_dl.data import hdf5guard
from galaxy_dl.data.fileio import atomic_path, open_input
from galaxy_dl.data.formats import HDF5_SIGNATURE
from galaxy_dl.errors import ModelError, first_line


def save(model, path: str) -> None:
    """Keras writes into a private temporary directory (HDF5 cannot write through the link to an unnamed output);
    the output is a copy of that file."""
    with tempfile.TemporaryDirectory(prefix="galaxy-dl-") as tmp:
        local = os.path.join(tmp, "model.weights.h5")
        model.save_weights(local)
        with atomic_path(path) as out:
            shutil.copyfile(local, out)


def _is_keras2(path: str, source: str) -> bool:
    """Whether the file is in Keras 2's layout, once it is known to be self-contained and sized."""
    import h5py

    with h5py.File(path, "r") as f:
        hdf5guard.check(f, source, ModelError)
        return "layer_names" in f.attrs or ("model_weights" in f and "layer_names" in f["model_weights"].attrs)


def load(model, path: str, source: str | None = None) -> None:
    """Load weights into ``model``; a mismatch names the layer and shapes Keras reports."""
    source = source or path
    with open_input(path, ModelError, source, "a weights file") as fh:
        signature = fh.read(len(HDF5_SIGNATURE))
    if signature != HDF5_SIGNATURE:
        raise ModelError("not an HDF5 weights file", source=source)
    try:
        legacy = _is_keras2(path, source)
    except OSError as exc:
        raise ModelError(f"corrupt or truncated HDF5 file: {first_line(exc)}", source=source) from None
    with tempfile.TemporaryDirectory(prefix="galaxy-dl-") as tmp:
        link = os.path.join(tmp, "weights.h5" if legacy else "model.weights.h5")
        os.symlink(os.path.abspath(path), link)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optimizer-state notices: irrelevant to the layer weights
                model.load_weights(link)
        except Exception as exc:  # h5py and Keras raise many types for a foreign file
            raise ModelError(f"weights do not match the model: {_mismatch(exc)}", source=source) from None


def _mismatch(exc: BaseException) -> str:
    """Keras' multi-line report reduced to the layer, variable and the two shapes."""
    text = str(exc)
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    path = re.search(r"Target variable: <Variable path=([\w/.-]+)", text)
    count = re.search(r"A total of (\d+) objects could not be loaded", text)
    if shapes and path:
        more = f" ({count.group(1)} layers differ)" if count and count.group(1) != "1" else ""
        return f"{path.group(1)} has shape {shapes.group(1)} in the model but {shapes.group(2)} in the file{more}"
    layer = re.search(r"Layer '([^']+)' expected (\d+) variables, but received (\d+)", text)
    if layer:
        return f"layer {layer.group(1)!r} expects {layer.group(2)} weight arrays, the file has {layer.group(3)}"
    return first_line(exc)


def load_bytes(model, data: bytes, source: str) -> None:
    with tempfile.TemporaryDirectory(prefix="galaxy-dl-") as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        with open(path, "wb") as fh:
            fh.write(data)
        load(model, path, source)


def to_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="galaxy-dl-") as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        model.save_weights(path)
        with open(path, "rb") as fh:
            return fh.read()
