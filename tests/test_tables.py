import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxy_dl.data.tables import Columns, TableSpec, iter_tables, read_table, to_features, to_labels, write_table
from galaxy_dl.errors import DataError


def spec(path, **kw):
    return TableSpec(str(path), option="--x", **kw)


def write(tmp_path, text, name="t.tsv", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_reads_golub_wide_file(golub):
    frame = read_table(spec(golub / "X_train.tsv"))
    assert frame.shape == (38, 7129)
    assert frame.columns[0] == "AFFX-BioB-5_at"
    X, keep = to_features(frame, spec(golub / "X_train.tsv"))
    assert X.dtype == np.float32 and keep.all()


def test_gzip_is_sniffed_without_suffix(tmp_path):
    path = write(tmp_path, gzip.compress(b"a\tb\n1\t2\n3\t4\n"), name="data.dat", mode="wb")
    assert read_table(spec(path)).to_numpy().tolist() == [[1, 2], [3, 4]]


def test_no_header_names_columns_by_position(tmp_path):
    path = write(tmp_path, "1\t2\n3\t4\n")
    frame = read_table(spec(path, header=False))
    assert list(frame.columns) == ["1", "2"] and len(frame) == 2


def test_matrix_market_is_not_a_label_table(tmp_path):
    path = write(tmp_path, "%%MatrixMarket matrix coordinate real general\n2 3 2\n1 1 5.0\n2 3 7.0\n")
    with pytest.raises(DataError, match="is a Matrix Market matrix: only feature inputs"):
        read_table(spec(path))


@pytest.mark.parametrize("columns, expected", [
    (Columns(), ["a", "b", "c", "d"]),
    (Columns("index", ("1", "3-4")), ["a", "c", "d"]),
    (Columns("index_except", ("2",)), ["a", "c", "d"]),
    (Columns("name", ("d", "a")), ["d", "a"]),
    (Columns("name_except", ("a", "b")), ["c", "d"]),
])
def test_galaxy_column_selection_modes(tmp_path, columns, expected):
    path = write(tmp_path, "a\tb\tc\td\n1\t2\t3\t4\n")
    assert list(read_table(spec(path, columns=columns)).columns) == expected


@pytest.mark.parametrize("text, columns, message", [
    ("a\tb\n1\t2\n", Columns("index", ("3",)), "outside 1-2"),
    ("a\tb\n1\t2\n", Columns("name", ("bb",)), "no column named 'bb'"),
    ("a\tb\n1\t2\n", Columns("index_except", ("1-2",)), "leaves no columns"),
])
def test_bad_selection(tmp_path, text, columns, message):
    with pytest.raises(DataError, match=message):
        read_table(spec(write(tmp_path, text), columns=columns))


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"a\tb\n", "header but no data rows"),
    (b"a\ta\n1\t2\n", "'a' appears twice \\(columns 1 and 2\\)$"),
    (b"0\t1\t0\n1\t1\t0\n", "'0' appears twice .*all numbers: if the table has no header row, say so with --no-header"),
    (b"a\t\n1\t2\n", "column 2 has an empty header name"),
    (b"a\tb\n1\t2\n3\n", "line 3 has 1 columns, expected 2"),
    (b"a,b,c\n1,2,3\n", "comma-separated"),
    (b"\x00\x01\x02binary", "binary file"),
    (b"a\tb\n\xff\xfe\xfa\t1\n" + b"x" * 10, "not UTF-8"),
])
def test_bad_tables_are_clear_errors(tmp_path, content, message):
    with pytest.raises(DataError, match=message) as err:
        read_table(spec(write(tmp_path, content, mode="wb")))
    assert "--x" in str(err.value) and "t.tsv" in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(spec(tmp_path / "nope.tsv"))
    with pytest.raises(DataError, match="is a directory"):
        read_table(spec(tmp_path))


def test_non_numeric_cell_names_line_column_and_value(tmp_path):
    path = write(tmp_path, "a\tb\n1\t2\n3\tseven\n")
    with pytest.raises(DataError, match=r"line 3, column 'b': 'seven' is not a number"):
        to_features(read_table(spec(path)), spec(path))


