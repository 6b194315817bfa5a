"""make bench: galaxy-dl against the floor set by its libraries, in one run on one machine.

Prints a table and writes bench/results.json. Times are medians of several runs; ratios are
ours / baseline, so they travel between machines better than seconds do.
Peak memory is the child's maximum resident set size (getrusage via wait4).
"""

import functools
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
DATA = ROOT / "test-data"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "3"}
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
RESULTS: dict = {}

TUTORIAL = [
    ("build-arch", ["build-arch", "--input-shape", "7129", "--layer", 'Dense(16, activation="elu")', "--layer",
                    'Dense(16, activation="elu")', "--layer", 'Dense(1, activation="sigmoid")', "-o", "arch.json", "--quiet"]),
    ("build-model", ["build-model", "--arch", "arch.json", "--task", "classification", "--loss", "binary_crossentropy",
                     "--optimizer", "rmsprop", "--epochs", "10", "--batch-size", "4", "--seed", "42", "-o", "model.zip"]),
    ("train-eval", ["train-eval", "--model", "model.zip", "--x", str(DATA / "X_train.tsv"), "--y", str(DATA / "y_train.tsv"),
                    "--scores", "scores.tsv", "--fitted-model", "fitted.zip", "--weights", "weights.h5"]),
    ("predict", ["predict", "--model", "fitted.zip", "--weights", "weights.h5", "--x", str(DATA / "X_test.tsv"), "-o", "predictions.tsv"]),
    ("plot-cm", ["plot-cm", "--y-true", str(DATA / "y_test.tsv"), "--y-pred", "predictions.tsv", "-o", "cm.png"]),
]
FLOOR_STEP = {"build-arch": "build_arch", "build-model": "build_model", "train-eval": "train_eval", "predict": "predict", "plot-cm": "plot_cm"}


def _child(cmd, cwd, env):
    """Run one child; wall seconds, peak RSS in MB (its own, from wait4), stdout."""
    import tempfile

    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed ({proc.returncode}): {err.read()[-1500:]}")
    return seconds, usage.ru_maxrss / 1024, out


def run_once(cmd, cwd=WORK, env=ENV):
    seconds, _, out = _child(cmd, cwd, env)
    return seconds, out


def measured(cmd, repeats=REPEATS, cwd=WORK, env=ENV):
    """Median wall time and the largest peak memory over ``repeats`` runs."""
    runs = [_child(cmd, cwd, env) for _ in range(repeats)]
    return _summary(runs), runs[-1][2]


def _summary(runs):
    times = [r[0] for r in runs]
    return {"median_seconds": statistics.median(times), "runs": times, "peak_mb": max(r[1] for r in runs)}


def interleaved(commands, repeats=REPEATS):
    """Like measured() for several commands, run in turn each round, so drift in the machine's speed hits all alike.

    ``commands`` maps a name to (cmd, env); returns a name -> summary dict.
    """
    runs = {name: [] for name in commands}
    for name in rotated(list(commands), repeats):
        cmd, env = commands[name]
        runs[name].append(_child(cmd, WORK, env))
    return {name: _summary(r) for name, r in runs.items()}


def rotated(names, repeats):
    """Each name once a round, each round starting with the next name: none always runs after the same one."""
    for i in range(repeats):
        yield from names[i % len(names):] + names[:i % len(names)]


def plain_cmd(step, gc_paused=False):
    """The same work in a plain script; ``gc_paused`` handles the collector as our programs do."""
    env = {**ENV, "PLAIN_GC_PAUSED": "1" if gc_paused else "0"}
    return [sys.executable, ROOT / "bench" / "plain_keras.py", step, WORK, DATA], env


def plain(step, repeats=REPEATS):
    cmd, env = plain_cmd(step)
    return measured(cmd, repeats, env=env)


def section(title):
    print(f"\n== {title}", flush=True)


def row(*cells):
    print("  " + " | ".join(f"{c:>11}" if i else f"{c:<34}" for i, c in enumerate(cells)), flush=True)


def startup():
    section("1. Start-up (--help must not import TensorFlow; plot-cm must not import Keras)")
    row("what", "median s", "peak MB")
    out = {}
    for name, _ in TUTORIAL:
        out[f"{name} --help"], _ = measured([name, "--help"])
    floors = interleaved({"plain": plain_cmd("import_only"), "paused": plain_cmd("import_only", gc_paused=True)})
    out["python -c 'import keras' (floor)"] = floors["plain"]
    out["import keras, collector paused"] = floors["paused"]
    prepare_tutorial_files()
    out["plot-cm on the tutorial files"], _ = measured(TUTORIAL[-1][1])
    for key, value in out.items():
        row(key, f"{value['median_seconds']:.3f}", f"{value['peak_mb']:.0f}")
    RESULTS["startup"] = out


def prepare_tutorial_files():
    for _, cmd in TUTORIAL[:-1]:
        run_once(cmd)


