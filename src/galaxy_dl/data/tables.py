"""Tab-separated tables in, tab-separated tables out.

Inputs may be plain or gzip-compressed (sniffed, since Galaxy paths have no
suffix) or standard input (``-``); :func:`sniff` tells them from Matrix Market and
AnnData files, which :mod:`galaxy_dl.data.features` reads. Parsing uses
pyarrow's multi-threaded CSV reader; when it fails, a slower scan finds the line
and column to name in the error. Columns are chosen in Galaxy's five ways
(:class:`Columns`).
"""

import contextlib
import csv as stdcsv
import gzip
import io
import re
import sys
import typing
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from galaxy_dl.data.fileio import open_input, write_text
from galaxy_dl.errors import DataError, first_line
from galaxy_dl.limits import MAX_COMPRESSION_RATIO, MAX_LINE_BYTES, RATIO_FLOOR_BYTES

GZIP_MAGIC = b"\x1f\x8b"
MATRIX_MARKET_MAGIC = b"%%MatrixMarket"
SNIFF_BYTES = 1 << 16
BLOCK_BYTES = MAX_LINE_BYTES  # a row must fit in one block: 16 MiB holds ~1.5M numeric columns
STREAM_BLOCK_BYTES = 1 << 20
MISSING_POLICIES = ("error", "drop")


@dataclass(frozen=True)
class Columns:
    """Which columns to use: Galaxy-ML's five selector modes.

    ``mode`` is ``all``, ``index`` / ``index_except`` (1-based, ranges such as ``2-5``)
    or ``name`` / ``name_except`` (header names).
    """

    mode: str = "all"
    values: tuple[str, ...] = ()

    MODES = ("all", "index", "index_except", "name", "name_except")

    def positions(self, names: list[str], has_header: bool, source: str) -> list[int]:
        n = len(names)
        if self.mode == "all":
            return list(range(n))
        if self.mode.startswith("index"):
            chosen = []
            for value in self.values:
                chosen.extend(_index_range(value, n, source))
        else:
            if not has_header:
                raise DataError("columns can be chosen by name only in a file with a header row", source=source)
            lookup = {name: i for i, name in enumerate(names)}
            chosen = []
            for value in self.values:
                if value not in lookup:
                    from galaxy_dl.errors import suggest

                    raise DataError(f"no column named {value!r}{suggest(value, names)}", source=source)
                chosen.append(lookup[value])
        if self.mode.endswith("_except"):
            dropped = set(chosen)
            chosen = [i for i in range(n) if i not in dropped]
        if not chosen:
            raise DataError("the column selection leaves no columns", source=source)
        return list(dict.fromkeys(chosen))


def _index_range(value: str, n: int, source: str) -> list[int]:
    text = value.strip().lstrip("c")
    try:
        if "-" in text:
            lo, hi = (int(part.strip().lstrip("c")) for part in text.split("-", 1))
        else:
            lo = hi = int(text)
    except ValueError:
        raise DataError(f"column index {value!r} is not a number or a range such as 2-5", source=source) from None
    if lo < 1 or hi > n or lo > hi:
        raise DataError(f"column index {value!r} is outside 1-{n}", source=source)
    return list(range(lo - 1, hi))


@dataclass(frozen=True)
class TableSpec:
    """Where a table comes from and how to read it; ``option`` names it in errors (e.g. ``--x``)."""

    path: str
    header: bool = True
    columns: Columns = field(default_factory=Columns)
    option: str = "table"

    @property
    def source(self) -> str:
        name = "standard input" if self.path == "-" else self.path
        return f"{self.option} {name}" if self.option else name


def _open(spec: TableSpec) -> tuple[typing.Any, bool]:
    """A buffered binary stream of the (decompressed) table, after sanity checks on its first bytes, and
    whether it is an uncompressed regular file (which pyarrow can then read natively, by path)."""
    source = spec.source
    raw = sys.stdin.buffer if spec.path == "-" else open_input(spec.path, DataError, source, "a table")
    stream: typing.Any = io.BufferedReader(raw, buffer_size=SNIFF_BYTES)
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    plain = spec.path != "-"
    if head.startswith(GZIP_MAGIC):
        plain = False
        stream = io.BufferedReader(Inflated(stream, source), buffer_size=SNIFF_BYTES)
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        raise_refused(stream)
    if not head.strip():
        raise DataError("is empty", source=source)
    if b"\x00" in head:
        raise DataError("is a binary file, not a tab-separated table", source=source)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            raise DataError(f"is not UTF-8 text (invalid byte at offset {exc.start})", source=source) from None
    return stream, plain


