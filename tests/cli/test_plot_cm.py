import re
import struct
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from galaxy_dl.cli import plot_cm
from galaxy_dl.errors import ExitStatus
from tests.conftest import invoke

SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


def labels(tmp_path, name, values, header="label"):
    path = tmp_path / name
    path.write_text("".join(f"{v}\n" for v in ([header] if header else []) + list(values)))
    return path


def png_size(path):
    data = path.read_bytes()
    return struct.unpack(">II", data[16:24])


def svg_texts(path):
    root = ET.parse(path).getroot()
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


def svg_tick_labels(path):
    """Tick label texts from matplotlib's SVG groups (xtick_N / ytick_N), in axis order."""
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    ticks = {"x": [], "y": []}
    for group in root.iter(f"{ns}g"):
        gid = group.get("id", "")
        match = re.fullmatch(r"([xy])tick_(\d+)", gid)
        if match:
            texts = [t.text for t in group.iter(f"{ns}text") if t.text]
            if texts:
                ticks[match.group(1)].append((int(match.group(2)), texts[0]))
    return {axis: [t for _, t in sorted(values)] for axis, values in ticks.items()}


def test_tutorial_matrix_png(golub, tmp_path):
    pred = labels(tmp_path, "pred.tsv", [0] * 20 + [1] * 14, header="Predicted")
    out, matrix = tmp_path / "cm.png", tmp_path / "cm.tsv"
    result = invoke(plot_cm.main, ["--y-true", golub / "y_test.tsv", "--y-pred", pred, "-o", out, "--matrix-out", matrix])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == SIGNATURES["png"]
    width, height = png_size(out)
    assert width > 600 and height > 600
    frame = pd.read_csv(matrix, sep="\t")
    assert frame.columns.tolist() == ["true\\predicted", "0", "1"]
    assert result.stderr.startswith("accuracy ")


def test_svg_tick_labels_are_the_sorted_union(tmp_path):
    """Labels absent from y_true still get the right ticks (Galaxy-ML's bug)."""
    true = labels(tmp_path, "t.tsv", [2, 2, 5, 5, 9])
    pred = labels(tmp_path, "p.tsv", [2, 7, 5, 5, 9])
    out = tmp_path / "cm.svg"
    result = invoke(plot_cm.main, ["--y-true", true, "--y-pred", pred, "-o", out, "--title", "My title"])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:5] == SIGNATURES["svg"]
    ticks = svg_tick_labels(out)
    assert ticks["x"] == ["2", "5", "7", "9"] and ticks["y"][:4] == ["2", "5", "7", "9"]
    texts = svg_texts(out)
    assert "True label" in texts and "Predicted label" in texts and "My title" in texts
    assert "accuracy 0.8000 (4/5)" in result.stderr


def test_renamed_labels_and_normalized_cells(golub, tmp_path):
    pred = labels(tmp_path, "pred.tsv", [0] * 20 + [1] * 14, header="Predicted")
    out = tmp_path / "cm.svg"
    result = invoke(plot_cm.main, ["--y-true", golub / "y_test.tsv", "--y-pred", pred, "--labels", "0=ALL,1=AML",
                                   "--normalize", "true", "-o", out, "--matrix-out", tmp_path / "m.tsv"])
    assert result.exit_code == 0, result.stderr
    assert svg_tick_labels(out)["x"] == ["ALL", "AML"]
    texts = svg_texts(out)
    assert any("%" in t for t in texts)
    matrix = pd.read_csv(tmp_path / "m.tsv", sep="\t")
    assert matrix[["ALL", "AML"]].sum(axis=1).round(6).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_each_format_signature_even_with_dat_suffix(tmp_path, fmt):
    true = labels(tmp_path, "t.tsv", ["a", "b", "c"])
    out = tmp_path / "dataset_7.dat"
    assert invoke(plot_cm.main, ["--y-true", true, "--y-pred", true, "--format", fmt, "-o", out]).exit_code == 0
    assert out.read_bytes()[: len(SIGNATURES[fmt])] == SIGNATURES[fmt]


def test_same_inputs_same_svg(tmp_path):
    true = labels(tmp_path, "t.tsv", ["x", "y", "y"])
    for name in ("a.svg", "b.svg"):
        assert invoke(plot_cm.main, ["--y-true", true, "--y-pred", true, "-o", tmp_path / name]).exit_code == 0
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_many_classes_grow_the_image(tmp_path):
    small_t = labels(tmp_path, "s.tsv", range(2))
    big_t = labels(tmp_path, "b.tsv", range(30))
    invoke(plot_cm.main, ["--y-true", small_t, "--y-pred", small_t, "-o", tmp_path / "s.png", "--dpi", "100"])
    invoke(plot_cm.main, ["--y-true", big_t, "--y-pred", big_t, "-o", tmp_path / "b.png", "--dpi", "100"])
    assert png_size(tmp_path / "b.png")[0] > 2 * png_size(tmp_path / "s.png")[0]


def test_no_header_and_column_selection(tmp_path):
    true = labels(tmp_path, "t.tsv", ["a\t1", "b\t0"], header=None)
    pred = labels(tmp_path, "p.tsv", ["1", "1"], header=None)
    result = invoke(plot_cm.main, ["--y-true", true, "--y-true-cols", "2", "--y-pred", pred, "--no-header", "-o", tmp_path / "c.png"])
    assert result.exit_code == 0, result.stderr
    assert "accuracy 0.5000 (1/2)" in result.stderr


@pytest.mark.parametrize("pred_values, args, code, message", [
    ([0, 1], [], ExitStatus.DATA, "has 3 rows but --y-pred"),
    ([], [], ExitStatus.DATA, "header but no data rows"),
    ([0, 1, 1], ["--cmap", "Bluez"], ExitStatus.USAGE, "did you mean Blues"),
    ([0, 1, 1], ["--labels", "7=x"], ExitStatus.USAGE, "label '7' is in neither file"),
    ([0, 1, 1], ["--format", "gif"], ExitStatus.USAGE, "'gif' is not one of"),
])
def test_errors(tmp_path, pred_values, args, code, message):
    true = labels(tmp_path, "t.tsv", [0, 1, 1])
    pred = labels(tmp_path, "p.tsv", pred_values)
    result = invoke(plot_cm.main, ["--y-true", true, "--y-pred", pred, "-o", tmp_path / "cm.png", *args])
    assert result.exit_code == code and message in result.stderr, result.stderr
    assert not (tmp_path / "cm.png").exists()
