import errno
import os

import numpy as np
import pytest
from scipy import sparse

from galaxy_dl.data import rowcache
from galaxy_dl.errors import ExitStatus, OutputError


def test_dense_cache_round_trips_and_leaves_no_file(tmp_path):
    X = np.random.default_rng(0).standard_normal((25, 4)).astype(np.float32)
    cache = rowcache.DenseCache(4, str(tmp_path))
    cache.append(X[:10])
    cache.append(X[10:])
    cache.finish()
    assert os.listdir(tmp_path) == []  # anonymous: nothing to clean up, however the process ends
    assert cache.shape == (25, 4)
    np.testing.assert_array_equal(cache[np.array([3, 7, 20])], X[[3, 7, 20]])
    cache.release()
    np.testing.assert_array_equal(cache[np.arange(25)], X)  # pages handed back are read again from the file


def test_sparse_cache_is_csr_on_disk(tmp_path):
    matrix = sparse.random(30, 12, density=0.2, format="csr", dtype=np.float32, random_state=1)
    cache = rowcache.SparseCache(12, str(tmp_path))
    cache.append(matrix[:13])
    cache.append(matrix[13:])
    cache.finish()
    assert cache.shape == (30, 12) and os.listdir(tmp_path) == []
    np.testing.assert_array_equal(cache[np.array([0, 5, 29])].toarray(), matrix[[0, 5, 29]].toarray())


def test_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rowcache.os, "write", full)
    cache = rowcache.DenseCache(3, str(tmp_path))
    with pytest.raises(OutputError) as raised:
        cache.append(np.zeros((4, 3), dtype=np.float32))
    assert raised.value.exit_status == ExitStatus.OUTPUT
    assert f"the disk is full while writing the row cache in {tmp_path}" in str(raised.value)
    assert "--cache-dir" in str(raised.value)


def test_cache_dir_defaults_to_tmpdir_then_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert rowcache.cache_dir() == str(tmp_path) and rowcache.cache_dir("x") == "x"
    monkeypatch.delenv("TMPDIR")
    assert rowcache.cache_dir() == os.getcwd()