def tutorial():
    section("2. Tutorial pipeline: each step vs the same work in plain Keras (own process each)")
    print("  plain: a straightforward script; paused: the same script with the collector handled as ours does.\n"
          "  overhead = ours - paused (our own cost); ratio = ours / plain.")
    row("step", "ours s", "plain s", "paused s", "overhead s", "ratio", "ours MB")
    steps = {}
    total = {"ours": 0.0, "plain": 0.0, "paused": 0.0}
    for name, cmd in TUTORIAL:
        got = interleaved({"ours": (cmd, ENV), "plain": plain_cmd(FLOOR_STEP[name]),
                           "paused": plain_cmd(FLOOR_STEP[name], gc_paused=True)})
        ours, floor, paused = got["ours"], got["plain"], got["paused"]
        overhead = ours["median_seconds"] - paused["median_seconds"]
        steps[name] = {"ours": ours, "plain": floor, "plain_gc_paused": paused, "overhead_seconds": overhead,
                       "ratio": ours["median_seconds"] / floor["median_seconds"]}
        for key, value in (("ours", ours), ("plain", floor), ("paused", paused)):
            total[key] += value["median_seconds"]
        row(name, f"{ours['median_seconds']:.2f}", f"{floor['median_seconds']:.2f}", f"{paused['median_seconds']:.2f}",
            f"{overhead:+.2f}", f"{steps[name]['ratio']:.2f}", f"{ours['peak_mb']:.0f}")
    one, _ = plain("tutorial", repeats=max(3, REPEATS // 2))
    row("total, five processes", f"{total['ours']:.2f}", f"{total['plain']:.2f}", f"{total['paused']:.2f}",
        f"{total['ours'] - total['paused']:+.2f}", f"{total['ours'] / total['plain']:.2f}", "")
    row("plain Keras, one process", "", f"{one['median_seconds']:.2f}", "", "", f"{total['ours'] / one['median_seconds']:.2f}", "")
    row("Galaxy-ML (issue #8, same machine kind)", "", "21", "", "", f"{total['ours'] / 21:.2f}", "")
    RESULTS["tutorial"] = {"steps": steps, "total_ours_seconds": total["ours"], "total_plain_per_step_seconds": total["plain"],
                           "total_plain_gc_paused_seconds": total["paused"], "plain_one_process": one,
                           "galaxy_ml_reported_seconds": 21.0, "ratio_to_galaxy_ml": total["ours"] / 21.0}


def make_big_tables():
    import pyarrow as pa
    from pyarrow import csv

    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for rows in (100_000, 1_000_000):
        path = WORK / f"numeric_{rows}x100.tsv"
        if path.exists():
            continue
        with csv.CSVWriter(str(path), pa.schema([(f"c{i}", pa.float32()) for i in range(100)]),
                           write_options=csv.WriteOptions(delimiter="\t", quoting_style="none")) as writer:
            for start in range(0, rows, 100_000):
                block = rng.normal(size=(min(100_000, rows - start), 100)).astype("float32").round(4)
                writer.write_table(pa.Table.from_arrays([pa.array(block[:, i]) for i in range(100)], names=[f"c{i}" for i in range(100)]))
    if not (WORK / "big_X.npy").exists():
        X = rng.normal(size=(200_000, 100)).astype("float32")
        y = (X[:, :10].sum(axis=1) + rng.normal(size=200_000) > 0).astype("int64")
        np.save(WORK / "big_X.npy", X)
        np.save(WORK / "big_y.npy", y)
        import pandas as pd

        pd.DataFrame(X, columns=[f"c{i}" for i in range(100)]).to_csv(WORK / "big_X.tsv", sep="\t", index=False)
        pd.DataFrame({"label": y}).to_csv(WORK / "big_y.tsv", sep="\t", index=False)


def reading():
    section("3. Reading tables into float32 (in-process, median)")
    row("file", "galaxy-dl s", "pandas C s", "pandas arrow s", "ours/fastest")
    out = {}
    for label, path, repeats in (("Golub X_train (38 x 7129)", DATA / "X_train.tsv", 5),
                                 ("generated 1,000,000 x 100", WORK / "numeric_1000000x100.tsv", 3)):
        _, text = run_once([sys.executable, ROOT / "bench" / "read_tables.py", path, repeats])
        r = json.loads(text.strip().splitlines()[-1])
        fastest = min(r["pandas_c"]["median_seconds"], r["pandas_pyarrow"]["median_seconds"])
        r["ratio_to_fastest_pandas"] = r["galaxy_dl"]["median_seconds"] / fastest
        out[label] = r
        row(label, f"{r['galaxy_dl']['median_seconds']:.3f}", f"{r['pandas_c']['median_seconds']:.3f}",
            f"{r['pandas_pyarrow']['median_seconds']:.3f}", f"{r['ratio_to_fastest_pandas']:.2f}")
    RESULTS["reading"] = out


def training():
    section("4. Training throughput: 200,000 x 100 (80% fitted), three Dense(256), 2 epochs, batch 256 (build+compile+fit)")
    row("what", "fit s", "rows/s", "ratio")
    ours, base = [], []
    for _ in range(5):  # interleaved, so that drift in the machine's speed hits both alike
        ours.append(json.loads(run_once([sys.executable, ROOT / "bench" / "ours_fit.py", WORK])[1].strip().splitlines()[-1]))
        base.append(json.loads(plain("fit_only", repeats=1)[1].strip().splitlines()[-1]))
    o = statistics.median(r["fit_seconds"] for r in ours)
    b = statistics.median(r["fit_seconds"] for r in base)
    rows = ours[0]["rows"] * ours[0]["epochs"]
    row("galaxy-dl estimator.fit", f"{o:.2f}", f"{rows / o:,.0f}", f"{o / b:.2f}")
    row("plain model.fit", f"{b:.2f}", f"{rows / b:,.0f}", "1.00")
    # The whole program, reading the TSV included, for the record.
    run_once(["build-arch", "--input-shape", "100", *functools.reduce(operator.iadd, (["--layer", 'Dense(256, activation="relu")'] for _ in range(3)), []), "--layer", 'Dense(1, activation="sigmoid")', "-o", "big_arch.json", "--quiet"])
    run_once(["build-model", "--arch", "big_arch.json", "--optimizer", "adam", "--epochs", "2", "--batch-size", "256", "--seed", "42", "-o", "big_model.zip"])
    cli, _ = measured(["train-eval", "--model", "big_model.zip", "--x", WORK / "big_X.tsv", "--y", WORK / "big_y.tsv",
                       "--scores", "big_scores.tsv", "--fitted-model", "big_fitted.zip"], repeats=1)
    row("train-eval, whole program", f"{cli['median_seconds']:.2f}", "", "")
    RESULTS["training"] = {"ours_fit_seconds": o, "plain_fit_seconds": b, "ratio": o / b, "rows_per_second": rows / o,
                           "train_eval_whole_seconds": cli["median_seconds"], "train_eval_peak_mb": cli["peak_mb"]}


def prediction():
    section("5. Prediction at scale (100 columns; model from section 4)")
    row("rows", "seconds", "rows/s", "peak MB")
    out = {}
    for rows in (100_000, 1_000_000):
        r, _ = measured(["predict", "--model", "big_fitted.zip", "--x", WORK / f"numeric_{rows}x100.tsv", "-o", f"pred_{rows}.tsv"], repeats=2)
        r["rows_per_second"] = rows / r["median_seconds"]
        out[rows] = r
        row(f"{rows:,}", f"{r['median_seconds']:.2f}", f"{r['rows_per_second']:,.0f}", f"{r['peak_mb']:.0f}")
    growth = out[1_000_000]["peak_mb"] / out[100_000]["peak_mb"]
    row("peak memory, 10x rows", f"x{growth:.2f}", "", "")
    RESULTS["prediction"] = {str(k): v for k, v in out.items()} | {"memory_growth_10x_rows": growth}


def backends():
    section("6. Backends: the tutorial pipeline, total of the five steps (jax from the project's [jax] extra)")
    row("backend", "total s", "ratio to tensorflow")
    out = {}
    for backend in ("tensorflow", "jax"):
        env = {**ENV, "KERAS_BACKEND": backend}
        check = subprocess.run([sys.executable, "-c", "import jax, keras"], env=env, capture_output=True)
        if check.returncode != 0:
            out[backend] = None
            row(backend, "jax not installed", "")
            continue
        total = sum(measured(cmd, repeats=3, env=env)[0]["median_seconds"] for _, cmd in TUTORIAL)
        out[backend] = total
    for backend, total in out.items():
        if total is not None and out["tensorflow"]:
            row(backend, f"{total:.2f}", f"{total / out['tensorflow']:.2f}")
    RESULTS["backends"] = out


def write_numeric_tsv(path, rows, columns=100, seed=0):
    """A labelled numeric table written in blocks (the label is column c0's sign plus noise)."""
    import pyarrow as pa
    from pyarrow import csv

    if path.exists():
        return
    rng = np.random.default_rng(seed)
    names = ["label"] + [f"c{i}" for i in range(columns)]
    tmp = path.with_suffix(".part")
    with csv.CSVWriter(str(tmp), pa.schema([("label", pa.int8())] + [(n, pa.float32()) for n in names[1:]]),
                       write_options=csv.WriteOptions(delimiter="\t", quoting_style="none")) as writer:
        for start in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - start), columns)).astype("float32").round(4)
            label = (block[:, :10].sum(axis=1) + rng.normal(size=len(block)) > 0).astype("int8")
            writer.write_table(pa.Table.from_arrays([pa.array(label)] + [pa.array(block[:, i]) for i in range(columns)], names=names))
    tmp.rename(path)


