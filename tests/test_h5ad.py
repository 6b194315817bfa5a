import shutil

import h5py
import numpy as np
import pytest

from galaxy_dl.data.h5ad import H5ad
from galaxy_dl.errors import DataError
from tests.conftest import TEST_DATA


def test_csr_x_dense_x_and_layers_read_by_row_blocks():
    sparse_file, dense_file = H5ad(str(TEST_DATA / "cells.h5ad"), "--x"), H5ad(str(TEST_DATA / "cells_dense.h5ad"), "--x")
    assert sparse_file.sparse and not dense_file.sparse and sparse_file.shape == dense_file.shape == (150, 40)
    block = sparse_file.rows(10, 20)
    assert block.format == "csr" and block.dtype == np.float32
    np.testing.assert_array_equal(block.toarray(), dense_file.rows(10, 20))
    log = H5ad(str(TEST_DATA / "cells.h5ad"), "--x", layer="log1p")
    np.testing.assert_allclose(log.rows(0, 150), np.log1p(dense_file.rows(0, 150)), rtol=1e-6)
    assert sparse_file.var_names[:2] == ["gene00", "gene01"] and sparse_file.obs_names[0] == "cell1_0"


def test_categorical_obs_labels_come_back_as_their_labels():
    column = H5ad(str(TEST_DATA / "cells.h5ad"), "--x").obs_column("cell_type", "--y-obs")
    assert set(column) == {"B cell", "T cell", "monocyte"} and len(column) == 150


def without(tmp_path, key):
    path = tmp_path / "broken.h5ad"
    shutil.copy(TEST_DATA / "cells.h5ad", path)
    with h5py.File(path, "a") as f:
        del f[key]
    return str(path)


def test_no_x_names_the_layers(tmp_path):
    with pytest.raises(DataError, match=r"--x: has no X matrix: name one of its layers with --x-layer \(layers: log1p\)"):
        H5ad(without(tmp_path, "X"), "--x")


@pytest.mark.parametrize("call, message", [
    (lambda f: H5ad(f, "--x", layer="counts"), r"--x-layer: no layer named 'counts' \(layers: log1p\)"),
    (lambda f: H5ad(f, "--x").obs_column("celltype", "--y-obs"),
     r"--x: --y-obs: no obs column named 'celltype' \(did you mean cell_type\?\) \(obs columns: cell_type, batch\)"),
])
def test_unknown_layers_and_obs_columns_list_the_real_ones(call, message):
    with pytest.raises(DataError, match=message):
        call(str(TEST_DATA / "cells.h5ad"))


def test_not_anndata_and_not_hdf5(tmp_path):
    with pytest.raises(DataError, match="is not an AnnData file: it has no 'obs' group"):
        H5ad(without(tmp_path, "obs"), "--x")
    junk = tmp_path / "junk.h5ad"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(DataError, match="cannot read as HDF5"):
        H5ad(str(junk), "--x")
