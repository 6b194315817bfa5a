import numpy as np
import pytest

from galaxy_dl.errors import UsageError
from galaxy_dl.report.plots import compute, figure_size, parse_labels, resolve_cmap, resolve_format, sorted_union


def test_counts_rows_true_columns_predicted():
    cm = compute([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert cm.labels == [0, 1]
    assert cm.counts.tolist() == [[1, 1], [1, 2]]
    assert cm.accuracy == pytest.approx(3 / 5)
    assert cm.recall() == pytest.approx([0.5, 2 / 3])


def test_union_includes_labels_only_predicted():
    cm = compute(["a", "a", "b"], ["a", "c", "b"])
    assert cm.labels == ["a", "b", "c"]
    assert cm.counts.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]


def test_numeric_labels_sort_numerically():
    assert sorted_union([10, 2], [1]) == [1, 2, 10]


@pytest.mark.parametrize("normalize, expected", [
    ("true", [[0.5, 0.5], [1 / 3, 2 / 3]]),
    ("pred", [[0.5, 1 / 3], [0.5, 2 / 3]]),
    ("all", [[0.2, 0.2], [0.2, 0.4]]),
])
def test_normalize_uses_sklearn_meanings(normalize, expected):
    cm = compute([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], normalize=normalize)
    np.testing.assert_allclose(cm.normalized, expected)
    assert cm.counts.tolist() == [[1, 1], [1, 2]]


def test_labels_option_orders_and_renames():
    order, names = parse_labels("1=AML,0=ALL", [0, 1])
    assert order == [1, 0] and names == {"1": "AML", "0": "ALL"}
    assert parse_labels("b", ["a", "b", "c"]) == (["b", "a", "c"], {})
    with pytest.raises(UsageError, match="label '2' is in neither file"):
        parse_labels("2=X", [0, 1])


def test_cmaps_including_galaxy_ml_spellings():
    assert resolve_cmap("purples") == "Purples" and resolve_cmap("Summer") == "summer" and resolve_cmap("viridis") == "viridis"
    with pytest.raises(UsageError, match="unknown colormap 'Bluez' \\(did you mean Blues"):
        resolve_cmap("Bluez")


def test_format_from_suffix_or_default():
    assert resolve_format("cm.svg", None) == "svg"
    assert resolve_format("cm.PDF", None) == "pdf"
    assert resolve_format("/galaxy/dataset_12.dat", None) == "png"
    assert resolve_format("cm.png", "pdf") == "pdf"


def test_figure_grows_with_classes_and_label_length():
    small, large = figure_size(2, 3), figure_size(30, 3)
    assert large[0] > small[0] and large[1] > small[1]
    assert figure_size(5, 40)[1] > figure_size(5, 3)[1]