def write_sparse_h5ad(path, rows, columns=20_000, density=0.01, seed=0):
    """Single-cell-like counts: CSR at ``density``, two cell types told apart by the first 50 genes."""
    import anndata
    import pandas as pd
    from scipy import sparse

    if path.exists():
        return
    rng = np.random.default_rng(seed)
    blocks, kinds = [], []
    for start in range(0, rows, 20_000):
        n = min(20_000, rows - start)
        block = sparse.random(n, columns, density=density, format="csr", dtype=np.float32, random_state=rng)
        kind = rng.integers(0, 2, n)
        block.data = np.ceil(block.data * 5)
        marker = sparse.csr_matrix((np.full(kind.sum() * 5, 8.0, dtype=np.float32),
                                    (np.repeat(np.flatnonzero(kind), 5), np.tile(np.arange(5), kind.sum()))), shape=(n, columns))
        blocks.append((block + marker).tocsr())
        kinds.append(kind)
    kind = np.concatenate(kinds)
    obs = pd.DataFrame({"cell_type": pd.Categorical(np.where(kind == 1, "T cell", "B cell"))}, index=[f"c{i}" for i in range(rows)])
    adata = anndata.AnnData(X=sparse.vstack(blocks, format="csr"), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(columns)]))
    adata.write_h5ad(path.with_suffix(".part"))
    path.with_suffix(".part").rename(path)