class _Counted(io.RawIOBase):
    """The compressed bytes, counted as the decompressor takes them."""

    def __init__(self, stream):
        self._stream = stream
        self.count = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class Inflated(io.RawIOBase):
    """A gzip stream that refuses to inflate more than MAX_COMPRESSION_RATIO times what it has read, past
    RATIO_FLOOR_BYTES: a small upload cannot become gigabytes of rows (its trailer's size can lie).

    pyarrow reads it on threads of its own, and an exception raised inside its read could end the process
    (std::terminate) at exit; so a refusal (or corrupt data) ends the stream instead, and the reader raises it
    afterwards (:func:`raise_refused`)."""

    TABLE_HINT = "give a file this repetitive uncompressed (a sparse table as Matrix Market or .h5ad)"

    def __init__(self, stream, source: str, hint: str = TABLE_HINT):
        self._hint = hint
        self._compressed = _Counted(stream)
        self._gzip = gzip.GzipFile(fileobj=io.BufferedReader(self._compressed))
        self._source = source
        self.count = 0
        self.refused: DataError | None = None

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.refused is not None:
            return 0
        try:
            data = self._gzip.read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            self.refused = DataError(f"corrupt gzip data: {first_line(exc)}", source=self._source)
            return 0
        buffer[: len(data)] = data
        self.count += len(data)
        if self.count > RATIO_FLOOR_BYTES and self.count > MAX_COMPRESSION_RATIO * self._compressed.count:
            self.refused = DataError(
                f"refused: inflates more than {MAX_COMPRESSION_RATIO}-fold ({self.count >> 20} MB "
                f"from {self._compressed.count >> 10} kB read; a gzip bomb?); {self._hint}",
                source=self._source,
            )
            return 0
        return len(data)

    def close(self):
        self._gzip.close()
        super().close()


def raise_refused(stream) -> None:
    """Raise what ended an :class:`Inflated` stream early (a bomb, corrupt data), if anything did."""
    raw = getattr(stream, "raw", None)
    if isinstance(raw, Inflated) and raw.refused is not None:
        raise raw.refused


def sniff(spec: TableSpec) -> str:
    """What ``spec`` holds by content: ``"h5ad"`` (HDF5), ``"mtx"`` (Matrix Market, maybe gzipped) or ``"text"``."""
    from galaxy_dl.data.formats import HDF5_SIGNATURE

    if spec.path == "-":
        return "text"
    with open_input(spec.path, DataError, spec.source, "a table") as raw:
        head = raw.read(len(HDF5_SIGNATURE))
    if head.startswith(HDF5_SIGNATURE):
        return "h5ad"
    stream = _open(spec)[0]
    with stream:
        return "mtx" if stream.peek(len(MATRIX_MARKET_MAGIC)).startswith(MATRIX_MARKET_MAGIC) else "text"


def open_stream(spec: TableSpec) -> io.BufferedReader:
    """The (decompressed) bytes of ``spec``, after the same checks as tables get."""
    return _open(spec)[0]


def _options(names: list[str], skip_rows: int, positions: list[int], numeric: bool, keep_text=()):
    """pyarrow's read/parse/convert options: only the selected columns; with ``numeric``, straight into
    float32 (no type inference, which is what makes wide files slow) except the ``keep_text`` columns."""
    import pyarrow as pa
    from pyarrow import csv

    convert = csv.ConvertOptions(
        strings_can_be_null=True, quoted_strings_can_be_null=True, include_columns=[names[i] for i in positions]
    )
    if numeric:
        convert.column_types = {names[i]: pa.float32() for i in positions if names[i] not in keep_text}
    return (
        csv.ReadOptions(block_size=BLOCK_BYTES, column_names=names, skip_rows=skip_rows),
        csv.ParseOptions(delimiter="\t", quote_char='"', double_quote=True),
        convert,
    )


