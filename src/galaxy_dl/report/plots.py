"""Confusion-matrix figures with matplotlib's non-interactive Agg backend; no Keras, no display.

Counting and normalising are scikit-learn's (``confusion_matrix``); drawing is
``ConfusionMatrixDisplay``, with tick labels placed at tick positions (Galaxy-ML
put label values where positions belong).
"""

from dataclasses import dataclass
from typing import Any

from galaxy_dl.errors import UsageError, suggest
from galaxy_dl.limits import DEFAULT_MAX_CLASSES

NORMALIZE = ("none", "true", "pred", "all")
FORMATS = ("png", "svg", "pdf")


def resolve_cmap(name: str) -> str:
    """A matplotlib colormap name; case-insensitive, so Galaxy-ML's 'purples' or 'Summer' work."""
    import matplotlib

    names = list(matplotlib.colormaps)
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    close = [n for n in names if n.lower().startswith(name.lower()[:3])][:8]
    hint = suggest(name, names) or (f" (close: {', '.join(close)})" if close else "")
    raise UsageError(f"--cmap: unknown colormap {name!r}{hint}")


def resolve_format(path: str, fmt: str | None) -> str:
    """The explicit ``--format``, else the output's suffix, else PNG (Galaxy's ``.dat`` paths)."""
    if fmt:
        return fmt.lower()
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return suffix if suffix in FORMATS else "png"


@dataclass
class ConfusionMatrix:
    """Counts (rows true, columns predicted), labels in display order, and the optional normalised view."""

    labels: list
    display_labels: list
    counts: Any
    normalized: Any | None

    @property
    def accuracy(self) -> float:
        total = self.counts.sum()
        return float(self.counts.trace() / total) if total else float("nan")

    def recall(self) -> list[float]:
        rows = self.counts.sum(axis=1)
        return [float(self.counts[i, i] / r) if r else float("nan") for i, r in enumerate(rows)]

    def to_frame(self):
        import pandas as pd

        values = self.normalized if self.normalized is not None else self.counts
        frame = pd.DataFrame(values, columns=[str(x) for x in self.display_labels])
        frame.insert(0, "true\\predicted", [str(x) for x in self.display_labels])
        return frame


def sorted_union(y_true, y_pred) -> list:
    """Labels of both files, sorted (numerically when all are numbers)."""
    import numpy as np

    values = list(dict.fromkeys([*np.asarray(y_true).tolist(), *np.asarray(y_pred).tolist()]))
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def compute(y_true, y_pred, *, order=None, names=None, normalize: str = "none") -> ConfusionMatrix:
    """``order``: labels in display order (default: sorted union); ``names``: label -> display name."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    labels = list(order) if order is not None else sorted_union(y_true, y_pred)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    normalized = None
    if normalize != "none":
        with np.errstate(invalid="ignore", divide="ignore"):
            normalized = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    display = [names.get(str(label), label) if names else label for label in labels]
    return ConfusionMatrix(labels, display, counts, normalized)


def figure_size(n_classes: int, longest_label: int) -> tuple[float, float]:
    """Inches: grows with the class count and label length so that 2 or 30 classes stay legible."""
    side = max(4.5, 0.55 * n_classes + 2.5)
    margin = min(0.09 * longest_label, 4.0)
    return side + margin + 1.2, side + margin


def draw(
    cm: ConfusionMatrix,
    path: str,
    *,
    fmt: str,
    title: str,
    cmap: str,
    dpi: int,
    xlabel: str = "Predicted label",
    ylabel: str = "True label",
) -> None:
    """Draw and save atomically in ``fmt``; cells show counts, plus percentages when normalised."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, and tick labels can be read back
    matplotlib.rcParams["svg.hashsalt"] = "galaxy-dl"  # stable element ids, so SVGs are reproducible
    matplotlib.rcParams["text.parse_math"] = False  # labels from the files are drawn as written, never as math text
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    from galaxy_dl.data.fileio import atomic_path

    n = len(cm.labels)
    text_labels = [str(x) for x in cm.display_labels]
    longest = max((len(t) for t in text_labels), default=1)
    fig, ax = plt.subplots(figsize=figure_size(n, longest), layout="constrained")
    values = cm.normalized if cm.normalized is not None else cm.counts
    shown = np.nan_to_num(values, nan=0.0)
    display = ConfusionMatrixDisplay(shown, display_labels=text_labels)
    fontsize = max(8.0, min(14.0, 18.0 - 0.3 * n)) - (2.0 if cm.normalized is not None else 0.0)
    display.plot(
        ax=ax,
        cmap=cmap,
        colorbar=True,
        values_format=".0f" if cm.normalized is None else ".1%",
        xticks_rotation="vertical" if longest > 6 or n > 12 else "horizontal",
        text_kw={"fontsize": fontsize},
    )
    if cm.normalized is not None:
        for i in range(n):
            for j in range(n):
                display.text_[i, j].set_text(f"{cm.counts[i, j]}\n{shown[i, j]:.1%}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    colorbar_axis = display.im_.colorbar.ax.yaxis
    if cm.normalized is not None:
        colorbar_axis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    else:
        colorbar_axis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    metadata = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else {})
    with atomic_path(path, suffix=f".{fmt}") as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
    plt.close(fig)


