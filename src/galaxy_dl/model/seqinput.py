"""Sequence input seen from the model: the encoding learned from the training rows, checked against the model.

The encoding (:mod:`galaxy_dl.data.seqcoding`) is learned in ``fit`` from the rows the model is fitted on (a
k-mer vocabulary: a validation or test holdout's k-mers stay unknown), kept as the estimator's ``encoding_``
and so in the fitted archive, from which predict encodes new sequences.
"""

import sys

from galaxy_dl.data.seqcoding import Augmented, Encoding, SequenceRows
from galaxy_dl.errors import UsageError

_said: set = set()


def learn(estimator, X, y, model):
    """Set ``estimator.encoding_`` from the training rows ``X`` (None for tables), check the model reads it, and
    return the rows to fit on: with ``revcomp``, each sequence and its reverse complement (``y`` doubled)."""
    import keras
    import numpy as np

    from galaxy_dl.data.streaming import Rows

    base = getattr(X, "base", None)
    if not isinstance(base, SequenceRows):
        estimator.encoding_ = None
        return X, y
    if base.encoding.revcomp:
        X = Rows(Augmented(base), np.concatenate([X.index, X.index + base.shape[0]]))
        y = keras.tree.map_structure(lambda a: np.concatenate([a, a]), y)
    encoding = X.base.learn(X.index)
    estimator.encoding_ = encoding.to_dict()
    if encoding.kind == "kmer":
        _note(
            f"note: {encoding.k}-mer vocabulary: {len(encoding.vocabulary or ())} k-mers seen in {len(X)} training "
            f"rows, token ids 2-{encoding.tokens - 1} (0 padding, 1 unknown): an Embedding needs input_dim >= "
            f"{encoding.tokens}"
        )
    check(model, encoding)
    return X, y


def _note(text: str) -> None:
    if text not in _said:  # once a process: folds and search settings learn it again
        _said.add(text)
        print(text, file=sys.stderr)


def check(model, encoding: Encoding) -> None:
    """The model's input takes the encoded sequences, and an Embedding reading it has room for every token."""
    import keras

    if len(model.inputs) != 1:
        raise UsageError(f"the model has {len(model.inputs)} inputs; sequence input feeds one")
    wanted = tuple(model.inputs[0].shape[1:])
    given = encoding.input_shape
    if len(wanted) != len(given) or any(w is not None and w != g for w, g in zip(wanted, given, strict=False)):
        hint = "--input-shape " + ",".join(str(d) for d in given)
        raise UsageError(
            f"the model's input is {_shape(wanted)}, but the sequences encode as {_shape(given)} "
            f"({encoding.describe()}): build the architecture with {hint}"
        )
    if encoding.kind != "kmer":
        return
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) and layer.input_dim < encoding.tokens:
            raise UsageError(
                f"Embedding {layer.name!r} has input_dim {layer.input_dim}, but the {encoding.k}-mer tokens need "
                f"{encoding.tokens} ({len(encoding.vocabulary or ())} k-mers seen in training, 0 padding, 1 unknown): "
                f"build it with Embedding({encoding.tokens}, ...) or more"
            )


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def input_shape(estimator) -> tuple | None:
    """The shape of one encoded sequence for the model, or None when the estimator reads tables."""
    state = getattr(estimator, "encoding_", None)
    return Encoding.from_dict(state, "the estimator").input_shape if state else None