class _Prefixed(io.RawIOBase):
    """A stream that yields ``prefix`` and then the rest of ``stream`` (to un-read a first line)."""

    def __init__(self, prefix: bytes, stream):
        self._prefix = prefix
        self._stream = stream

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _line(stream, lineno: int, source: str) -> bytes:
    """One line, read no further than MAX_LINE_BYTES (a file of one endless line must not fill the memory)."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    raise_refused(stream)
    if len(line) > MAX_LINE_BYTES:
        raise DataError(
            f"line {lineno} is longer than {MAX_LINE_BYTES >> 20} MiB: not a table (or too wide for one)", source=source
        )
    return line


def _header(stream: io.BufferedReader, spec: TableSpec):
    """Column names (1..n without a header), the stream positioned at the first data row, and the
    first line's length. Checks for duplicate and empty header names."""
    line = _line(stream, 1, spec.source)
    # The stdlib reader unquotes R-style headers ("gene"); Galaxy's are plain.
    try:
        cells = next(stdcsv.reader([line.decode("utf-8", errors="replace").rstrip("\r\n")], delimiter="\t"), [""])
    except stdcsv.Error:  # a carriage return alone inside the line: old Mac line ends
        raise DataError(
            "line 1 holds a carriage return inside a field: save the table with newline (\\n) line ends",
            source=spec.source,
        ) from None
    if not cells:
        raise DataError("line 1 is empty: a table starts with its header (or first row)", source=spec.source)
    if not spec.header:
        rewound = io.BufferedReader(_Prefixed(line, stream), buffer_size=SNIFF_BYTES)
        return [str(i + 1) for i in range(len(cells))], rewound, len(line)
    for i, name in enumerate(cells):
        if not name.strip():
            raise DataError(f"column {i + 1} has an empty header name", source=spec.source)
    seen: dict[str, int] = {}
    for i, name in enumerate(cells):
        if name in seen:
            raise DataError(
                f"header name {name!r} appears twice (columns {seen[name] + 1} and {i + 1}){_no_header_hint(cells)}",
                source=spec.source,
            )
        seen[name] = i
    return cells, stream, len(line)


def _no_header_hint(cells: list[str]) -> str:
    """A first line of numbers is data, not a header (the GTN's RNN and CNN tables have none): say how to read it."""
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return ""
    return (
        "; its first line is all numbers: if the table has no header row, say so with --no-header "
        "(in Galaxy, the input's header switch)"
    )


def _no_rows(spec: TableSpec) -> DataError:
    return DataError("has a header but no data rows" if spec.header else "has no data rows", source=spec.source)


def _require_rows(stream, spec: TableSpec) -> None:
    if not stream.peek(1).strip():
        raise _no_rows(spec)


def _check_delimiter(names: list[str], spec: TableSpec) -> None:
    if len(names) == 1 and names[0].count(",") >= 1 and spec.header:
        raise DataError(
            "has one column whose name contains commas: the file looks comma-separated, but tables must be "
            "tab-separated",
            source=spec.source,
        )


@dataclass
class _TextTable:
    """A text table ready for pyarrow: what to read (a path, or the positioned stream), its column count,
    the first line's length (streaming blocks must hold a whole row) and the reader options."""

    source: object
    n_columns: int
    row_bytes: int
    options: tuple


def _prepare(spec: TableSpec, numeric: bool, keep_text=()) -> "_TextTable":
    """Open, sniff, read the header and select the columns once for both readers."""
    stream, plain = _open(spec)
    if stream.peek(len(MATRIX_MARKET_MAGIC)).startswith(MATRIX_MARKET_MAGIC):
        raise DataError("is a Matrix Market matrix: only feature inputs (--x) may be one", source=spec.source)
    names, stream, row_bytes = _header(stream, spec)
    _check_delimiter(names, spec)
    _require_rows(stream, spec)
    positions = spec.columns.positions(names, spec.header, spec.source)
    if plain:  # native, multi-threaded I/O: several times faster than through a Python stream
        stream.close()
        source, skip_rows = spec.path, int(spec.header)
    else:
        source, skip_rows = stream, 0
    return _TextTable(source, len(names), row_bytes, _options(names, skip_rows, positions, numeric, keep_text))


