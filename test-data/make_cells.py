"""Write the small single-cell test files (see PROVENANCE.md): python test-data/make_cells.py [DIR]."""

import sys
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
from scipy import io, sparse

TYPES = ("B cell", "T cell", "monocyte")


def cells(n: int, genes: list[str], seed: int):
    """Counts with three cell types, each marked by high counts in its own five genes; ~70% zeros."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(TYPES), n)
    rate = np.full((n, len(genes)), 0.3)
    for t in range(len(TYPES)):
        rate[kind == t, 5 * t:5 * t + 5] = 6.0
    counts = rng.poisson(rate).astype(np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical([TYPES[k] for k in kind], categories=TYPES),
                        "batch": rng.choice(["b1", "b2"], n)}, index=[f"cell{seed}_{i}" for i in range(n)])
    adata = anndata.AnnData(X=sparse.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["log1p"] = np.log1p(counts)
    return adata


def main(out: Path) -> None:
    genes = [f"gene{i:02d}" for i in range(40)]
    train = cells(150, genes, seed=1)
    train.write_h5ad(out / "cells.h5ad")
    dense = train.copy()
    dense.X = dense.X.toarray()
    del dense.layers["log1p"]
    dense.write_h5ad(out / "cells_dense.h5ad")
    io.mmwrite(out / "cells_X.mtx", train.X, comment="cells.h5ad's X: 150 cells x 40 genes", field="integer")
    train.obs[["cell_type"]].to_csv(out / "cells_y.tsv", sep="\t", index=False)
    # New cells, genes in another order plus one the model never saw: predict reorders by name.
    test = cells(40, genes, seed=2)
    order = [*list(reversed(genes)), "gene_extra"]
    test = anndata.AnnData(X=sparse.hstack([test.X[:, ::-1], sparse.csr_matrix((40, 1))], format="csr"),
                           obs=test.obs, var=pd.DataFrame(index=order))
    test.write_h5ad(out / "cells_test.h5ad")
    test.obs[["cell_type"]].to_csv(out / "cells_test_y.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent))