def parse_labels(text: str | None, present: list) -> tuple[list, dict]:
    """``--labels``: '0=ALL,1=AML' renames (and orders), 'AML,ALL' only orders; unlisted labels follow, sorted."""
    if not text:
        return present, {}
    by_text = {str(label): label for label in present}
    order, names = [], {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, name = part.partition("=")
        key = key.strip()
        if key not in by_text:
            raise UsageError(f"--labels: label {key!r} is in neither file{suggest(key, by_text)}")
        if sep:
            names[key] = name.strip()
        order.append(by_text[key])
    order += [label for label in present if label not in order]
    return order, names


def plot_confusion(
    true_spec,
    pred_spec,
    output: str,
    *,
    labels=None,
    normalize="none",
    cmap="Blues",
    fmt=None,
    dpi=150,
    title="Confusion matrix",
    xlabel="Predicted label",
    ylabel="True label",
    matrix_out=None,
    max_classes: int = DEFAULT_MAX_CLASSES,
    metrics_out=None,
) -> str:
    """Read both label tables, draw the matrix to ``output``; returns the one-line summary."""
    import numpy as np

    from galaxy_dl.data.fileio import together
    from galaxy_dl.data.tables import read_label_column, write_table
    from galaxy_dl.errors import DataError

    cmap = resolve_cmap(cmap)
    fmt = resolve_format(output, fmt)
    y_true = read_label_column(true_spec)
    y_pred = read_label_column(pred_spec)
    if len(y_true) != len(y_pred):
        raise DataError(f"{true_spec.source} has {len(y_true)} rows but {pred_spec.source} has {len(y_pred)}")
    for series, spec in ((y_true, true_spec), (y_pred, pred_spec)):
        if series.isna().any():
            raise DataError(f"{int(series.isna().sum())} missing labels", source=spec.source)
    for values, spec in ((y_true.to_numpy(), true_spec), (y_pred.to_numpy(), pred_spec)):
        fractional = values != np.round(values) if values.dtype.kind == "f" else None
        if fractional is not None and fractional.any():
            raise DataError(
                f"holds continuous values (e.g. {values[int(np.argmax(fractional))]:g}): a confusion matrix "
                "needs class labels; regression predictions are evaluated by plot-reg",
                source=spec.source,
            )
    y_true, y_pred = _common_type(y_true.to_numpy(), y_pred.to_numpy())
    present = sorted_union(y_true, y_pred)
    if len(present) > max_classes:
        raise DataError(
            f"the two files hold {len(present):,} different labels, more than the limit of {max_classes:,} "
            "(raise it with --max-classes); are these class labels?",
            source=None,
        )
    order, names = parse_labels(labels, present)
    cm = compute(y_true, y_pred, order=order, names=names, normalize=normalize)
    metrics = class_metrics(y_true, y_pred, cm)
    with together():  # the image and the tables, or none of them
        draw(cm, output, fmt=fmt, title=title, cmap=cmap, dpi=dpi, xlabel=xlabel, ylabel=ylabel)
        if matrix_out:
            write_table(cm.to_frame(), matrix_out)
        if metrics_out:
            write_table(metrics, metrics_out)
    recalls = ", ".join(f"{name} {r:.3f}" for name, r in zip(cm.display_labels, cm.recall(), strict=True))
    correct, total = int(cm.counts.trace()), int(cm.counts.sum())
    macro = metrics.set_index("class").loc["macro avg"]
    return (
        f"accuracy {cm.accuracy:.4f} ({correct}/{total}); macro precision {macro['precision']:.4f}, recall "
        f"{macro['recall']:.4f}, F1 {macro['f1-score']:.4f}; recall per true class: {recalls}"
    )


def class_metrics(y_true, y_pred, cm: ConfusionMatrix):
    """scikit-learn's classification report as a table: precision, recall, F1 and support per class (in the matrix's
    order and names), then macro and weighted averages and accuracy."""
    import pandas as pd
    from sklearn.metrics import classification_report

    report = classification_report(y_true, y_pred, labels=cm.labels, output_dict=True, zero_division=0)
    rows = [
        {"class": str(name), **report[str(label)]} for label, name in zip(cm.labels, cm.display_labels, strict=True)
    ]
    rows += [{"class": key, **report[key]} for key in ("macro avg", "weighted avg")]
    rows.append(
        {
            "class": "accuracy",
            "precision": None,
            "recall": None,
            "f1-score": cm.accuracy,
            "support": int(cm.counts.sum()),
        }
    )
    frame = pd.DataFrame(rows, columns=["class", "precision", "recall", "f1-score", "support"])
    frame["support"] = frame["support"].astype(int)
    return frame


def _common_type(a, b):
    """Compare labels as numbers when both files hold numbers (1 == 1.0), else as text."""
    import numpy as np

    numeric = [np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_) for x in (a, b)]
    if all(numeric):
        if np.issubdtype(a.dtype, np.floating) or np.issubdtype(b.dtype, np.floating):
            a, b = a.astype(float), b.astype(float)
            if np.all(a == np.round(a)) and np.all(b == np.round(b)):
                return a.astype(np.int64), b.astype(np.int64)
        return a, b
    return a.astype(str).astype(object), b.astype(str).astype(object)