@contextlib.contextmanager
def _reading(spec: TableSpec, table: _TextTable):
    """pyarrow's errors while parsing, as a DataError naming the first bad line."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, UnicodeDecodeError, OSError, EOFError) as exc:
        raise_refused(table.source)  # the stream ended early for a reason of its own: that is the error
        raise _diagnose(spec, table.n_columns, exc) from None
    raise_refused(table.source)


def _diagnose(spec: TableSpec, n_columns: int, exc: Exception) -> DataError:
    """Find the first ragged line with a plain scan; pyarrow does not say which line failed."""
    try:
        stream = _open(spec)[0] if spec.path != "-" else None
    except DataError as err:
        return err
    message = first_line(exc)
    bad = re.search(r"column #(\d+): CSV conversion error to \w+: invalid value '(.*)'", message)
    if stream is not None:
        with stream:
            lineno = 0
            while raw := _line(stream, lineno + 1, spec.source):
                lineno += 1
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line:
                    continue
                cells = line.split("\t")
                if len(cells) != n_columns:
                    return DataError(
                        f"line {lineno} has {len(cells)} columns, expected {n_columns} (ragged rows?)",
                        source=spec.source,
                    )
                if bad and (lineno > 1 or not spec.header) and cells[int(bad.group(1))] == bad.group(2):
                    column = int(bad.group(1))
                    return DataError(
                        f"line {lineno}, column {column + 1}: {bad.group(2)!r} is not a number", source=spec.source
                    )
    return DataError(f"cannot parse: {message}", source=spec.source)


def read_table(spec: TableSpec, *, numeric: bool = False, keep_text=()):
    """Read the selected columns of a table as a DataFrame.

    Types are inferred, or with ``numeric`` every column but ``keep_text`` is float32; a cell that is not
    a number is then an error naming its line and column.
    """
    from pyarrow import csv

    prepared = _prepare(spec, numeric, keep_text)
    with _reading(spec, prepared):
        table = csv.read_csv(prepared.source, *prepared.options)
    if table.num_rows == 0:
        raise _no_rows(spec)
    return table.to_pandas()


def iter_tables(
    spec: TableSpec, rows: int, *, numeric: bool = False, keep_text=(), max_bytes: int | None = None, on_header=None
) -> Iterator:
    """Read a table in chunks of ``rows`` rows (memory stays bounded); same checks as read_table.

    ``numeric`` parses every column but ``keep_text`` as float, so that types cannot drift between chunks;
    ``max_bytes`` caps a chunk's float32 size (fewer rows for wide tables); ``on_header(names)`` sees the
    selected columns' names before any row is parsed.
    """
    import pyarrow as pa
    from pyarrow import csv

    prepared = _prepare(spec, numeric, keep_text)
    if on_header is not None:
        on_header(list(prepared.options[2].include_columns))
    if max_bytes:
        rows = max(1, min(rows, max_bytes // (4 * len(prepared.options[2].include_columns))))
    read_opts, parse_opts, convert_opts = prepared.options
    # Small blocks keep the streaming reader's memory flat (16 MiB blocks held ~700 MB on a 1M-row file);
    # a block must still hold a whole row, so wide files get bigger ones.
    read_opts.block_size = max(STREAM_BLOCK_BYTES, 4 * prepared.row_bytes)
    seen_any = False
    with _reading(spec, prepared):
        reader = csv.open_csv(
            prepared.source, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
        )
        pending = None
        with reader:  # its reading thread stops on an error, or when the consumer stops early
            for batch in reader:
                batch_table = pa.Table.from_batches([batch])
                pending = batch_table if pending is None else pa.concat_tables([pending, batch_table])
                while pending.num_rows >= rows:
                    seen_any = True
                    yield pending.slice(0, rows).to_pandas()
                    pending = pending.slice(rows)
        if pending is not None and pending.num_rows:
            seen_any = True
            yield pending.to_pandas()
    if not seen_any:
        raise _no_rows(spec)


def release_memory() -> None:
    """Hand the memory pyarrow's pool kept from parsing back to the system (mimalloc keeps freed pages for reuse:
    tens of megabytes that grew with the rows read)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _locate(mask, frame, spec: TableSpec, first_line: int) -> str:
    import numpy as np

    rows, cols = np.nonzero(mask)
    order = np.lexsort((cols, rows))
    r, c = rows[order[0]], cols[order[0]]
    return f"line {first_line + r}, column {frame.columns[c]!r}"