def test_missing_values_error_or_drop(tmp_path):
    path = write(tmp_path, "a\tb\n1\t2\nNA\t4\n5\t\n7\t8\n")
    frame = read_table(spec(path))
    with pytest.raises(DataError, match=r"2 missing values in 2 columns \(first at line 3, column 'a'\)"):
        to_features(frame, spec(path))
    _X, keep = to_features(frame, spec(path), missing="drop")
    assert keep.tolist() == [True, False, False, True]


def test_infinity_is_refused(tmp_path):
    path = write(tmp_path, "a\tb\n1\tinf\n")
    with pytest.raises(DataError, match="infinite value at line 2, column 'b'"):
        to_features(read_table(spec(path)), spec(path))


def test_labels_need_one_column(tmp_path):
    path = write(tmp_path, "a\tb\n1\t2\n")
    with pytest.raises(DataError, match="has 2 columns; choose the label column"):
        to_labels(read_table(spec(path)), spec(path))
    assert to_labels(read_table(spec(path, columns=Columns("name", ("b",)))), spec(path)).tolist() == [2]


def test_string_labels_stay_strings(tmp_path):
    path = write(tmp_path, "label\nALL\nAML\n")
    assert to_labels(read_table(spec(path)), spec(path)).tolist() == ["ALL", "AML"]


def test_chunks_cover_every_row_in_order(tmp_path):
    frame = pd.DataFrame({"a": np.arange(10_000), "b": np.arange(10_000) * 2})
    path = tmp_path / "big.tsv"
    frame.to_csv(path, sep="\t", index=False)
    chunks = list(iter_tables(spec(path), rows=1000))
    assert len(chunks) > 1
    assert pd.concat(chunks, ignore_index=True)["a"].tolist() == list(range(10_000))


def test_stdin(monkeypatch, tmp_path):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\n1\n2\n")))
    assert read_table(TableSpec("-")).shape == (2, 1)


def test_write_table_is_tab_separated_without_index(tmp_path):
    out = tmp_path / "o.tsv"
    write_table(pd.DataFrame({"Predicted": [0, 1]}), str(out))
    assert out.read_text() == "Predicted\n0\n1\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="ab1.\t -e9NA\\\"'x", max_size=6), min_size=1, max_size=4), min_size=0, max_size=5),
       st.booleans())
def test_reader_never_fails_uncleanly(tmp_path_factory, rows, header):
    path = tmp_path_factory.mktemp("h") / "t.tsv"
    path.write_text("\n".join("\t".join(r) for r in rows))
    s = spec(path, header=header)
    try:
        frame = read_table(s)
        to_features(frame, s, missing="drop")
    except DataError:
        pass


def test_numeric_chunks_do_not_drift_between_types(tmp_path):
    path = tmp_path / "drift.tsv"
    path.write_text("a\n" + "1\n" * 300_000 + "1.5\n")
    chunks = list(iter_tables(spec(path), rows=100_000, numeric=True))
    assert sum(len(c) for c in chunks) == 300_001 and chunks[-1]["a"].iloc[-1] == 1.5


def test_non_numeric_cell_in_a_late_chunk_is_located(tmp_path):
    path = tmp_path / "late.tsv"
    path.write_text("a\tb\n" + "1\t2\n" * 200_000 + "3\toops\n")
    with pytest.raises(DataError, match=r"line 200002, column 2: 'oops' is not a number"):
        list(iter_tables(spec(path), rows=50_000, numeric=True))


def test_numeric_read_names_the_bad_cell_even_with_a_selection(tmp_path):
    path = write(tmp_path, "id\ta\tb\nx\t1\t2\ny\t3\tseven\n")
    s = spec(path, columns=Columns("name_except", ("id",)))
    with pytest.raises(DataError, match=r"line 3, column 3: 'seven' is not a number"):
        read_table(s, numeric=True)
    clean = write(tmp_path, "id\ta\nx\t1\ny\t3\n", name="clean.tsv")
    frame = read_table(spec(clean), numeric=True, keep_text={"id"})
    assert frame["id"].tolist() == ["x", "y"] and str(frame["a"].dtype) == "float32"


def test_quoted_header_and_cells_as_r_writes_them(tmp_path):
    path = write(tmp_path, '"gene 1"\t"label"\n1.5\t"ALL"\n2\t"AML"\n')
    frame = read_table(spec(path))
    assert list(frame.columns) == ["gene 1", "label"] and frame["label"].tolist() == ["ALL", "AML"]
