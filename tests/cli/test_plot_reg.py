"""plot-reg: regression predictions against the truth (the GTN's FNN tutorial's last step)."""

import numpy as np
import pandas as pd

from galaxy_dl.cli import plot_cm, plot_reg
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA, invoke, write_tsv


def test_metrics_are_scikit_learns_and_every_panel_is_drawn(tmp_path):
    from sklearn.metrics import explained_variance_score, mean_absolute_error, mean_squared_error, r2_score

    truth, pred = TEST_DATA / "regression_y.tabular", TEST_DATA / "regression_predictions.tsv"
    result = invoke(plot_reg.main, ["--y-true", truth, "--y-pred", pred, "--metrics-out", tmp_path / "m.tsv",
                                    "--title", "Temperatures", "-o", tmp_path / "r.svg"])
    assert result.exit_code == 0, result.stderr
    y, p = pd.read_csv(truth, sep="\t").iloc[:, 0].to_numpy(), pd.read_csv(pred, sep="\t").iloc[:, 0].to_numpy()
    metrics = pd.read_csv(tmp_path / "m.tsv", sep="\t").set_index("metric")["value"]
    assert np.isclose(metrics["r2"], r2_score(y, p)) and np.isclose(metrics["rmse"], mean_squared_error(y, p) ** 0.5)
    assert np.isclose(metrics["mae"], mean_absolute_error(y, p))
    assert np.isclose(metrics["explained_variance"], explained_variance_score(y, p)) and metrics["n"] == len(y)
    assert (tmp_path / "m.tsv").read_text().splitlines()[-1] == f"n\t{len(y)}"
    assert result.stderr.startswith(f"R2 {r2_score(y, p):.4f}, RMSE ")
    svg = (tmp_path / "r.svg").read_text()
    for text in ("Temperatures", "Actual and predicted", "Predicted against actual", "Residuals"):
        assert text in svg


def test_bad_values_and_row_counts_are_one_line(tmp_path):
    truth = write_tsv(tmp_path / "t.tsv", pd.DataFrame({"y": [1.0, 2.0, 3.0]}))
    bad = write_tsv(tmp_path / "b.tsv", pd.DataFrame({"y": [1.0, "high", 3.0]}))
    short = write_tsv(tmp_path / "s.tsv", pd.DataFrame({"y": [1.0, 2.0]}))
    result = invoke(plot_reg.main, ["--y-true", truth, "--y-pred", bad, "-o", tmp_path / "r.png"])
    assert result.exit_code == ExitStatus.DATA and "line 3: 'high' is not a finite number" in result.stderr
    result = invoke(plot_reg.main, ["--y-true", truth, "--y-pred", short, "-o", tmp_path / "r.png"])
    assert result.exit_code == ExitStatus.DATA and "has 3 rows but" in result.stderr
    assert not (tmp_path / "r.png").exists()


def test_plot_cm_points_continuous_predictions_to_plot_reg(tmp_path):
    result = invoke(plot_cm.main, ["--y-true", TEST_DATA / "regression_y.tabular", "--y-pred",
                                   TEST_DATA / "regression_predictions.tsv", "-o", tmp_path / "cm.png"])
    assert result.exit_code == ExitStatus.DATA
    assert "continuous values" in result.stderr and "plot-reg" in result.stderr


def test_plot_cm_writes_per_class_metrics(tmp_path):
    from sklearn.metrics import classification_report

    y = pd.DataFrame({"label": ["a", "b", "c", "a", "b", "c", "a", "a"]})
    p = pd.DataFrame({"label": ["a", "b", "b", "a", "c", "c", "b", "a"]})
    truth, pred = write_tsv(tmp_path / "t.tsv", y), write_tsv(tmp_path / "p.tsv", p)
    result = invoke(plot_cm.main, ["--y-true", truth, "--y-pred", pred, "--labels", "a=Alpha", "--dpi", "40",
                                   "--metrics-out", tmp_path / "m.tsv", "-o", tmp_path / "cm.png"])
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(tmp_path / "m.tsv", sep="\t").set_index("class")
    expected = classification_report(y["label"], p["label"], output_dict=True)
    assert list(table.index) == ["Alpha", "b", "c", "macro avg", "weighted avg", "accuracy"]
    assert np.isclose(table.loc["Alpha", "precision"], expected["a"]["precision"])
    assert np.isclose(table.loc["macro avg", "f1-score"], expected["macro avg"]["f1-score"])
    assert table.loc["accuracy", "support"] == 8 and np.isclose(table.loc["accuracy", "f1-score"], expected["accuracy"])
    assert f"F1 {expected['macro avg']['f1-score']:.4f}" in result.stderr