def to_features(frame, spec: TableSpec, *, missing: str = "error", row_offset: int = 0):
    """Numeric float32 matrix from a DataFrame, and the mask of rows kept.

    Non-numeric cells and infinities are errors naming line, column and value;
    missing cells are an error or drop their row (``missing="drop"``).
    """
    import numpy as np
    import pandas as pd

    first_line = 1 + int(spec.header) + row_offset
    textual = [
        i
        for i, dtype in enumerate(frame.dtypes)
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]
    if textual:
        frame = frame.copy()
        for position in textual:
            column = frame.iloc[:, position]
            converted = pd.to_numeric(column, errors="coerce")
            bad = converted.isna() & column.notna()
            if bad.any():
                row = int(np.argmax(bad.to_numpy()))
                raise DataError(
                    f"line {first_line + row}, column {frame.columns[position]!r}: {column.iloc[row]!r} is not "
                    "a number",
                    source=spec.source,
                )
            frame.isetitem(position, converted)
    values = frame.to_numpy(dtype=np.float32, na_value=np.nan)
    keep = np.ones(len(values), dtype=bool)
    if np.isfinite(values).all():  # one pass in the common case
        return values, keep
    nan = np.isnan(values)
    if nan.any():
        where = _locate(nan, frame, spec, first_line)
        if missing == "drop":
            keep = ~nan.any(axis=1)
        else:
            raise DataError(
                f"{int(nan.sum())} missing values in {int(nan.any(axis=0).sum())} columns (first at {where}); "
                "fill them, or drop those rows with --missing drop",
                source=spec.source,
            )
    inf = np.isinf(values)
    if inf.any():
        raise DataError(f"infinite value at {_locate(inf, frame, spec, first_line)}", source=spec.source)
    return values, keep


ID_COLUMN = "id"  # predict's first column for FASTA input: each prediction's record id


def read_label_column(spec: TableSpec):
    """The one label column of a truth or prediction table; predict's record-id column (FASTA input) is skipped,
    so its output goes to plot-cm and plot-reg as it is."""
    frame = read_table(spec)
    if spec.header and frame.shape[1] == 2 and str(frame.columns[0]) == ID_COLUMN:
        frame = frame.iloc[:, 1:]
    return to_labels(frame, spec)


def to_labels(frame, spec: TableSpec, *, several: bool = False):
    """The one label column as a Series, or with ``several`` the frame when it has more than one column
    (multi-label and multi-output models); missing labels are returned as NA for the caller to handle."""
    import pandas as pd

    if frame.shape[1] == 1:
        return frame.iloc[:, 0]
    if several:
        return frame
    if is_zero_one(frame.to_numpy()):  # "To categorical"'s one-hot table: one class per row
        return pd.Series(one_hot_classes(frame.to_numpy(), [str(c) for c in frame.columns], spec))
    raise DataError(
        f"has {frame.shape[1]} columns; choose the label column (e.g. --y-names label or --y-cols 1)",
        source=spec.source,
    )


def is_zero_one(values) -> bool:
    import numpy as np

    return (
        values.ndim == 2 and values.shape[1] > 1 and values.dtype.kind in "biuf" and bool(np.isin(values, (0, 1)).all())
    )


def one_hot_classes(values, names: list[str], spec: TableSpec):
    """The class of each row of a one-hot table (Galaxy-ML's "To categorical" output): the column holding its 1,
    named by the header, else numbered from 0 as "To categorical" numbered them. A row with no 1 or several is an
    error naming it."""
    import numpy as np

    ones = values.sum(axis=1)
    bad = np.flatnonzero(ones != 1)
    if len(bad):
        first = 1 + int(spec.header)
        shown = ", ".join(f"line {first + r} ({int(ones[r])} ones)" for r in bad[:3]) + (
            f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        )
        raise DataError(
            f"has {values.shape[1]} columns of 0 and 1, read as a one-hot table, but a one-hot row has "
            f"one 1: {shown}; or choose one label column (--y-cols / --y-names)",
            source=spec.source,
        )
    classes = np.asarray(names, dtype=object) if spec.header else np.arange(values.shape[1])
    return classes[np.argmax(values, axis=1)]


def table_text(frame) -> str:
    """A table as galaxy-dl writes it: tab-separated with a header, no index."""
    return frame.to_csv(sep="\t", index=False, lineterminator="\n")


def write_table(frame, path: str) -> None:
    """:func:`table_text` to ``path``; ``-`` writes standard output."""
    write_text(path, table_text(frame))