def make_beyond_memory_data():
    write_numeric_tsv(WORK / "stream_200000.tsv", 200_000)
    write_numeric_tsv(WORK / "stream_2000000.tsv", 2_000_000)
    write_sparse_h5ad(WORK / "cells_200000.h5ad", 200_000)
    write_sparse_h5ad(WORK / "cells_20000.h5ad", 20_000, seed=1)
    if not (WORK / "big_X.npy").exists():
        make_big_tables()


def beyond_memory():
    section("7. Training beyond memory: streamed from the row cache (train-eval --stream, 1 epoch, batch 256, 3x Dense(256))")
    run_once([sys.executable, __file__, "--make-beyond-memory-data"])
    out = {}
    run_once(["build-arch", "--input-shape", "100", *functools.reduce(operator.iadd, (["--layer", 'Dense(256, activation="relu")'] for _ in range(3)), []), "--layer", 'Dense(1, activation="sigmoid")', "-o", "stream_arch.json", "--quiet"])
    run_once(["build-model", "--arch", "stream_arch.json", "--optimizer", "adam", "--epochs", "1", "--batch-size", "256",
              "--seed", "42", "-o", "stream_model.zip"])
    row("rows x 100 columns", "mode", "seconds", "peak MB")
    for rows in (200_000, 2_000_000):
        for mode in ("--stream", "--no-stream"):
            r, _ = measured(["train-eval", "--model", "stream_model.zip", "--x", WORK / f"stream_{rows}.tsv", "--target", "label",
                             mode, "--cache-dir", WORK, "--scores", f"stream_scores_{rows}.tsv"], repeats=1)
            out[f"{rows}{mode}"] = r
            row(f"{rows:,}", mode.lstrip("-"), f"{r['median_seconds']:.1f}", f"{r['peak_mb']:.0f}")
    for mode in ("--stream", "--no-stream"):
        growth = out[f"2000000{mode}"]["peak_mb"] / out[f"200000{mode}"]["peak_mb"]
        out[f"peak_growth_10x_rows{mode}"] = growth
        row("peak memory, 10x rows", mode.lstrip("-"), "", f"x{growth:.2f}")
    out["small_model"] = small_model_growth()
    fits = {"memory": [], "streamed": []}
    for _ in range(3):  # interleaved, so that drift in the machine's speed hits both alike
        for mode in fits:
            fits[mode].append(json.loads(run_once([sys.executable, ROOT / "bench" / "stream_fit.py", WORK, mode])[1].strip().splitlines()[-1]))
    speed = {mode: r[0]["rows"] * r[0]["epochs"] / statistics.median(x["fit_seconds"] for x in r) for mode, r in fits.items()}
    out["fit_rows_per_second"] = speed
    out["streamed_throughput_ratio"] = speed["streamed"] / speed["memory"]
    row("fit rows/s (section 4's run)", "in memory", f"{speed['memory']:,.0f}", "")
    row("", "streamed", f"{speed['streamed']:,.0f}", f"x{out['streamed_throughput_ratio']:.2f}")
    feeders = {"arrays": [], "from_generator": [], "pydataset": [], "numpy_function": []}
    for _ in range(3):
        for mode in feeders:
            feeders[mode].append(json.loads(run_once([sys.executable, ROOT / "bench" / "feeders.py", WORK, mode])[1].strip().splitlines()[-1]))
    row("the same fit fed four ways", "feeder", "fit s", "ratio", "kernel s")
    base = statistics.median(r["fit_seconds"] for r in feeders["arrays"])
    out["feeders"] = {}
    for mode, runs in feeders.items():
        fit = statistics.median(r["fit_seconds"] for r in runs)
        kernel = statistics.median(r["system_seconds"] for r in runs)
        out["feeders"][mode] = {"fit_seconds": fit, "system_seconds": kernel, "ratio": fit / base}
        row("", mode, f"{fit:.2f}", f"x{fit / base:.2f}", f"{kernel:.2f}")
    run_once(["build-arch", "--input-shape", "20000", "--layer", 'Dense(64, activation="relu")', "--layer",
              'Dense(2, activation="softmax")', "-o", "cells_arch.json", "--quiet"])
    run_once(["build-model", "--arch", "cells_arch.json", "--optimizer", "adam", "--loss", "sparse_categorical_crossentropy",
              "--epochs", "1", "--batch-size", "256", "--seed", "42", "-o", "cells_model.zip"])
    row("sparse 1% h5ad x 20,000 genes", "step", "seconds", "peak MB")
    r, _ = measured(["train-eval", "--model", "cells_model.zip", "--x", WORK / "cells_200000.h5ad", "--y-obs", "cell_type",
                     "--stream", "--cache-dir", WORK, "--scores", "cells_scores.tsv", "--fitted-model", "cells_fitted.zip"], repeats=1)
    out["sparse_train_200000"] = r
    row("200,000 cells", "train-eval", f"{r['median_seconds']:.1f}", f"{r['peak_mb']:.0f}")
    for rows in (20_000, 200_000):
        r, _ = measured(["predict", "--model", "cells_fitted.zip", "--x", WORK / f"cells_{rows}.h5ad", "-o", f"cells_pred_{rows}.tsv"], repeats=1)
        out[f"sparse_predict_{rows}"] = r
        row(f"{rows:,} cells", "predict", f"{r['median_seconds']:.1f}", f"{r['peak_mb']:.0f}")
    RESULTS["beyond_memory"] = out


