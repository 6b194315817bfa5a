"""Regression evaluation: truth against predictions as a metrics table and three figures (Galaxy-ML's "Plot actual
vs predicted curves and residual plots", the GTN's FNN tutorial's last step). No Keras.

The metrics are scikit-learn's (R2, RMSE, MAE, explained variance); the figures are matplotlib's, drawn with the
Agg backend like the confusion matrix: actual and predicted values along the rows, predicted against actual with
the identity line, and residuals against predicted values.
"""

from galaxy_dl.errors import DataError

METRICS = ("r2", "rmse", "mae", "explained_variance", "n")


def read_values(spec):
    """The one numeric column of a truth or prediction table, as float64; a missing or non-numeric value names
    its line."""
    import numpy as np
    import pandas as pd

    from galaxy_dl.data.tables import read_label_column

    column = read_label_column(spec)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"line {row + 1 + int(spec.header)}: {column.iloc[row]!r} is not a finite number "
            "(regression truth and predictions are numbers)",
            source=spec.source,
        )
    return values


def metrics(y_true, y_pred) -> dict:
    from sklearn.metrics import explained_variance_score, mean_absolute_error, mean_squared_error, r2_score

    return {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(mean_squared_error(y_true, y_pred) ** 0.5),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "explained_variance": float(explained_variance_score(y_true, y_pred)),
        "n": len(y_true),
    }


def draw(y_true, y_pred, path: str, *, fmt: str, title: str, dpi: int) -> None:
    """Actual and predicted along the rows, predicted against actual, residuals against predicted; saved atomically."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from galaxy_dl.data.fileio import atomic_path

    residuals = y_true - y_pred
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "galaxy-dl", "text.parse_math": False}):
        fig, (curve, scatter, resid) = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
        rows = range(1, len(y_true) + 1)
        curve.plot(rows, y_true, label="actual", linewidth=1.2)
        curve.plot(rows, y_pred, label="predicted", linewidth=1.2, alpha=0.85)
        curve.set(xlabel="Row", ylabel="Value", title="Actual and predicted")
        curve.legend()
        low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
        scatter.scatter(y_true, y_pred, s=12, alpha=0.7)
        scatter.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--", label="predicted = actual")
        scatter.set(xlabel="Actual", ylabel="Predicted", title="Predicted against actual")
        scatter.legend()
        resid.scatter(y_pred, residuals, s=12, alpha=0.7)
        resid.axhline(0, color="grey", linewidth=1, linestyle="--")
        resid.set(xlabel="Predicted", ylabel="Residual (actual - predicted)", title="Residuals")
        fig.suptitle(title)
        metadata = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else {})
        with atomic_path(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
        plt.close(fig)


def evaluate(
    true_spec,
    pred_spec,
    output: str,
    *,
    fmt: str | None = None,
    title: str = "Regression: actual vs predicted",
    dpi: int = 150,
    metrics_out: str | None = None,
) -> str:
    """Read both tables, draw the figures to ``output`` (and the metrics to ``metrics_out``); returns the summary
    line."""
    import pandas as pd

    from galaxy_dl.data.fileio import together
    from galaxy_dl.data.tables import write_table
    from galaxy_dl.report.plots import resolve_format

    fmt = resolve_format(output, fmt)
    y_true, y_pred = read_values(true_spec), read_values(pred_spec)
    if len(y_true) != len(y_pred):
        raise DataError(f"{true_spec.source} has {len(y_true)} rows but {pred_spec.source} has {len(y_pred)}")
    if len(y_true) < 2:
        raise DataError("needs at least two rows", source=true_spec.source)
    scores = metrics(y_true, y_pred)
    with together():
        draw(y_true, y_pred, output, fmt=fmt, title=title, dpi=dpi)
        if metrics_out:
            write_table(
                pd.DataFrame({"metric": list(scores), "value": pd.Series(list(scores.values()), dtype=object)}),
                metrics_out,
            )
    return (
        f"R2 {scores['r2']:.4f}, RMSE {scores['rmse']:.4g}, MAE {scores['mae']:.4g}, "
        f"explained variance {scores['explained_variance']:.4f}, n {scores['n']}"
    )
