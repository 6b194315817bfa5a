import gzip
import io

import numpy as np
import pytest

from galaxy_dl.data import matrixmarket
from galaxy_dl.errors import DataError

BANNER = "%%MatrixMarket matrix coordinate real general\n"


def read(text: str):
    return matrixmarket.read(io.BufferedReader(io.BytesIO(text.encode())), "--x m.mtx")


def test_reads_float32_csr_with_comments_and_duplicates_summed():
    m = read(BANNER + "% a comment\n2 3 3\n1 1 5.5\n2 3 7\n2 3 1\n")
    assert m.format == "csr" and m.dtype == np.float32
    assert m.toarray().tolist() == [[5.5, 0, 0], [0, 0, 8]]


def test_pattern_matrices_are_ones():
    assert read("%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 2\n2 1\n").toarray().tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize("text, message", [
    (BANNER + "3 3 4\n1 1 1\n2 2 1\n3 3 1\n", "its header promises 4 entries, but the file has 3"),
    (BANNER + "3 3 1\n1 1 1\n2 2 1\n", "more entries than the 1 its header promises"),
    (BANNER + "3 3 2\n1 1 1\n4 2 1\n", "line 4: row index 4 is outside 1-3"),
    (BANNER + "3 3 1\n1 x 1\n", "bad Matrix Market entries after line 2"),
    (BANNER + "3 3\n", "line 2: bad Matrix Market size line '3 3'"),
    ("%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 1 1\n", "symmetry 'symmetric' is not supported"),
    ("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n", "'array' layout is not supported"),
])
def test_bad_files_name_the_line_or_the_promise(text, message):
    with pytest.raises(DataError) as raised:
        read(text)
    assert str(raised.value).startswith("--x m.mtx: ") and message in str(raised.value)


def test_a_truncated_gzip_matrix_is_a_data_error(tmp_path):
    from galaxy_dl.data.features import Streaming, read_features
    from galaxy_dl.data.tables import TableSpec

    body = gzip.compress((BANNER + "200 3 200\n" + "".join(f"{i + 1} 1 1\n" for i in range(200))).encode())
    path = tmp_path / "m.mtx.gz"
    path.write_bytes(body[: len(body) // 2])
    with pytest.raises(DataError, match=f"--x {path}: "):
        read_features(TableSpec(str(path), option="--x"), take={}, how=Streaming())
