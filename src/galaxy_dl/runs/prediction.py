"""What predict does, callable without the CLI: check columns, predict in chunks, write in input order."""

import contextlib
import sys
from collections.abc import Iterator

from galaxy_dl.data.features import iter_features
from galaxy_dl.data.fileio import atomic_path
from galaxy_dl.data.streaming import Rows
from galaxy_dl.data.tables import ID_COLUMN, TableSpec
from galaxy_dl.errors import DataError, UsageError

METHODS = ("predict", "predict_proba")
CHUNK_ROWS = 50_000


def column_order(estimator, names: list | None, width: int, spec: TableSpec):
    """Which input columns feed the model, in training order: None when they already match.

    With names on both sides (a header, an .h5ad's var_names) the training columns are found by name
    (reordered, extra ones left out), and missing ones are named; otherwise the counts must agree.
    """
    import numpy as np

    expected = getattr(estimator, "n_features_in_", None)
    trained = getattr(estimator, "feature_names_in_", None)
    if trained is not None and names is not None:
        trained = [str(n) for n in trained.tolist()]
        if trained == names:
            return None
        if len(set(trained) & set(names)) < len(trained) and len(names) == len(trained):
            diffs = [(i + 1, a, b) for i, (a, b) in enumerate(zip(trained, names, strict=True)) if a != b]
            shown = "; ".join(f"column {i}: {b!r} where training had {a!r}" for i, a, b in diffs[:3])
            more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
            raise DataError(f"columns differ from training: {shown}{more}", source=spec.source)
        lookup = {name: i for i, name in enumerate(names)}
        missing = [name for name in trained if name not in lookup]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise DataError(
                f"has {len(names)} feature columns, but the model was trained on {len(trained)}: missing {shown}",
                source=spec.source,
            )
        return np.asarray([lookup[name] for name in trained])
    if expected is not None and width != expected:
        raise DataError(f"has {width} feature columns, but the model was trained on {expected}", source=spec.source)
    return None


def sequence_encoding(estimator):
    """The sequence encoding a model was trained with (FASTA input), or None (tables)."""
    from galaxy_dl.data.seqcoding import Encoding

    state = getattr(estimator, "encoding_", None)
    return Encoding.from_dict(state, "--model") if state else None


def target_names(estimator, n: int) -> list[str]:
    """Column heads for ``n`` predicted columns: the label table's names, else the outputs' names."""
    names = getattr(estimator, "targets_", None)
    if names and len(names) == n:
        return list(names)
    if estimator.target_layout() == "multioutput":
        from galaxy_dl.model.estimator import output_names

        return output_names(estimator.model_)
    return [f"Predicted_{i + 1}" for i in range(n)]


def _frame(estimator, values, method: str):
    import numpy as np
    import pandas as pd

    layout = estimator.target_layout()
    if method == "predict_proba":
        if estimator.task != "classification":
            raise UsageError("--method predict_proba needs a classifier; this model does regression")
        proba = estimator.predict_proba(values)
        if layout == "multioutput":
            names = target_names(estimator, len(proba))
            columns = [f"{name}:{c}" for name, classes in zip(names, estimator.classes_, strict=True) for c in classes]
            return pd.DataFrame(np.column_stack(proba), columns=columns)
        if layout == "multilabel":
            return pd.DataFrame(proba, columns=target_names(estimator, proba.shape[1]))
        return pd.DataFrame(proba, columns=[str(c) for c in estimator.classes_])
    predicted = estimator.predict(values)
    if predicted.ndim == 2:
        return pd.DataFrame(predicted, columns=target_names(estimator, predicted.shape[1]))
    return pd.DataFrame({getattr(estimator, "prediction_column_", "Predicted"): predicted})


def predict_table(
    estimator,
    spec: TableSpec,
    output: str,
    *,
    method: str = "predict",
    chunk_rows: int = CHUNK_ROWS,
    read_ahead: bool = True,
    layer: str | None = None,
    genome: str | None = None,
) -> int:
    """Stream ``spec`` through the estimator into ``output`` (``-`` for stdout); returns the row count.

    With ``read_ahead`` the next chunk is parsed on a second thread while this one is predicted.
    """
    if method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}")
    rows = 0
    order = None

    def check_columns(names, width):  # before any row is read: a table of the wrong width costs nothing
        nonlocal order
        order = column_order(estimator, names, width, spec)

    chunks = iter_features(
        spec, chunk_rows, layer=layer, on_header=check_columns, encoding=sequence_encoding(estimator), genome=genome
    )
    blocks = _read_ahead(chunks) if read_ahead else chunks
    with _open_output(output) as fh, contextlib.closing(blocks):  # type: ignore[type-var]  # generators close; on an error, the reader stops at once
        for _names, values, ids in blocks:
            if order is not None:
                values = values[:, order]
            if hasattr(values, "tocsr"):
                values = Rows(values)  # densified a batch at a time
            result = _frame(estimator, values, method)
            if ids is not None:  # FASTA: each prediction beside its record's id, to join back
                result.insert(0, ID_COLUMN, ids)
            fh.write(result.to_csv(sep="\t", index=False, header=rows == 0, lineterminator="\n"))
            rows += values.shape[0]
    return rows


def _read_ahead(chunks: Iterator) -> Iterator:
    """Yield from ``chunks`` while a worker thread already reads the next one.

    pyarrow's streaming CSV reader parses on one thread and, like TensorFlow, releases the GIL,
    so reading and predicting overlap. One chunk ahead at most: memory stays bounded.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="galaxy-dl-read") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


@contextlib.contextmanager
def _open_output(path: str):
    """A text handle to an atomic temporary file (renamed on success), or to stdout for ``-``."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh
