"""Declared sizes are checked before memory is spent: a bomb is refused in one line, at no more memory than
the program's start-up (measured as the child's own peak RSS), and limits a real user may reach have options."""

import gzip
import io
import struct
import zipfile

import h5py
import pandas as pd
import pytest

from galaxy_dl.cli import build_arch, build_model, plot_cm, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA, write_tsv
from tests.hostile.conftest import START_UP_CEILING_KB, listing, refused, run, run_measured

BANNER = b"%%MatrixMarket matrix coordinate real general\n"


@pytest.mark.parametrize("size_line", [b"1000000000 1000000000 3\n", b"10 10 100000000000\n"])
def test_matrix_market_header_bomb(size_line, tmp_path):
    mtx = tmp_path / "bomb.mtx"
    mtx.write_bytes(BANNER + size_line + b"1 1 1\n2 2 1\n3 3 1\n")
    result = run_measured("predict", "--model", TEST_DATA / "cells_fitted.zip", "--x", mtx, "-o", tmp_path / "p.tsv")
    refused(result, "predict", ExitStatus.DATA, "refused")
    assert result.maxrss_kb < START_UP_CEILING_KB
    assert not (tmp_path / "p.tsv").exists()


def test_gzip_table_bomb_with_a_lying_trailer(tmp_path):
    row = b"\t".join([b"0"] * 100) + b"\n"
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
        gz.write(row)  # header-less: every row is data
        for _ in range(64):
            gz.write(row * 4_000)  # 130 MB of rows in about 130 kB
    data = bytearray(raw.getvalue())
    data[-4:] = struct.pack("<I", 300 * 1024**2)  # the trailer says 300 MB
    table = tmp_path / "X.tsv.gz"
    table.write_bytes(bytes(data))
    y = write_tsv(tmp_path / "y.tsv", pd.DataFrame({"y": [0, 1]}))
    result = run_measured("train-eval", "--model", TEST_DATA / "cells_model.zip", "--x", table, "--x-no-header",
                          "--y", y, "--scores", tmp_path / "s.tsv")
    refused(result, "train-eval", ExitStatus.DATA, "inflates more than")
    assert result.maxrss_kb < START_UP_CEILING_KB
    assert not (tmp_path / "s.tsv").exists()


def test_one_endless_line(tmp_path):
    table = tmp_path / "line.tsv"
    table.write_bytes(b"a\t" * (9 * 1024**2))  # 18 MiB, no newline
    result = run(predict.main, ["--model", TEST_DATA / "tutorial_fitted.zip", "--x", table, "-o", tmp_path / "p.tsv"])
    refused(result, "predict", ExitStatus.DATA, "line 1 is longer than")


def test_a_wide_table_for_predict_is_refused_before_it_is_read(tmp_path):
    width = 200_000
    table = tmp_path / "wide.tsv"
    with open(table, "wb") as fh:
        fh.write(b"\t".join(b"c%d" % i for i in range(width)) + b"\n")
        fh.write((b"\t".join([b"0.5"] * width) + b"\n") * 200)
    result = run_measured("predict", "--model", TEST_DATA / "tutorial_fitted.zip", "--x", table, "-o", tmp_path / "p.tsv")
    refused(result, "predict", ExitStatus.DATA, "200000 feature columns")
    assert result.maxrss_kb < START_UP_CEILING_KB


def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_billion_laughs(tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text(_laughs())
    result = run(build_arch.main, ["--spec", spec, "-o", tmp_path / "a.json"])
    refused(result, "build-arch", ExitStatus.USAGE, "aliases")
    result = run(build_model.main, ["--arch", TEST_DATA / "tutorial_arch.json", "--config", spec, "-o", tmp_path / "m.zip"])
    refused(result, "build-model", ExitStatus.USAGE, "aliases")
    assert listing(tmp_path) == ["spec.yml"]


def test_zip_member_that_inflates_beyond_its_header(tmp_path):
    """The archive's params member says 100 bytes; it inflates to 200 MB."""
    raw = io.BytesIO()
    with zipfile.ZipFile(TEST_DATA / "tutorial_model.zip") as src, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info.filename, b" " * (200 * 1024**2) if info.filename == "params.json" else src.read(info))
    data = bytearray(raw.getvalue())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, start + (26 if offset == 22 else 28))[0]
            name = data[start + (30 if offset == 22 else 46): start + (30 if offset == 22 else 46) + name_length]
            if name == b"params.json":
                struct.pack_into("<I", data, start + offset, 100)
            start += 4
    archive = tmp_path / "lying.zip"
    archive.write_bytes(bytes(data))
    result = run_measured("train-eval", "--model", archive, "--x", TEST_DATA / "X_train.tsv", "--y",
                          TEST_DATA / "y_train.tsv", "--scores", tmp_path / "s.tsv")
    refused(result, "train-eval", ExitStatus.MODEL, "params.json")
    assert result.maxrss_kb < START_UP_CEILING_KB


def test_h5ad_declaring_ten_billion_values(data_copy, tmp_path):
    h5ad = data_copy("cells_dense.h5ad")
    with h5py.File(h5ad, "r+") as f:
        del f["obs"]["batch"]["codes"]
        f["obs"]["batch"].create_dataset("codes", shape=(10**10,), dtype="i1", chunks=(10**6,))
    result = run(predict.main, ["--model", TEST_DATA / "cells_fitted.zip", "--x", h5ad, "-o", tmp_path / "p.tsv"])
    refused(result, "predict", ExitStatus.DATA, "declares 10,000,000,000 bytes but stores 0")


