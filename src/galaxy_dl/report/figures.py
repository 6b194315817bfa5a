"""The report's figures, drawn with matplotlib's object API (no pyplot state, no display).

Curves and markers use the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) and
differ by line style too; matrices use a single-hue scale. Metrics and curve points come from scikit-learn.
"""

from typing import Any

import numpy as np

# Okabe & Ito, "Color Universal Design" (2008): blue, orange, green, purple, sky blue, vermillion, yellow, black
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MATRIX_CMAP = "Blues"
WIDTH = 7.5  # inches; the HTML shows the PNG scaled to its column, the PDF to the page's width
DPI = 120
MAX_PANELS = 12
# axes.titley fixed: matplotlib otherwise measures every tick label of every panel at each draw to see whether the
# title must move up (only for ticks or an axis on top, which these figures never have): 5% of the drawing's calls
# Labels, titles and names come from input files: drawn as written, never parsed as math text ("$\\frac{...").
FONT: dict[Any, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.titley": 1.0,
    "text.parse_math": False,
}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _figure(
    n: int,
    cols: int,
    height: float,
    *,
    left: float = 0.75,
    bottom: float = 0.6,
    top: float = 0.35,
    right: float = 0.2,
    gap: float = 0.75,
    legend: float = 0.0,
):
    """A figure of ``n`` panels, at most ``cols`` a row and ``height`` inches each, with fixed margins in inches
    (a layout engine would draw every figure once more to measure it); ``legend`` inches are kept free at the
    bottom. Returns the figure and its ``n`` axes (the grid's spare cells are hidden)."""
    from matplotlib.figure import Figure

    cols = min(cols, n)
    rows = -(-n // cols)
    total = top + bottom + legend + rows * height + (rows - 1) * gap
    panel = (WIDTH - left - right - (cols - 1) * gap) / cols
    fig = Figure(figsize=(WIDTH, total))
    axes = fig.subplots(
        rows,
        cols,
        squeeze=False,
        gridspec_kw={
            "left": left / WIDTH,
            "right": 1 - right / WIDTH,
            "bottom": (bottom + legend) / total,
            "top": 1 - top / total,
            "wspace": gap / panel,
            "hspace": gap / height,
        },
    ).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _ticks(axis, integer: bool = False) -> None:
    """At most six major ticks at round steps, and a log axis's decades as plain numbers (1000, 0.01) with no
    minor ticks. Each tick is five artists to lay out and draw, and ticks are most of a panel's drawing time;
    matplotlib's mathtext 10^3 labels cost more than the rest of a figure."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    if axis.get_scale() == "log":
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_locator(NullLocator())
    else:
        axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=integer))


def raster(fig):
    """The figure drawn once with Agg at DPI, as an RGBA array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def learning_curves(histories: list, marks: dict):
    """One panel per metric (loss first): training solid, validation dashed, a colour per run (fold).

    ``marks``: run name -> (stopped epoch or None, best epoch or None, monitored key)."""
    metrics = []
    for _, history in histories:
        metrics += [k for k in history if not k.startswith("val_") and k not in metrics]
    metrics.sort(key=lambda k: k != "loss")
    lines = sum(2 if any(f"val_{m}" in h for m in metrics) else 1 for _, h in histories)
    fig, axes = _figure(len(metrics), 2, 2.4, legend=0.2 + 0.17 * -(-lines // 3))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, (name, history) in enumerate(histories):
            for key, style, part in ((metric, "-", "training"), (f"val_{metric}", "--", "validation")):
                values = history.get(key)
                if not values:
                    continue
                epochs = np.arange(1, len(values) + 1)
                tint = colour(i) if len(histories) > 1 else colour(0 if part == "training" else 1)
                ax.plot(
                    epochs,
                    values,
                    style,
                    color=tint,
                    marker="o" if len(values) <= 30 else None,
                    markersize=3,
                    label=f"{name}, {part}",
                )
            stopped, best, monitored = marks.get(name, (None, None, None))
            if stopped:
                ax.axvline(stopped, color=colour(i), linestyle=":", linewidth=1.2)
            if best and monitored in (metric, f"val_{metric}") and history.get(monitored):
                ax.plot(
                    [best],
                    [history[monitored][best - 1]],
                    marker="*",
                    markersize=11,
                    color=colour(i),
                    markeredgecolor="black",
                    linestyle="none",
                )
        values = np.concatenate(
            [np.asarray(h[k], float) for _, h in histories for k in (metric, f"val_{metric}") if h.get(k)]
        )
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100:
            ax.set_yscale("log")  # a first epoch far above the rest would flatten every later one
        ax.set_title(metric + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        _ticks(ax.xaxis, integer=True)
        _ticks(ax.yaxis)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncols=min(3, len(labels)), frameon=False)
    return fig


def confusion_matrices(cm):
    """Counts and row-normalised (recall per true class), side by side, on the same class order."""
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(cm.labels)
    names = [str(x) for x in cm.display_labels]
    rotate = "vertical" if max(map(len, names)) > 6 or n > 8 else "horizontal"
    label = 0.08 * min(max(map(len, names)), 30)  # inches the longest tick label takes
    margin = 0.45 + label
    side = (WIDTH - margin - 0.2 - (margin + 0.3)) / 2
    fig, axes = _figure(
        2, 2, side, left=margin, gap=margin + 0.3, bottom=0.5 + (label if rotate == "vertical" else 0.1)
    )
    fontsize = max(6.0, min(10.0, 14.0 - 0.4 * n))
    for ax, values, fmt, title in (
        (axes[0], cm.counts, "d", "Counts"),
        (axes[1], np.nan_to_num(cm.normalized), ".0%", "Row-normalised (recall)"),
    ):
        display = ConfusionMatrixDisplay(values, display_labels=names)
        display.plot(
            ax=ax,
            cmap=MATRIX_CMAP,
            colorbar=False,
            values_format=fmt,
            xticks_rotation=rotate,
            text_kw={"fontsize": fontsize},
        )
        ax.set_title(title)
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
    return fig


def roc_pr(y_true, proba, classes) -> tuple:
    """ROC and precision-recall curves (binary: the second class is positive; else one-vs-rest per class).

    Returns the figure and rows of (class, rows of it, ROC AUC, average precision); a class absent from the
    held-out rows has no curve (its AUC is undefined)."""
    import matplotlib
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay, auc, average_precision_score

    y_true = np.asarray(y_true)
    fig, (roc_ax, pr_ax) = _figure(2, 2, 3.2)
    targets = [(1, classes[1])] if len(classes) == 2 else list(enumerate(classes))
    rows = []
    drawn = 0
    for j, label in targets:
        positive = y_true == label
        if positive.all() or not positive.any():
            rows.append((str(label), int(positive.sum()), float("nan"), float("nan")))
            continue
        style = {"color": colour(drawn), "linestyle": ("-", "--", "-.", ":")[drawn // len(PALETTE) % 4]}
        name = str(label) if len(targets) > 1 else f"{label} vs {classes[0]}"
        # the displays place their legends (lower right, lower left) each time they draw a curve: in small type
        with matplotlib.rc_context({"legend.fontsize": 7}):
            roc = RocCurveDisplay.from_predictions(
                positive, proba[:, j], ax=roc_ax, name=name, curve_kwargs=style, plot_chance_level=drawn == 0
            )
            PrecisionRecallDisplay.from_predictions(
                positive, proba[:, j], ax=pr_ax, name=name, curve_kwargs=style, plot_chance_level=len(targets) == 1
            )  # one class: its prevalence
        rows.append(
            (
                str(label),
                int(positive.sum()),
                float(auc(roc.fpr, roc.tpr)),
                float(average_precision_score(positive, proba[:, j])),
            )
        )
        drawn += 1
    roc_ax.set_title("ROC" + (" (one-vs-rest)" if len(targets) > 1 else ""))
    pr_ax.set_title("Precision-recall" + (" (one-vs-rest)" if len(targets) > 1 else ""))
    # scikit-learn's labels name the positive label of the mask it was given ("Positive label: 1"), not a
    # class: the classes are in the legends
    roc_ax.set(xlabel="False positive rate", ylabel="True positive rate")
    pr_ax.set(xlabel="Recall", ylabel="Precision")
    for ax in (roc_ax, pr_ax):
        ax.set_aspect("auto")
        _ticks(ax.xaxis)
        _ticks(ax.yaxis)
        ax.grid(alpha=0.3)
    return fig, rows


def probability_histograms(y_true, proba, classes):
    """Histograms of predicted probabilities, by true class: binary, P(second class); else a panel per class
    (all true classes overlaid up to the palette's size, beyond it the class against the rest). Each is one
    outlined polygon ("stepfilled"), not a bar per bin: a tenth of the artists to draw."""
    from matplotlib.colors import to_rgba

    y_true = np.asarray(y_true)
    bins = np.linspace(0.0, 1.0, 21)
    columns = [1] if len(classes) == 2 else list(range(min(len(classes), MAX_PANELS)))
    fig, axes = _figure(len(columns), 3 if len(columns) > 4 else 2, 2.2 if len(columns) > 1 else 2.8, gap=0.6)
    for ax, j in zip(axes, columns, strict=True):
        if len(classes) <= len(PALETTE):
            groups = [(f"true {label}", y_true == label) for label in classes]
        else:
            groups = [(f"true {classes[j]}", y_true == classes[j]), ("other classes", y_true != classes[j])]
        for i, (label, mask) in enumerate(groups):
            if mask.any():
                ax.hist(
                    proba[mask, j],
                    bins=bins,
                    histtype="stepfilled",
                    facecolor=to_rgba(colour(i), 0.45),
                    edgecolor=colour(i),
                    linewidth=1.2,
                    label=label,
                )
        ax.set_xlabel(f"P({classes[j]})")
        ax.set_ylabel("rows")
        ax.set_xlim(0, 1)
        _ticks(ax.xaxis)
        _ticks(ax.yaxis, integer=True)
        ax.legend(fontsize=7)
    return fig


def regression(y_true, y_pred, name: str):
    """Predicted vs true with the diagonal, residuals vs predicted, and the residuals' histogram."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = y_true - y_pred
    alpha = 0.7 if len(y_true) <= 1000 else 0.25
    fig, axes = _figure(3, 3, 2.0, left=0.7, gap=0.7)
    ax = axes[0]
    ax.scatter(y_true, y_pred, s=10, alpha=alpha, color=colour(0), rasterized=len(y_true) > 2000)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], "--", color=colour(7), linewidth=1, label="predicted = true")
    ax.set_xlabel(f"true {name}")
    ax.set_ylabel(f"predicted {name}")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.scatter(y_pred, residuals, s=10, alpha=alpha, color=colour(0), rasterized=len(y_true) > 2000)
    ax.axhline(0.0, linestyle="--", color=colour(7), linewidth=1)
    ax.set_xlabel(f"predicted {name}")
    ax.set_ylabel("residual (true - predicted)")
    ax = axes[2]
    ax.hist(residuals, bins=min(40, max(10, len(residuals) // 10)), histtype="stepfilled", color=colour(0), alpha=0.8)
    ax.axvline(0.0, linestyle="--", color=colour(7), linewidth=1)
    ax.set_xlabel("residual (true - predicted)")
    ax.set_ylabel("rows")
    for ax in axes:
        _ticks(ax.xaxis)
        _ticks(ax.yaxis, integer=ax is axes[2])
        ax.grid(alpha=0.3)
    return fig


def search_scores(results, params: list, metric: str):
    """The chosen metric's mean (with its std as an error bar) against each searched parameter; with halving,
    a colour per round. The best setting is the star."""
    fig, axes = _figure(min(len(params), MAX_PANELS), 2, 2.4, bottom=0.8)
    mean, std = results[f"mean_{metric}"].to_numpy(float), results[f"std_{metric}"].to_numpy(float)
    rounds = results["round"].to_numpy() if "round" in results else np.ones(len(results), dtype=int)
    for ax, param in zip(axes, params, strict=True):
        texts = results[param].astype(str).to_numpy()
        numbers = _numbers(results[param])
        if numbers is None:
            order = list(dict.fromkeys(sorted(texts)))
            x = np.array([order.index(t) for t in texts], dtype=float)
            ax.set_xticks(range(len(order)), order, rotation=30 if max(map(len, order)) > 8 else 0)
        else:
            x = numbers
            positive = x[np.isfinite(x)]
            if len(positive) and positive.min() > 0 and positive.max() / positive.min() >= 20:
                ax.set_xscale("log")
            _ticks(ax.xaxis)
        for i, r in enumerate(sorted(set(rounds.tolist()))):
            at = rounds == r
            ax.errorbar(
                x[at],
                mean[at],
                yerr=std[at],
                fmt="o",
                color=colour(i),
                capsize=3,
                markersize=4,
                label=f"round {r}" if len(set(rounds.tolist())) > 1 else None,
            )
        ax.plot(
            [x[0]],
            [mean[0]],
            marker="*",
            markersize=13,
            color=colour(1),
            markeredgecolor="black",
            linestyle="none",
            label="best",
        )
        ax.set_xlabel(param)
        ax.set_ylabel(f"mean {metric}")
        _ticks(ax.yaxis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _numbers(column):
    """The column as floats when every value is a number, else None (values are compared as text)."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any() or column.astype(str).isin(["True", "False"]).any():
        return None
    return values.to_numpy(float)