def small_model_growth() -> dict:
    """Section 7's streamed runs again with a small model (Dense 32, batch 1024), whose fixed memory is TensorFlow's
    alone: what grows with the rows is not hidden. Peak RSS per million added rows, for each streamed step."""
    run_once(["build-arch", "--input-shape", "100", "--layer", 'Dense(32, activation="relu")', "--layer",
              'Dense(1, activation="sigmoid")', "-o", "small_arch.json", "--quiet"])
    run_once(["build-model", "--arch", "small_arch.json", "--optimizer", "adam", "--epochs", "1", "--batch-size", "1024",
              "--seed", "0", "-o", "small_model.zip"])
    steps = {
        "train-eval": lambda rows: ["train-eval", "--model", "small_model.zip", "--x", WORK / f"stream_{rows}.tsv",
                                    "--target", "label", "--stream", "--cache-dir", WORK, "--scores", f"small_{rows}.tsv",
                                    "--fitted-model", f"small_fitted_{rows}.zip"],
        "cv, 3 folds": lambda rows: ["train-eval", "--model", "small_model.zip", "--x", WORK / f"stream_{rows}.tsv",
                                     "--target", "label", "--stream", "--cache-dir", WORK, "--scheme", "cv", "--folds", "3",
                                     "--no-refit", "--scores", f"small_cv_{rows}.tsv"],
        "predict": lambda rows: ["predict", "--model", "small_fitted_200000.zip", "--x", WORK / f"stream_{rows}.tsv",
                                 "-o", f"small_pred_{rows}.tsv"],
    }
    out = {}
    row("small model (Dense 32), streamed", "rows", "seconds", "peak MB", "MB/M rows")
    for step, command in steps.items():
        peaks = {}
        for rows in (200_000, 2_000_000):
            r, _ = measured(command(rows), repeats=1)
            peaks[rows] = r["peak_mb"]
            row(step, f"{rows:,}", f"{r['median_seconds']:.1f}", f"{r['peak_mb']:.0f}")
        per_million = (peaks[2_000_000] - peaks[200_000]) / 1.8
        out[step] = {"peak_mb": peaks, "growth_10x_rows": peaks[2_000_000] / peaks[200_000], "mb_per_million_rows": per_million}
        row("", "10x rows", "", f"x{peaks[2_000_000] / peaks[200_000]:.3f}", f"{per_million:.0f}")
    return out