@pytest.mark.parametrize("layer", ["Dense(1000000000000)", "Embedding(1000000000, 10000)"])
def test_layer_shapes_are_checked_before_weights_exist(layer, tmp_path):
    result = run_measured("build-arch", "--input-shape", "10", "--layer", layer, "-o", tmp_path / "a.json")
    refused(result, "build-arch", ExitStatus.USAGE, "parameters", "--max-params")
    assert result.maxrss_kb < START_UP_CEILING_KB


def test_max_params_raises_the_limit(tmp_path):
    args = ["--input-shape", "100", "--layer", "Dense(100)", "-o", tmp_path / "a.json", "--quiet"]
    refused(run(build_arch.main, [*args, "--max-params", "10000"]), "build-arch", ExitStatus.USAGE, "10,100 parameters")
    assert run(build_arch.main, [*args, "--max-params", "20000"]).exit_code == 0
    model = tmp_path / "m.zip"
    assert run(build_model.main, ["--arch", tmp_path / "a.json", "-o", model]).exit_code == 0
    refused(run(build_model.main, ["--arch", tmp_path / "a.json", "-o", model, "--max-params", "100"]),
            "build-model", ExitStatus.MODEL, "--max-params")


def test_search_size_is_checked_before_it_starts(binary_data, binary_model, tmp_path):
    grid = [  # 40 values of each of four names: 2.56 million settings
        "--param", "dense.units=" + ",".join(map(str, range(1, 41))),
        "--param", "learning_rate=" + ",".join(str(0.001 * i) for i in range(1, 41)),
        "--param", "batch_size=" + ",".join(map(str, range(1, 41))),
        "--param", "epochs=" + ",".join(map(str, range(1, 41)))]
    base = ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", tmp_path / "s.tsv"]
    refused(run(train_eval.main, [*base, "--search", "grid", *grid]), "train-eval", ExitStatus.USAGE,
            "2,560,000 settings", "--max-settings")
    refused(run(train_eval.main, [*base, "--search", "random", "--param", "learning_rate=loguniform(1e-4,1e-1)",
                                  "--n-iter", "1000000"]), "train-eval", ExitStatus.USAGE, "1,000,000 settings")
    assert not (tmp_path / "s.tsv").exists()


def test_local_processes_are_bounded(binary_data, binary_model, tmp_path):
    result = run(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
                                   "--scores", tmp_path / "s.tsv", "--local-processes", "100000"])
    refused(result, "train-eval", ExitStatus.USAGE, "--local-processes")


def test_plot_cm_with_thirty_thousand_classes(tmp_path):
    labels = pd.DataFrame({"label": [f"c{i}" for i in range(30_000)]})
    truth, pred = write_tsv(tmp_path / "t.tsv", labels), write_tsv(tmp_path / "p.tsv", labels.sample(frac=1, random_state=0))
    result = run_measured("plot-cm", "--y-true", truth, "--y-pred", pred, "-o", tmp_path / "cm.png", timeout=60)
    refused(result, "plot-cm", ExitStatus.DATA, "30,000 different labels", "--max-classes")
    assert not (tmp_path / "cm.png").exists()
    small = write_tsv(tmp_path / "t2.tsv", pd.DataFrame({"label": [f"c{i % 5}" for i in range(20)]}))
    args = ["--y-true", small, "--y-pred", small, "--dpi", "30", "-o", tmp_path / "cm2.png"]
    refused(run(plot_cm.main, [*args, "--max-classes", "4"]), "plot-cm", ExitStatus.DATA, "5 different labels")
    assert run(plot_cm.main, [*args, "--max-classes", "5"]).exit_code == 0


@pytest.mark.parametrize("where", ["arch", "spec", "member"])
def test_documents_nested_a_hundred_thousand_deep(where, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    if where == "arch":
        path = tmp_path / "arch.json"
        path.write_text('{"class_name": "Sequential", "config": {"layers": ' + deep + "}}")
        refused(run(build_model.main, ["--arch", path, "-o", tmp_path / "m.zip"]), "build-model", ExitStatus.MODEL, "nested")
    elif where == "spec":
        path = tmp_path / "spec.json"
        path.write_text('{"inputs": ' + deep + "}")
        refused(run(build_arch.main, ["--spec", path, "-o", tmp_path / "a.json"]), "build-arch", ExitStatus.USAGE, "nested")
    else:
        archive = tmp_path / "deep.zip"
        with zipfile.ZipFile(TEST_DATA / "tutorial_model.zip") as src, zipfile.ZipFile(archive, "w") as zf:
            for info in src.infolist():
                zf.writestr(info.filename, deep if info.filename == "params.json" else src.read(info))
        result = run(train_eval.main, ["--model", archive, "--x", TEST_DATA / "X_train.tsv", "--y",
                                       TEST_DATA / "y_train.tsv", "--scores", tmp_path / "s.tsv"])
        refused(result, "train-eval", ExitStatus.MODEL, "nested")
