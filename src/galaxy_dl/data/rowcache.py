"""Row caches: feature rows parsed once into float32 on disk, then read by row index.

Each cache lives in an anonymous temporary file (``O_TMPFILE``: it has no name in the directory),
so it disappears when the process ends however it ends (an error, Ctrl-C, SIGTERM, even
SIGKILL): there is never a cache file to clean up. The directory is ``--cache-dir``, else
``$TMPDIR``, else the current directory (a Galaxy job's working directory). Reads go through a read-only memory
map whose pages are handed back to the kernel
after every block (``madvise(MADV_DONTNEED)``), so resident memory does not grow with the file.
"""

import errno
import mmap
import os
import tempfile
from typing import Any

from galaxy_dl.errors import OutputError

# The cache is written a page at a time: one large write makes the kernel cache the file in large folios, and a
# fault on one row then maps its whole folio (up to 2 MB): random rows of an 800 MB cache mapped 450 MB at once,
# which a job's memory limit counts.
WRITE_BYTES = mmap.PAGESIZE


def cache_dir(given: str | None = None) -> str:
    return given or os.environ.get("TMPDIR") or os.getcwd()


class _Column:
    """One growing array of ``dtype`` in an anonymous file; mapped read-only once finished."""

    def __init__(self, dtype, directory: str):
        import numpy as np

        self.dtype = np.dtype(dtype)
        self.directory = directory
        try:
            self._file = tempfile.TemporaryFile(dir=directory, prefix="galaxy-dl-cache-")  # noqa: SIM115 (lives with the cache)
        except OSError as exc:
            raise OutputError(
                f"cannot create the row cache in {directory}: {exc.strerror}", source="--cache-dir"
            ) from None
        self.length = 0
        self._map: mmap.mmap | None = None

    def append(self, values) -> None:
        import numpy as np

        data = np.ascontiguousarray(values, dtype=self.dtype)
        try:
            view, fd = memoryview(data).cast("B"), self._file.fileno()  # type: ignore[arg-type]  # numpy arrays are buffers; its stubs do not say so
            while len(view):
                view = view[os.write(fd, view[:WRITE_BYTES]) :]
        except OSError as exc:
            self.close()
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise OutputError(
                    f"the disk is full while writing the row cache in {self.directory} "
                    f"({(self.length * self.dtype.itemsize) >> 20} MB written): free space there "
                    "or choose another directory with --cache-dir / $TMPDIR",
                    source="--cache-dir",
                ) from None
            raise OutputError(
                f"cannot write the row cache in {self.directory}: {exc.strerror}", source="--cache-dir"
            ) from None
        self.length += data.size

    def array(self):
        import numpy as np

        self._file.flush()
        if self.length == 0:
            return np.empty(0, dtype=self.dtype)
        self._map = mapped = mmap.mmap(self._file.fileno(), self.length * self.dtype.itemsize, access=mmap.ACCESS_READ)
        return np.frombuffer(mapped, dtype=self.dtype, count=self.length)

    def release(self) -> None:
        if self._map is not None:
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self._map = None  # arrays still viewing it keep the mapping alive
        self._file.close()


class DenseCache:
    """Rows of ``n_columns`` values (float32 features, or uint8 sequence codes): :meth:`append` blocks, then
    index rows like an array."""

    def __init__(self, n_columns: int, directory: str | None = None, dtype: str = "float32"):
        self.n_columns = n_columns
        self._values = _Column(dtype, cache_dir(directory))
        self._array: Any = None

    def append(self, block) -> None:
        self._values.append(block)

    def finish(self) -> "DenseCache":
        self._array = self._values.array().reshape(-1, self.n_columns)
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return (self._values.length // self.n_columns, self.n_columns)

    def __getitem__(self, rows):
        return self._array[rows]

    def release(self) -> None:
        self._values.release()


class SparseCache:
    """A CSR matrix whose values and column indices live on disk; :meth:`append` CSR row blocks."""

    def __init__(self, n_columns: int, directory: str | None = None):
        directory = cache_dir(directory)
        self.n_columns = n_columns
        self._data = _Column("float32", directory)
        self._indices = _Column("int32", directory)
        self._indptr = [0]
        self.matrix: Any = None

    def append(self, block) -> None:
        """Append the rows of a scipy sparse matrix."""
        csr = block.tocsr()
        csr.sum_duplicates()
        self._data.append(csr.data)
        self._indices.append(csr.indices)
        base = self._indptr[-1]
        self._indptr.extend((base + csr.indptr[1:]).tolist())

    def finish(self) -> "SparseCache":
        import numpy as np
        from scipy import sparse

        nnz = self._indptr[-1]
        indptr = np.asarray(self._indptr, dtype=np.int32 if nnz < 2**31 else np.int64)
        self.matrix = sparse.csr_matrix(
            (self._data.array(), self._indices.array(), indptr), shape=(len(indptr) - 1, self.n_columns), copy=False
        )
        self.release()  # scipy scanned the indices: hand those pages back
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._indptr) - 1, self.n_columns)

    def tocsr(self):
        return self.matrix

    def __getitem__(self, rows):
        return self.matrix[rows]

    def release(self) -> None:
        self._data.release()
        self._indices.release()