def distributed():
    section("8. Distribution: section 4's fit (160,000 rows, 2 epochs, global batch 256) on TensorFlow and JAX, "
            "and on JAX in 1 and 2 processes")
    out = {}
    fits = {}
    for backend in ("tensorflow", "jax"):
        env = {**ENV, "KERAS_BACKEND": backend}
        fits[backend] = json.loads(run_once([sys.executable, ROOT / "bench" / "ours_fit.py", WORK], env=env)[1].strip().splitlines()[-1])
    rate = {b: r["rows"] * r["epochs"] / r["fit_seconds"] for b, r in fits.items()}
    row("backend", "fit s", "rows/s", "ratio")
    for backend, r in fits.items():
        row(backend, f"{r['fit_seconds']:.2f}", f"{rate[backend]:,.0f}", f"{rate[backend] / rate['tensorflow']:.2f}")
    out["backends"] = {b: {"fit_seconds": r["fit_seconds"], "rows_per_second": rate[b]} for b, r in fits.items()}
    feeders = {"arrays": [], "pydataset": [], "numpy_function": []}
    for _ in range(3):  # how batches reach Keras on JAX (section 7 asked the same of TensorFlow)
        for mode in feeders:
            feeders[mode].append(json.loads(run_once([sys.executable, ROOT / "bench" / "feeders.py", WORK, mode],
                                                     env={**ENV, "KERAS_BACKEND": "jax"})[1].strip().splitlines()[-1]))
    row("JAX, the same fit fed", "feeder", "fit s", "ratio")
    base = statistics.median(r["fit_seconds"] for r in feeders["arrays"])
    out["jax_feeders"] = {}
    for mode, runs in feeders.items():
        fit = statistics.median(r["fit_seconds"] for r in runs)
        out["jax_feeders"][mode] = {"fit_seconds": fit, "ratio": fit / base}
        row("", mode, f"{fit:.2f}", f"x{fit / base:.2f}")
    sys.path.insert(0, str(ROOT / "src"))
    from galaxy_dl.runs.launcher import free_port

    row("JAX processes x threads", "fit s", "per step", "all-reduce", "MB per all-reduce")
    runs = {(1, 2): [], (2, 1): [], (2, 2): []}
    for _ in range(3):  # interleaved, so that drift in the machine's speed hits every setting alike
        for n, threads in runs:
            port = free_port()
            procs = [subprocess.Popen([sys.executable, ROOT / "bench" / "dist_fit.py", WORK, str(n), str(i), str(port), str(threads)],
                                      cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                     for i in range(n)]
            outputs = [p.communicate(timeout=900)[0] for p in procs]
            runs[(n, threads)].append(json.loads(outputs[0].strip().splitlines()[-1]))
    for (n, threads), rs in runs.items():
        r = dict(rs[0])
        r["fit_seconds"] = statistics.median(x["fit_seconds"] for x in rs)
        r["allreduce_seconds"] = statistics.median(x["allreduce_seconds"] for x in rs)
        r["step_seconds"] = r["fit_seconds"] / r["steps"]
        out[f"processes_{n}_threads_{threads}"] = r
        row(f"{n} x {threads}", f"{r['fit_seconds']:.2f}", f"{r['step_seconds'] * 1000:.2f} ms",
            f"{r['allreduce_seconds'] * 1000:.3f} ms", f"{r['params'] * 4 / 1e6:.2f}")
    one = out["processes_1_threads_2"]["fit_seconds"]
    for key in ("processes_2_threads_1", "processes_2_threads_2"):
        out[f"speedup_{key}"] = one / out[key]["fit_seconds"]
        row(f"{key.split('_')[1]} processes x {key.split('_')[3]} vs 1 x 2", f"x{out[f'speedup_{key}']:.2f}", "", "", "")
    RESULTS["distributed"] = out


SEARCH_GRID = {"dense.units": [32, 64], "learning_rate": [0.001, 0.01], "batch_size": [128, 256]}


def search():
    section("9. Hyperparameter search: a grid of 8 settings x 3 folds on 20,000 rows x 100 columns (3 epochs each), "
            "train-eval --search with --jobs 1 and 2, and the same fits in a plain GridSearchCV loop")
    table = WORK / "search_20k.tsv"
    write_numeric_tsv(table, 20_000, seed=9)
    arch, model = WORK / "search_arch.json", WORK / "search_model.zip"
    run_once(["build-arch", "--input-shape", "100", "--layer", 'Dense(64, activation="relu")',
              "--layer", 'Dense(1, activation="sigmoid")', "-o", arch, "--quiet"])
    run_once(["build-model", "--arch", arch, "--optimizer", "adam", "--epochs", "3", "--batch-size", "256",
              "--seed", "42", "--verbose", "0", "-o", model])
    params = [a for name, values in SEARCH_GRID.items() for a in ("--param", f"{name}={','.join(map(str, values))}")]

    def ours(jobs):
        return (["train-eval", "--model", model, "--x", table, "--target", "label", "--search", "grid", *params,
                 "--folds", "3", "--scores", WORK / f"search_scores_{jobs}.tsv", "--search-results",
                 WORK / f"search_results_{jobs}.tsv", "--fitted-model", WORK / f"search_fitted_{jobs}.zip",
                 "--jobs", str(jobs)], ENV)

    plain_loop = [sys.executable, ROOT / "bench" / "search_plain.py", WORK, model, table, json.dumps(SEARCH_GRID)]
    repeats = int(os.environ.get("BENCH_SEARCH_REPEATS", "3"))
    runs = interleaved({"jobs_1": ours(1), "jobs_2": ours(2), "plain": (plain_loop, ENV),
                        "plain_same_scores": ([*plain_loop, "--same-scores"], ENV)}, repeats=repeats)
    same = _timeless(WORK / "search_results_1.tsv") == _timeless(WORK / "search_results_2.tsv")
    out = {name: {"median_seconds": r["median_seconds"], "runs": r["runs"], "peak_mb": r["peak_mb"]} for name, r in runs.items()}
    plain_s, same_s, one, two = (out[k]["median_seconds"] for k in ("plain", "plain_same_scores", "jobs_1", "jobs_2"))
    out["overhead_per_setting_seconds"] = (one - plain_s) / 8
    out["overhead_ratio"] = one / plain_s - 1
    out["overhead_ratio_same_scores"] = one / same_s - 1
    out["jobs_2_speedup"] = one / two
    out["jobs_1_and_2_same_results"] = same
    row(f"run (wall, median of {repeats})", "seconds", "peak MB", "ratio")
    row("plain GridSearchCV loop", f"{plain_s:.1f}", f"{out['plain']['peak_mb']:.0f}", "1.00")
    row("  the same, also Keras' loss", f"{same_s:.1f}", f"{out['plain_same_scores']['peak_mb']:.0f}", f"{same_s / plain_s:.3f}")
    row("train-eval --search --jobs 1", f"{one:.1f}", f"{out['jobs_1']['peak_mb']:.0f}", f"{one / plain_s:.3f}")
    row("train-eval --search --jobs 2", f"{two:.1f}", f"{out['jobs_2']['peak_mb']:.0f}", f"{two / plain_s:.3f}")
    row("overhead per setting (jobs 1)", f"{out['overhead_per_setting_seconds']:.2f} s",
        f"{out['overhead_ratio'] * 100:.1f}%", "(target < 5%)")
    row("  vs the loop with the same scores", "", f"{out['overhead_ratio_same_scores'] * 100:.1f}%", "")
    row("--jobs 1 and 2: same results table", "yes" if same else "NO", "", "(but for fit times)")
    RESULTS["search"] = out


def report():
    section("10. Training report: what --report adds to train-eval on the tutorial, timed inside the run (the "
            "report's drawing, rendering and writing) and as whole processes")
    prepare_tutorial_files()
    base = TUTORIAL[2][1]
    repeats = int(os.environ.get("BENCH_REPORT_REPEATS", "7"))
    asked = {"html": ["--report", "report.html"], "pdf": ["--report", "report.pdf"],
             "html_pdf": ["--report", "report.html", "--report", "report.pdf"]}
    inside = {name: [] for name in asked}
    for name in rotated(list(asked), repeats):  # in turn, so that drift in the machine's speed hits every format alike
        _, text = run_once([sys.executable, ROOT / "bench" / "report_render.py", *base[1:], *asked[name]])
        inside[name].append(json.loads(text))
    out = {"in_run": {}}
    row(f"inside train-eval (median of {repeats})", "report s", "run s", "share")
    for name, label in (("html", "--report report.html"), ("pdf", "--report report.pdf"), ("html_pdf", "both")):
        report_s = statistics.median(r["report_s"] for r in inside[name])
        run_s = statistics.median(r["run_s"] for r in inside[name])
        out["in_run"][name] = {"report_seconds": report_s, "run_seconds": run_s, "runs": inside[name]}
        row(label, f"{report_s:.2f}", f"{run_s:.2f}", f"{report_s / run_s * 100:.0f}%")
    pairs = int(os.environ.get("BENCH_REPORT_PAIRS", "15"))
    runs = interleaved({"none": (base, ENV), "html": (base + asked["html"], ENV),
                        "html_pdf": (base + asked["html_pdf"], ENV)}, repeats=pairs)
    row(f"whole processes ({pairs} rounds)", "median s", "added s", "90% CI")
    for name, label in (("none", "no report"), ("html", "--report report.html"), ("html_pdf", "both")):
        r = runs[name]
        # each round's difference to the run without a report in the same round: the machine's drift cancels
        added = np.subtract(r["runs"], runs["none"]["runs"])
        low, high = _median_interval(added) if name != "none" else (0.0, 0.0)
        out[name] = {"median_seconds": r["median_seconds"], "runs": r["runs"], "peak_mb": r["peak_mb"],
                     "added_seconds_median_of_rounds": float(np.median(added)), "added_seconds_ci90": [low, high]}
        row(label, f"{r['median_seconds']:.2f}", f"{np.median(added):+.2f}", f"{low:+.2f}..{high:+.2f}")
    RESULTS["report"] = out


def _median_interval(values, confidence=0.9):
    """A bootstrap confidence interval of the median (scipy's, seeded)."""
    from scipy.stats import bootstrap

    result = bootstrap((np.asarray(values),), np.median, confidence_level=confidence, n_resamples=2000,
                       random_state=0, method="percentile")
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _timeless(path):
    """A results table's lines without its fit-time column."""
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    drop = lines[0].index("fit_time_s")
    return [cells[:drop] + cells[drop + 1:] for cells in lines]


def write_dna_fasta(path, n, length=200, seed=0):
    """``n`` random DNA sequences of ``length`` bp, a TATAAT motif planted in half of them (label yes/no)."""
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    labels = []
    with open(path.with_suffix(".part"), "wb") as fh:
        for start in range(0, n, 100_000):
            size = min(100_000, n - start)
            codes = rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), size=(size, length))
            planted = rng.random(size) < 0.5
            where = rng.integers(0, length - 6, size)
            for i in np.flatnonzero(planted):
                codes[i, where[i] : where[i] + 6] = np.frombuffer(b"TATAAT", dtype=np.uint8)
            fh.write(b"".join(b">s%d\n%s\n" % (start + i, codes[i].tobytes()) for i in range(size)))
            labels.append(np.where(planted, "yes", "no"))
    np.savetxt(path.with_name(path.stem + "_labels.tsv"), np.concatenate(labels), fmt="%s", header="label", comments="")
    path.with_suffix(".part").rename(path)


