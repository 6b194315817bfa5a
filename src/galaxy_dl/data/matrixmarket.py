"""Matrix Market coordinate files, read straight into a float32 CSR matrix (never dense).

scipy's ``mmread`` builds float64 values and int64 indices before converting (24 bytes per
non-zero, then the CSR copy); here pyarrow parses the entries in blocks into int32/float32
(12 bytes per non-zero at the peak), and the header's promises (shape, entry count) are checked.
Rows are samples, columns features (10x Genomics writes genes x cells: transpose those first).
"""

from galaxy_dl.data.tables import raise_refused
from galaxy_dl.errors import DataError, first_line
from galaxy_dl.limits import MAX_WHOLE_BYTES

ENTRY_BLOCK_BYTES = 1 << 22
HEADER_LINE_BYTES = 1 << 16  # the banner, comments and the size line: read no further
FIELDS = ("real", "integer", "double", "pattern")


def _header(stream, source: str) -> tuple[str, int, int, int, int]:
    """(field, rows, columns, entries, lines before the first entry) from the banner and size line."""
    banner = stream.readline(HEADER_LINE_BYTES).decode("utf-8", errors="replace").split()
    if len(banner) != 5 or banner[1].lower() != "matrix":
        raise DataError(
            "bad Matrix Market banner: expected '%%MatrixMarket matrix coordinate real general'", source=source
        )
    layout, field, symmetry = (word.lower() for word in banner[2:])
    if layout != "coordinate":
        raise DataError(
            f"Matrix Market {layout!r} layout is not supported: use coordinate, or a tab-separated table", source=source
        )
    if field not in FIELDS:
        raise DataError(f"Matrix Market field {field!r} is not supported (use {', '.join(FIELDS)})", source=source)
    if symmetry != "general":
        raise DataError(
            f"Matrix Market symmetry {symmetry!r} is not supported: a feature matrix is 'general'", source=source
        )
    lines = 1
    while True:
        line = stream.readline(HEADER_LINE_BYTES)
        lines += 1
        if not line:
            raise_refused(stream)
            raise DataError("Matrix Market file ends before its size line", source=source)
        if line.strip() and not line.startswith(b"%"):
            break
    try:
        n_rows, n_cols, entries = (int(v) for v in line.split())
    except ValueError:
        raise DataError(
            f"line {lines}: bad Matrix Market size line {line.decode(errors='replace').strip()!r}", source=source
        ) from None
    if min(n_rows, n_cols) < 1 or entries < 0:
        raise DataError(
            f"line {lines}: the size line declares {n_rows} x {n_cols} with {entries} entries", source=source
        )
    return field, n_rows, n_cols, entries, lines


def _check_sizes(n_rows: int, entries: int, room: int | None, field: str, source: str) -> None:
    """The header's promises against what they would cost: the row index (8 bytes a row), and entries the file can
    hold (``room`` bytes at most, each entry a line of at least 4 or 6 bytes)."""
    if 8 * (n_rows + 1) > MAX_WHOLE_BYTES:
        raise DataError(
            f"refused: declares {n_rows:,} rows; their index alone would take {8 * (n_rows + 1) >> 20:,} MB "
            f"(more than {MAX_WHOLE_BYTES >> 20:,} MB)",
            source=source,
        )
    shortest = 4 if field == "pattern" else 6
    room = MAX_WHOLE_BYTES if room is None else room
    if entries > room // shortest:
        raise DataError(
            f"refused: its header promises {entries:,} entries, but the file can hold at most {room // shortest:,}",
            source=source,
        )


def read(stream, source: str, room: int | None = None):
    """The matrix in ``stream`` (positioned at the banner) as a scipy CSR matrix of float32; ``room`` is how many
    bytes the stream can hold at most (a file's size, or a gzip file's times the ratio it may inflate by)."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv
    from scipy import sparse

    field, n_rows, n_cols, entries, lines = _header(stream, source)
    _check_sizes(n_rows, entries, room, field, source)
    names = ["row", "col"] + ([] if field == "pattern" else ["value"])
    types = {"row": pa.int64(), "col": pa.int64(), "value": pa.float32()}
    rows, cols, values = (np.empty(entries, dtype=t) for t in (np.int32, np.int32, np.float32))
    seen = 0
    try:
        reader = csv.open_csv(
            stream,
            read_options=csv.ReadOptions(column_names=names, block_size=ENTRY_BLOCK_BYTES),
            parse_options=csv.ParseOptions(delimiter=" ", ignore_empty_lines=True),
            convert_options=csv.ConvertOptions(column_types={n: types[n] for n in names}),
        )
        with reader:  # on an error, its reading thread stops before the stream is closed under it
            for batch in reader:
                count = batch.num_rows
                if seen + count > entries:
                    raise DataError(f"has more entries than the {entries} its header promises", source=source)
                r = batch.column(0).to_numpy(zero_copy_only=False)
                c = batch.column(1).to_numpy(zero_copy_only=False)
                for what, index, limit in (("row", r, n_rows), ("column", c, n_cols)):
                    bad = (index < 1) | (index > limit)
                    if bad.any():
                        at = int(np.argmax(bad))
                        raise DataError(
                            f"line {lines + seen + at + 1}: {what} index {int(index[at])} is outside 1-{limit}",
                            source=source,
                        )
                rows[seen : seen + count] = r - 1
                cols[seen : seen + count] = c - 1
                values[seen : seen + count] = (
                    batch.column(2).to_numpy(zero_copy_only=False) if field != "pattern" else 1.0
                )
                seen += count
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise_refused(stream)
        raise DataError(
            f"bad Matrix Market entries after line {lines + seen}: {first_line(exc)}", source=source
        ) from None
    raise_refused(stream)
    if seen != entries:
        raise DataError(f"its header promises {entries} entries, but the file has {seen}", source=source)
    if not np.isfinite(values).all():
        at = int(np.argmax(~np.isfinite(values)))
        raise DataError(f"line {lines + at + 1}: value {values[at]} is not finite", source=source)
    matrix = sparse.coo_matrix((values, (rows, cols)), shape=(n_rows, n_cols))
    del rows, cols, values
    csr = matrix.tocsr()
    csr.sum_duplicates()
    return csr
