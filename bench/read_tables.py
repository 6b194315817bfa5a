"""Reading a numeric TSV into a float32 matrix: galaxy-dl's reader vs pandas (C engine) vs pandas (pyarrow)."""

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd

from galaxy_dl.data.tables import TableSpec, read_table, to_features

path, repeats = sys.argv[1], int(sys.argv[2])


def ours():
    spec = TableSpec(path)
    return to_features(read_table(spec, numeric=True), spec)[0]


def pandas_c():
    return pd.read_csv(path, sep="\t").to_numpy(dtype=np.float32)


def pandas_arrow():
    return pd.read_csv(path, sep="\t", engine="pyarrow").to_numpy(dtype=np.float32)


results = {}
for name, fn in (("galaxy_dl", ours), ("pandas_c", pandas_c), ("pandas_pyarrow", pandas_arrow)):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        shape = fn().shape
        times.append(time.perf_counter() - start)
    results[name] = {"median_seconds": statistics.median(times), "runs": times, "shape": list(shape)}
print(json.dumps(results))