def make_sequence_data():
    for n in (100_000, 200_000, 1_000_000):
        write_dna_fasta(WORK / f"dna_{n}.fa", n)


def sequences():
    section("11. DNA sequences (FASTA, 200 bp, one-hot Conv1D(16, 12), 1 epoch, batch 256)")
    run_once([sys.executable, __file__, "--make-sequence-data"])
    run_once(["build-arch", "--input-shape", "200,4", "--layer", 'Conv1D(16, 12, activation="relu")', "--layer",
              "GlobalMaxPooling1D()", "--layer", 'Dense(1, activation="sigmoid")', "-o", "dna_arch.json", "--quiet"])
    run_once(["build-model", "--arch", "dna_arch.json", "--optimizer", "adam", "--epochs", "1", "--batch-size", "256",
              "--seed", "0", "-o", "dna_model.zip"])
    out = {}
    row("train-eval --stream", "sequences", "seconds", "peak MB")
    for n in (100_000, 1_000_000):
        r, _ = measured(["train-eval", "--model", "dna_model.zip", "--x", WORK / f"dna_{n}.fa", "--y",
                         WORK / f"dna_{n}_labels.tsv", "--stream", "--cache-dir", WORK, "--scores", f"dna_scores_{n}.tsv"],
                        repeats=1)
        out[n] = r
        row("", f"{n:,}", f"{r['median_seconds']:.1f}", f"{r['peak_mb']:.0f}")
    out["peak_growth_10x_sequences"] = out[1_000_000]["peak_mb"] / out[100_000]["peak_mb"]
    row("peak memory, 10x sequences", "", "", f"x{out['peak_growth_10x_sequences']:.2f}")
    fits = {"arrays": [], "ours": []}
    fasta, labels = WORK / "dna_200000.fa", WORK / "dna_200000_labels.tsv"
    for _ in range(3):  # interleaved, so that drift in the machine's speed hits both alike
        for mode in fits:
            fits[mode].append(json.loads(run_once([sys.executable, ROOT / "bench" / "seq_fit.py", fasta, labels, mode])[1].strip().splitlines()[-1]))
    speed = {mode: r[0]["rows"] * r[0]["epochs"] / statistics.median(x["fit_seconds"] for x in r) for mode, r in fits.items()}
    out["fit_sequences_per_second"] = speed
    out["throughput_ratio"] = speed["ours"] / speed["arrays"]
    row("fit sequences/s, 200,000 x 200 bp", "one-hot arrays", f"{speed['arrays']:,.0f}", "")
    row("", "galaxy-dl codes", f"{speed['ours']:,.0f}", f"x{out['throughput_ratio']:.2f}")
    RESULTS["sequences"] = out


