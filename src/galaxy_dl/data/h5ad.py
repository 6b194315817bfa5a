"""AnnData ``.h5ad`` files (Galaxy datatype ``h5ad``), read backed: the matrix stays on disk.

anndata's own readers decode ``obs`` and ``var`` (every encoding it has written over the
years: categoricals, nullable columns, string arrays) and give row access to a sparse matrix
on disk (``anndata.io.sparse_dataset``); a dense matrix is an h5py dataset read by row ranges.
So the matrix (``X``, or ``layers/NAME`` with ``--x-layer``) is read a block of rows at a time.
"""

from galaxy_dl.data import hdf5guard
from galaxy_dl.errors import DataError, first_line, suggest

SPARSE_ENCODINGS = ("csr_matrix", "csc_matrix")


class H5ad:
    """One open file: ``matrix`` (dense h5py dataset or backed CSR), ``obs`` (DataFrame), names."""

    def __init__(self, path: str, source: str, layer: str | None = None):
        import h5py

        self.source = source
        try:
            self._file = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(f"cannot read as HDF5 (.h5ad): {first_line(exc)}", source=source) from None
        try:
            matrix = "X" if layer is None else f"layers/{layer}"
            hdf5guard.check(self._file, source, DataError, read_whole=("/obs", "/var", f"/{matrix}/indptr"))
            self._open(layer)
        except DataError:
            self._file.close()
            raise
        except Exception as exc:  # anndata raises its own errors for damaged elements
            self._file.close()
            raise DataError(f"not a readable AnnData file: {first_line(exc)}", source=source) from None

    def _open(self, layer: str | None) -> None:
        from anndata.io import read_elem, sparse_dataset

        f = self._file
        for key in ("obs", "var"):
            if key not in f:
                raise DataError(f"is not an AnnData file: it has no {key!r} group", source=self.source)
        if layer is None:
            if "X" not in f:
                raise DataError(
                    "has no X matrix: name one of its layers with --x-layer"
                    f" (layers: {', '.join(self.layers) or 'none'})",
                    source=self.source,
                )
            element, self.what = f["X"], "X"
        else:
            if layer not in self.layers:
                raise DataError(
                    f"--x-layer: no layer named {layer!r}{suggest(layer, self.layers)}"
                    f" (layers: {', '.join(self.layers) or 'none'})",
                    source=self.source,
                )
            element, self.what = f["layers"][layer], f"layer {layer!r}"
        self.obs = read_elem(f["obs"])
        self.var_names = [str(v) for v in read_elem(f["var"]).index]
        encoding = element.attrs.get("encoding-type", "array")
        if encoding in SPARSE_ENCODINGS:
            self.matrix = sparse_dataset(element)
            self.sparse = True
        elif hasattr(element, "shape") and len(element.shape) == 2:
            self.matrix = element
            self.sparse = False
        else:
            raise DataError(f"{self.what} is not a matrix (encoding {encoding!r})", source=self.source)
        dtype = (element["data"] if self.sparse else element).dtype
        if dtype.kind not in "biuf":
            raise DataError(f"{self.what} holds {dtype} values, not numbers", source=self.source)
        self.shape = tuple(int(d) for d in self.matrix.shape)
        if self.shape[1] != len(self.var_names):
            raise DataError(
                f"{self.what} has {self.shape[1]} columns but var has {len(self.var_names)} names", source=self.source
            )
        if self.shape[0] != len(self.obs):
            raise DataError(f"{self.what} has {self.shape[0]} rows but obs has {len(self.obs)}", source=self.source)

    @property
    def layers(self) -> list[str]:
        return list(self._file["layers"].keys()) if "layers" in self._file else []

    @property
    def obs_names(self) -> list[str]:
        return [str(v) for v in self.obs.index]

    @property
    def dense_bytes(self) -> int:
        return self.shape[0] * self.shape[1] * 4

    @property
    def nnz(self) -> int:
        return int(self.matrix.group["indptr"][-1]) if self.sparse else self.shape[0] * self.shape[1]

    def obs_column(self, name: str, option: str):
        """An ``obs`` column as a pandas Series (categories become their labels)."""
        if name not in self.obs.columns:
            known = [str(c) for c in self.obs.columns]
            raise DataError(
                f"{option}: no obs column named {name!r}{suggest(name, known)} (obs columns: "
                f"{', '.join(known) or 'none'})",
                source=self.source,
            )
        column = self.obs[name]
        if hasattr(column, "cat"):
            column = column.astype(column.cat.categories.dtype)
        return column.reset_index(drop=True)

    def rows(self, start: int, stop: int):
        """Rows [start, stop) as float32: a dense array, or a CSR matrix for a sparse matrix."""
        import numpy as np

        block = self.matrix[start:stop]
        if self.sparse:
            block = block.tocsr()
            return block.astype(np.float32, copy=False)
        return np.asarray(block, dtype=np.float32)

    def close(self) -> None:
        self._file.close()
