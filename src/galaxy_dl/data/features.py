"""Feature matrices from every input kind, in memory or streamed.

Four kinds, told apart by content (:func:`galaxy_dl.data.tables.sniff`, :func:`galaxy_dl.data.fasta.is_fasta`):
tab-separated tables, Matrix Market files, AnnData ``.h5ad`` files and FASTA sequences (held as one-byte codes,
encoded a block at a time: :mod:`galaxy_dl.data.seqcoding`). For training, :func:`read_features` returns the
whole matrix: a float32 array when it fits the memory budget, else a :class:`~galaxy_dl.data.streaming.Rows`
over a row cache written in one pass; sparse input always stays sparse (CSR, densified a block at
a time). For prediction, :func:`iter_features` yields blocks of rows in order.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from galaxy_dl import runtime
from galaxy_dl.data import streaming
from galaxy_dl.data.fileio import text_bytes
from galaxy_dl.data.seqcoding import Encoding
from galaxy_dl.data.tables import TableSpec, iter_tables, open_stream, read_table, sniff, to_features
from galaxy_dl.errors import DataError, suggest

STREAM_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Streaming:
    """How to hold training features: ``stream`` True/False forces, None decides by ``budget_mb``."""

    stream: bool | None = None
    budget_mb: int | None = None
    cache_dir: str | None = None


@dataclass
class Features:
    """All rows of a feature input; ``keep`` marks rows without missing values, ``taken`` holds the
    columns taken out by name (``--target``, ``--groups-column``: table columns or obs columns)."""

    X: Any
    names: list | None
    keep: Any
    taken: dict = field(default_factory=dict)
    sequences: Any = None  # FASTA input: a galaxy_dl.data.fasta.Sequences (ids, lengths, encoding)

    @property
    def streamed(self) -> bool:
        return streaming.is_lazy(self.X)


def read_features(
    spec: TableSpec,
    *,
    take: dict,
    missing: str = "error",
    layer: str | None = None,
    how: Streaming = Streaming(),
    encoding: Encoding | None = None,
    genome: str | None = None,
) -> Features:
    """The feature matrix of ``spec``; ``take`` maps options to column names to take out (``{"--target": "y"}``);
    ``encoding`` is how FASTA sequences become input (one-hot by default); with a ``genome``, ``spec`` is a BED
    file of intervals, read as windows of that genome."""
    if genome is not None:
        return _intervals(spec, take, how, encoding or Encoding(), genome)
    kind = _kind(spec, layer, encoding)
    if kind == "fasta":
        return _fasta(spec, take, how, encoding or Encoding())
    if kind == "mtx":
        if take:
            raise DataError(
                f"a Matrix Market matrix has no named columns for {', '.join(take)}: give the labels with --y",
                source=spec.source,
            )
        return _matrix_market(spec)
    if kind == "h5ad":
        return _h5ad(spec, take, layer, how)
    if streaming.should_stream(text_bytes(spec.path) // 2, how.stream, how.budget_mb):
        return _text_streamed(spec, take, missing, how)
    frame = read_table(spec, numeric=True, keep_text=set(take.values()))
    taken, frame = _take_columns(frame, take, spec)
    X, keep = to_features(frame, spec, missing=missing)
    return Features(X, _names(frame, spec), keep, taken)


def _kind(spec: TableSpec, layer: str | None, encoding: Encoding | None = None) -> str:
    from galaxy_dl.data.fasta import claims_fasta, is_fasta

    kind = "fasta" if spec.path != "-" and is_fasta(spec.path, spec.source) else sniff(spec)
    if kind != "fasta" and claims_fasta(spec.path):
        raise DataError("is not FASTA (a FASTA file starts with a '>' header line)", source=spec.source)
    if layer is not None and kind != "h5ad":
        raise DataError("--x-layer applies to AnnData (.h5ad) input only", source=spec.source)
    if encoding is not None and kind != "fasta":
        raise DataError(
            "is not FASTA: --encoding, --alphabet and --seq-length apply to FASTA input", source=spec.source
        )
    if kind == "fasta" and spec.columns.mode != "all":
        raise DataError("is FASTA: column choices (--x-cols, --x-names) apply to tables", source=spec.source)
    return kind


def _intervals(spec: TableSpec, take: dict, how: Streaming, encoding: Encoding, genome: str) -> Features:
    import numpy as np

    from galaxy_dl.data import bed

    if spec.path == "-":
        raise DataError("genomic intervals are read from a file, not standard input", source=spec.source)
    sequences, taken = bed.read(spec.path, spec.source, genome, encoding, how, take=take)
    rows = sequences.rows
    return Features(streaming.Rows(rows), None, np.ones(rows.shape[0], dtype=bool), taken, sequences=sequences)


def _fasta(spec: TableSpec, take: dict, how: Streaming, encoding: Encoding) -> Features:
    import numpy as np

    from galaxy_dl.data import fasta

    if take:
        raise DataError(f"FASTA has no columns for {', '.join(take)}: give the labels with --y", source=spec.source)
    sequences = fasta.read(spec.path, spec.source, encoding, how)
    rows = sequences.rows
    return Features(streaming.Rows(rows), None, np.ones(rows.shape[0], dtype=bool), sequences=sequences)


def _take_columns(frame, take: dict, spec: TableSpec):
    taken = {}
    for option, name in take.items():
        if name not in frame.columns:
            raise DataError(
                f"{option}: no column named {name!r}{suggest(name, [str(c) for c in frame.columns])}",
                source=spec.source,
            )
        taken[option] = frame[name]
    if taken:
        frame = frame.drop(columns=list(take.values()))
    if frame.shape[1] == 0:
        raise DataError("no feature columns left", source=spec.source)
    return taken, frame


def _names(frame, spec: TableSpec) -> list | None:
    return [str(c) for c in frame.columns] if spec.header else None


def _room(spec: TableSpec) -> int | None:
    """The most bytes the input can inflate to: its size, or a gzip file's times the ratio it may inflate by."""
    from galaxy_dl.limits import MAX_COMPRESSION_RATIO, RATIO_FLOOR_BYTES

    if spec.path == "-":
        return None
    try:
        size = os.path.getsize(spec.path)
        with open(spec.path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
    except OSError:
        return None
    return max(size * MAX_COMPRESSION_RATIO, RATIO_FLOOR_BYTES) if gzipped else size


def _text_streamed(spec: TableSpec, take: dict, missing: str, how: Streaming) -> Features:
    """One pass over the table: features into a float32 row cache, taken columns and the keep mask in memory."""
    import numpy as np
    import pandas as pd

    from galaxy_dl.data.rowcache import DenseCache

    cache: DenseCache | None = None
    names, keeps, offset = None, [], 0
    taken_parts: dict[str, list] = {option: [] for option in take}
    for frame in iter_tables(
        spec, STREAM_CHUNK_ROWS, numeric=True, keep_text=set(take.values()), max_bytes=streaming.BLOCK_BYTES
    ):
        taken, frame = _take_columns(frame, take, spec)
        values, keep = to_features(frame, spec, missing=missing, row_offset=offset)
        if cache is None:
            cache, names = DenseCache(values.shape[1], how.cache_dir), _names(frame, spec)
        cache.append(values)
        keeps.append(keep)
        for option, column in taken.items():
            taken_parts[option].append(column)
        offset += len(frame)
        runtime.check_interrupted()
    taken = {option: pd.concat(parts, ignore_index=True) for option, parts in taken_parts.items()}
    if cache is None:  # iter_tables yields at least one frame, or raises
        raise DataError("has no rows", source=spec.source)
    return Features(streaming.Rows(cache.finish()), names, np.concatenate(keeps), taken)


def _matrix_market(spec: TableSpec) -> Features:
    import numpy as np

    from galaxy_dl.data import matrixmarket

    with open_stream(spec) as stream:
        matrix = matrixmarket.read(stream, spec.source, room=_room(spec))
    if spec.columns.mode != "all":  # (a list of every column of a wide matrix would be the largest thing held)
        positions = spec.columns.positions([str(i + 1) for i in range(matrix.shape[1])], False, spec.source)
        if positions != list(range(matrix.shape[1])):
            matrix = matrix[:, positions]
    return Features(streaming.Rows(matrix), None, np.ones(matrix.shape[0], dtype=bool))


def _h5ad(spec: TableSpec, take: dict, layer: str | None, how: Streaming) -> Features:
    import numpy as np

    from galaxy_dl.data.h5ad import H5ad

    data = H5ad(spec.path, spec.source, layer)
    taken = {option: data.obs_column(name, option) for option, name in take.items()}
    positions = spec.columns.positions(data.var_names, True, spec.source)
    names = [data.var_names[i] for i in positions]
    every = positions == list(range(data.shape[1]))
    estimate = data.nnz * 8 if data.sparse else data.dense_bytes
    X: Any
    if streaming.should_stream(estimate, how.stream, how.budget_mb):
        from galaxy_dl.data.rowcache import DenseCache, SparseCache

        cache = (SparseCache if data.sparse else DenseCache)(len(positions), how.cache_dir)
        for block in _h5ad_blocks(data, positions, every):
            cache.append(block)
            runtime.check_interrupted()
        X = streaming.Rows(cache.finish())
    else:
        blocks = list(_h5ad_blocks(data, positions, every))
        if data.sparse:
            from scipy import sparse

            X = streaming.Rows(sparse.vstack(blocks, format="csr"))
        else:
            X = np.concatenate(blocks)
    data.close()
    return Features(X, names, np.ones(data.shape[0], dtype=bool), taken)


def _h5ad_blocks(data, positions: list, every: bool, rows: int | None = None) -> Iterator:
    """The chosen columns of ``data``'s matrix, a block of rows at a time; non-finite values are errors."""
    import numpy as np

    step = rows or streaming.block_rows(data.shape[1])
    for start in range(0, data.shape[0], step):
        block = data.rows(start, min(start + step, data.shape[0]))
        if not every:
            block = block[:, positions]
        values = block.data if hasattr(block, "tocsr") else block
        if not np.isfinite(values).all():
            row = start + (
                int(np.argmax(~np.isfinite(block.toarray() if hasattr(block, "toarray") else block).any(axis=1)))
            )
            raise DataError(
                f"{data.what}: row {row + 1} ({data.obs_names[row]!r}) has a missing or infinite value",
                source=data.source,
            )
        yield block


def iter_features(
    spec: TableSpec,
    rows: int,
    *,
    layer: str | None = None,
    on_header=None,
    encoding: Encoding | None = None,
    genome: str | None = None,
) -> Iterator[tuple]:
    """Blocks of ``rows`` rows in file order, for prediction: (feature names or None, float32 array or CSR matrix,
    record ids or None). FASTA input (and a BED file of intervals of a ``genome``) needs the fitted ``encoding``;
    its blocks carry the record ids.

    ``on_header(names, width)`` is called once the columns are known and before any row is read, so that a
    table of the wrong width is refused before its rows cost memory.
    """
    on_header = on_header or (lambda names, width: None)
    if genome is not None:
        from galaxy_dl.data import bed

        if encoding is None:
            raise DataError("--genome: the model was trained on tables, not sequences", source=spec.source)
        on_header(None, encoding.width)
        for ids, values in bed.iter_blocks(spec.path, spec.source, genome, encoding, rows):
            yield None, values, ids
        return
    kind = _kind(spec, layer)
    if (kind == "fasta") != (encoding is not None):
        trained = f"FASTA sequences ({encoding.describe()})" if encoding is not None else "tables"
        if encoding is not None and encoding.window:
            trained = f"windows of a genome ({encoding.describe()}): for BED intervals give --genome"
        raise DataError(
            f"is {'FASTA' if kind == 'fasta' else 'not FASTA'}, but the model was trained on {trained}",
            source=spec.source,
        )
    if kind == "fasta":
        from galaxy_dl.data import fasta

        assert encoding is not None
        on_header(None, encoding.width)
        for ids, values in fasta.iter_blocks(spec.path, spec.source, encoding, rows):
            yield None, values, ids
    elif kind == "mtx":
        X = _matrix_market(spec).X.base
        on_header(None, X.shape[1])
        for start in range(0, X.shape[0], rows):
            yield None, X[start : start + rows], None
    elif kind == "h5ad":
        from galaxy_dl.data.h5ad import H5ad

        data = H5ad(spec.path, spec.source, layer)
        try:
            positions = spec.columns.positions(data.var_names, True, spec.source)
            names = [data.var_names[i] for i in positions]
            on_header(names, len(names))
            per_row = 8 * data.nnz / max(1, data.shape[0]) if data.sparse else 4 * data.shape[1]
            rows = max(1, min(rows, int(streaming.BLOCK_BYTES // max(per_row, 1))))  # blocks of ~32 MB, sparse or not
            for block in _h5ad_blocks(data, positions, positions == list(range(data.shape[1])), rows):
                yield names, block, None
        finally:
            data.close()
    else:
        offset = 0
        for frame in iter_tables(
            spec,
            rows,
            numeric=True,
            max_bytes=streaming.BLOCK_BYTES,  # wide rows: fewer a block
            on_header=lambda names: on_header(names if spec.header else None, len(names)),
        ):
            values, _ = to_features(frame, spec, row_offset=offset)
            yield _names(frame, spec), values, None
            offset += len(frame)
