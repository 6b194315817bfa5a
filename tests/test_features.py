import gzip

import numpy as np
import pandas as pd
import pytest

from galaxy_dl.data import features, streaming
from galaxy_dl.data.features import Streaming, read_features
from galaxy_dl.data.tables import Columns, TableSpec
from galaxy_dl.errors import DataError
from tests.conftest import TEST_DATA


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(features, "STREAM_CHUNK_ROWS", 7)


def table(tmp_path, rows=40, name="X.tsv"):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.standard_normal((rows, 3)).round(4), columns=["a", "b", "c"])
    frame["label"] = rng.choice(["x", "y"], rows)
    frame.loc[5, "b"] = np.nan
    path = tmp_path / name
    frame.to_csv(path, sep="\t", index=False)
    return str(path)


def test_streamed_text_holds_what_memory_holds(tmp_path, small_chunks):
    spec = TableSpec(table(tmp_path), option="--x")
    read = [read_features(spec, take={"--target": "label"}, missing="drop", how=Streaming(stream=s, cache_dir=str(tmp_path)))
            for s in (False, True)]
    memory, streamed = read
    assert not memory.streamed and streamed.streamed
    assert memory.names == streamed.names == ["a", "b", "c"]
    np.testing.assert_array_equal(memory.keep, streamed.keep)
    assert not memory.keep[5] and memory.keep.sum() == 39
    np.testing.assert_array_equal(memory.X, streamed.X.dense())
    assert memory.taken["--target"].tolist() == streamed.taken["--target"].tolist()


@pytest.mark.parametrize("env, given, size, expected", [
    ({"GALAXY_MEMORY_MB": "100"}, None, 20 << 20, False),
    ({"GALAXY_MEMORY_MB": "100"}, None, 30 << 20, True),  # 2 x 30 MB > half of 100 MB
    ({"GALAXY_MEMORY_MB": "100"}, 1000, 30 << 20, False),
])
def test_the_memory_budget_decides_unless_forced(monkeypatch, env, given, size, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert streaming.should_stream(size, None, given) is expected
    assert streaming.should_stream(size, True, given) and not streaming.should_stream(size, False, given)


def test_sparse_input_stays_sparse_through_column_selection():
    spec = TableSpec(str(TEST_DATA / "cells_X.mtx"), columns=Columns("index", ("1-10",)), option="--x")
    got = read_features(spec, take={}, how=Streaming(stream=False))
    assert got.X.sparse and got.X.shape == (150, 10) and got.X.base.format == "csr"
    dense = read_features(TableSpec(str(TEST_DATA / "cells_dense.h5ad"), option="--x"), take={}, how=Streaming(stream=False))
    np.testing.assert_array_equal(got.X.dense(), dense.X[:, :10])


def test_streamed_h5ad_matches_in_memory_for_dense_and_sparse(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 4 * 40 * 16)
    reference = read_features(TableSpec(str(TEST_DATA / "cells_dense.h5ad")), take={}, how=Streaming(stream=False)).X
    for name in ("cells.h5ad", "cells_dense.h5ad"):
        got = read_features(TableSpec(str(TEST_DATA / name)), take={"--target": "cell_type"},
                            how=Streaming(stream=True, cache_dir=str(tmp_path)))
        assert got.streamed and got.names[0] == "gene00" and got.taken["--target"].iloc[0] in ("B cell", "T cell", "monocyte")
        np.testing.assert_array_equal(got.X.dense(), reference)


def lines_with(tmp_path, bad_line: int, bad: str, rows=60):
    body = ["a\tb\tc"] + [f"{i}\t{i + 1}\t{i + 2}" for i in range(rows)]
    body[bad_line - 1] = bad
    path = tmp_path / "X.tsv"
    path.write_text("\n".join(body) + "\n")
    return str(path)


@pytest.mark.parametrize("bad, message", [
    ("1\t2", "line 45 has 2 columns, expected 3 (ragged rows?)"),
    ("1\tabc\t3", "line 45, column 2: 'abc' is not a number"),
])
def test_a_bad_row_deep_in_a_streamed_table_is_named(tmp_path, small_chunks, bad, message):
    path = lines_with(tmp_path, 45, bad)
    with pytest.raises(DataError) as raised:
        read_features(TableSpec(path, option="--x"), take={}, how=Streaming(stream=True, cache_dir=str(tmp_path)))
    assert str(raised.value) == f"--x {path}: {message}"


def test_a_truncated_gzip_table_is_named(tmp_path, small_chunks):
    data = gzip.compress(("a\tb\n" + "".join(f"{i}\t{i}\n" for i in range(5000))).encode())
    path = tmp_path / "X.tsv.gz"
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(DataError, match=rf"^--x {path}: .*(gzip|end-of-stream|Compressed file ended)"):
        read_features(TableSpec(str(path), option="--x"), take={}, how=Streaming(stream=True, cache_dir=str(tmp_path)))


def test_a_layer_applies_to_anndata_only():
    with pytest.raises(DataError, match="--x-layer applies to AnnData"):
        read_features(TableSpec(str(TEST_DATA / "cells_X.mtx"), option="--x"), take={}, layer="log1p")
    with pytest.raises(DataError, match="has no named columns for --target: give the labels with --y"):
        read_features(TableSpec(str(TEST_DATA / "cells_X.mtx"), option="--x"), take={"--target": "cell_type"})