LINK_SIZES = (1_000, 157_000, 1_000_000, 10_000_000)  # float32 values: 4 kB, about section 4's model (0.63 MB), 4, 40 MB


def links():
    section("12. One all-reduce between 2 processes over loopback and over a veth link between two network namespaces "
            "(root), fitted to T = S/B + 2a (a 2-process ring; least squares on relative error)")
    if os.geteuid() != 0:
        row("skipped: network namespaces need root", "", "", "")
        return
    from galaxy_dl.runs.launcher import free_port

    veth, tag = ["bash", ROOT / "cluster" / "veth.sh"], f"b{os.getpid() % 100000}"
    addresses = ("10.78.0.1", "10.78.0.2")
    runs: dict[str, list] = {"loopback": [], "veth": []}
    subprocess.run([*veth, "up", tag, *addresses], check=True, timeout=60)
    try:
        for _ in range(3):  # interleaved
            for link in runs:
                port = free_port()
                host = "127.0.0.1" if link == "loopback" else addresses[0]
                prefix = [[], []] if link == "loopback" else [["ip", "netns", "exec", f"gdl-{tag}-{i}"] for i in range(2)]
                procs = [subprocess.Popen([*prefix[i], sys.executable, ROOT / "bench" / "allreduce.py", f"{host}:{port}",
                                           str(i), *map(str, LINK_SIZES)], cwd=WORK, env=ENV, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True) for i in range(2)]
                outputs = [p.communicate(timeout=600)[0] for p in procs]
                runs[link].append({int(k): v for k, v in json.loads(outputs[0].strip().splitlines()[-1]).items()})
    finally:
        subprocess.run([*veth, "down", tag], timeout=60)
    out = {}
    row("link", *(f"{size * 4 / 1e6:g} MB" for size in LINK_SIZES), "B (GB/s), a (us)")
    for link, rs in runs.items():
        times = [statistics.median(r[size] for r in rs) for size in LINK_SIZES]
        sizes = np.array(LINK_SIZES, dtype=float) * 4
        slope, intercept = np.polyfit(sizes, times, 1, w=1 / np.array(times))  # relative errors: small sizes count
        out[link] = {"seconds": dict(zip(map(str, LINK_SIZES), times, strict=True)),
                     "bandwidth_gb_s": 1 / slope / 1e9, "latency_us": intercept / 2 * 1e6}
        row(link, *(f"{t * 1000:.3f} ms" for t in times),
            f"{out[link]['bandwidth_gb_s']:.2f}, {out[link]['latency_us']:.0f}")
    RESULTS["links"] = out


SECTIONS = {"startup": startup, "tutorial": tutorial, "reading": reading, "training": training, "prediction": prediction,
            "backends": backends, "beyond_memory": beyond_memory, "distributed": distributed, "search": search,
            "report": report, "sequences": sequences, "links": links}


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    # Versions from a child: importing TensorFlow here would inflate every child's peak memory (fork copies it).
    _, text = run_once([sys.executable, "-c", "import keras, tensorflow; print(keras.__version__, tensorflow.__version__)"])
    keras_version, tf_version = text.split()

    RESULTS["machine"] = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                          "keras": keras_version, "tensorflow": tf_version, "repeats": REPEATS,
                          "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"galaxy-dl bench on {RESULTS['machine']['platform']}, {os.cpu_count()} CPUs, "
          f"keras {keras_version}, tensorflow {tf_version}, {REPEATS} runs per median")
    run_once([sys.executable, __file__, "--make-data"])  # in a child: keeps NumPy out of this process (see above)
    chosen = os.environ.get("BENCH_SECTIONS", ",".join(SECTIONS)).split(",")
    if "training" not in chosen and "prediction" in chosen:
        chosen.insert(chosen.index("prediction"), "training")  # prediction uses section 4's model
    for name in chosen:
        SECTIONS[name]()
    results = ROOT / "bench" / "results.json"
    if set(chosen) != set(SECTIONS) and results.exists():  # a partial run updates its sections only
        RESULTS.update({k: v for k, v in json.loads(results.read_text()).items() if k not in RESULTS})
    results.write_text(json.dumps(RESULTS, indent=2) + "\n")
    print(f"\nwrote {ROOT / 'bench' / 'results.json'}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--make-data"]:
        make_big_tables()
    elif sys.argv[1:] == ["--make-sequence-data"]:
        make_sequence_data()
    elif sys.argv[1:] == ["--make-beyond-memory-data"]:
        make_beyond_memory_data()
    else:
        main()
