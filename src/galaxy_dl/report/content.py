"""A train-eval run's report: what the run was, what it scored, how it learned, and how its held-out rows
were predicted; as a :class:`~galaxy_dl.report.document.Document` for the HTML and PDF writers."""

import platform
import sys
from importlib import metadata

import numpy as np

from galaxy_dl.report import figures
from galaxy_dl.report.document import Document, Facts, Figure, Note, Run, Section, Table

LIBRARIES = ("keras", "tensorflow", "jax", "scikit-learn", "numpy", "pandas", "h5py", "matplotlib")
MODULES = {"scikit-learn": "sklearn"}  # distribution -> module, where they differ
VARIES = frozenset({"date", "wall time"})


def build(report, data, estimator, run: Run) -> Document:
    """Every section, with figures drawn; ``estimator`` is the one the run started from."""
    import matplotlib

    final = report.estimator
    model_source = final if final is not None else estimator
    doc = Document("Training report", f"{estimator.task} · {data.source}")
    with matplotlib.rc_context(figures.FONT):
        doc.sections += [
            _run(run, model_source),
            _data(data, estimator.task),
            _model(final, estimator),
            _parameters(model_source),
            _scores(report),
        ]
        doc.sections.append(_curves(report, model_source))
        doc.sections.append(_predictions(report, data, final, estimator.task))
        if report.results is not None:
            doc.sections.append(_search(report.results))
    return doc


def _run(run: Run, estimator) -> Section:
    import keras

    from galaxy_dl import __version__

    installed = {name: _version(name) for name in LIBRARIES}
    versions = ", ".join(f"{name} {version}" for name, version in installed.items() if version)
    rows = [
        ("command", run.command),
        ("date", run.started),
        ("wall time", f"{run.wall_time_s:.1f} s" if run.wall_time_s is not None else "not measured"),
        ("scheme", describe_scheme(run.scheme, estimator.task)),
        ("search", run.search or "none"),
        ("seed", str(estimator.seed) if estimator.seed is not None else "none (not reproducible)"),
        ("backend", f"Keras {keras.__version__} on {keras.backend.backend()}"),
        ("versions", f"galaxy-dl {__version__}, Python {platform.python_version()}, {versions}"),
    ]
    return Section("run", "Run", [Facts(rows, VARIES)])


def _version(name: str) -> str | None:
    """A loaded library's own ``__version__`` (as TensorFlow's, whatever its distribution is called), else the
    installed distribution's: reading package metadata costs 5 ms a library."""
    loaded = getattr(sys.modules.get(MODULES.get(name, name)), "__version__", None)
    if isinstance(loaded, str):
        return loaded
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe_scheme(options: dict, task: str) -> str:
    """The scheme and its split in words, e.g. "train_val: stratified split; validation 0.2 of the rows"."""
    scheme = options.get("scheme", "train_val")
    split = options.get("split", "stratified")
    if scheme == "cv":
        kind = options.get("cv_kind") or ("stratified" if task == "classification" else "kfold")
        repeats = f" x {options.get('repeats', 3)} repeats" if "repeated" in kind else ""
        refit = "refitted on all rows" if options.get("refit", True) else "no refit"
        return f"cv: {kind}, {options.get('folds', 5)} folds{repeats}; {refit}"

    def held(size, groups):
        return f"groups {', '.join(groups)}" if groups else f"{size:g} of the rows" if size < 1 else f"{int(size)} rows"

    text = f"{scheme}: {split} split; validation {held(options.get('val_size', 0.2), options.get('val_groups'))}"
    if scheme == "train_val_test":
        text += f", test {held(options.get('test_size', 0.2), options.get('test_groups'))} (set apart first)"
    return text


def _data(data, task: str) -> Section:
    import pandas as pd

    from galaxy_dl.report.plots import sorted_union

    rows = [
        ("features", f"{data.source}: {data.X.shape[0]} rows x {data.X.shape[1]} columns"),
        ("labels", f"{data.label_source}" + (f" ({len(data.label_names)} columns)" if data.label_names else "")),
        ("task", task),
    ]
    if getattr(data, "sequences", None) is not None:
        rows.insert(1, ("sequences", data.sequences.describe()))
    y = np.asarray(data.y)
    columns = data.label_names or ["label"]
    y2 = y.reshape(len(y), -1)
    if task == "classification":
        counts = []
        for j, name in enumerate(columns):
            values = pd.Series(y2[:, j]).value_counts()
            values = values.reindex(sorted_union(values.index, []))
            counts += [
                {"column": name, "class": str(k), "rows": int(v), "share": f"{v / len(y):.1%}"}
                for k, v in values.items()
            ]
        frame = pd.DataFrame(counts)
        caption = "Class counts"
    else:
        frame = pd.DataFrame(
            [
                {
                    "column": name,
                    "min": _num(col.min()),
                    "mean": _num(col.mean()),
                    "max": _num(col.max()),
                    "std": _num(col.std()),
                }
                for name, col in zip(columns, y2.astype(float).T, strict=True)
            ]
        )
        caption = "Target range"
    if len(columns) == 1:
        frame = frame.drop(columns="column")
    return Section("data", "Data", [Facts(rows), Table(_text(frame), caption)])


def _num(value: float) -> str:
    return f"{value:.4g}"


def _model(final, estimator) -> Section:
    """Layers, output shapes and parameter counts of the trained model (or, with no final model, of the
    architecture as built)."""
    import pandas as pd

    from galaxy_dl.model.architecture import model_from_config

    model = final.model_ if final is not None else model_from_config(estimator.architecture, "--model")
    layers = []
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        layers.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": shape,
                "parameters": f"{layer.count_params():,}",
            }
        )
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(model.count_params())
    facts = Facts(
        [
            ("model", f"{model.name} ({type(model).__name__})"),
            ("parameters", f"{total:,}"),
            ("trainable", f"{trainable:,}"),
            ("non-trainable", f"{total - trainable:,}"),
        ]
    )
    note = (
        []
        if final is not None
        else [Note("No final model (cross-validation without refit): the architecture as built.")]
    )
    return Section("model", "Model", [facts, Table(_text(pd.DataFrame(layers)), "Layers"), *note])


def _parameters(estimator) -> Section:
    from galaxy_dl.model.config import params_table

    return Section(
        "parameters",
        "Parameters",
        [Table(_text(params_table(estimator)), "Every build-model parameter (a search's choices last)")],
    )


def _scores(report) -> Section:
    import pandas as pd

    return Section("scores", "Scores", [Table(_text(pd.DataFrame(report.scores)), "The scores table as written")])


def _text(frame):
    """Cells as galaxy-dl writes them to disk (read back as text)."""
    import io

    import pandas as pd

    from galaxy_dl.data.tables import table_text

    return pd.read_csv(io.StringIO(table_text(frame)), sep="\t", dtype=str, keep_default_na=False)


def _curves(report, estimator) -> Section:
    histories = list(report.histories)
    if report.estimator is not None:
        histories.append(("refit" if histories else "model", report.estimator.history_))
    histories = [(name, h) for name, h in histories if h]
    section = Section("curves", "Learning curves")
    if not histories:
        section.blocks.append(Note("No training history was recorded."))
        return section
    marks = early_stopping(estimator, histories)
    caption = "Loss and every compiled metric per epoch: training solid, validation dashed, a colour per model."
    if marks:
        caption += " Dotted line: the epoch early stopping ended at; star: the best epoch of the monitored value."
    section.blocks.append(Figure(figures.learning_curves(histories, marks), caption, "Learning curves per epoch"))
    lines = [
        f"{name}: {'stopped after epoch ' + str(stop) if stop else 'ran every epoch'}; best {monitored} at epoch {best}"
        for name, (stop, best, monitored) in marks.items()
    ]
    if lines:
        section.blocks.append(Facts([("early stopping", "; ".join(lines))]))
    return section


def early_stopping(estimator, histories) -> dict:
    """Per run: (epoch it stopped at, or None if it ran them all; best epoch of the monitored value; its key),
    when an EarlyStopping callback is configured."""
    spec = next((s for s in estimator.callbacks or () if s.get("class_name") == "EarlyStopping"), None)
    if spec is None:
        return {}
    config = spec.get("config") or {}
    monitored = config.get("monitor", "val_loss")
    mode = config.get("mode", "auto")
    if mode == "auto":  # Keras: accuracy-like values are maximised
        mode = "max" if any(w in monitored for w in ("acc", "auc", "precision", "recall")) else "min"
    marks = {}
    for name, history in histories:
        ran = len(history.get("loss", []))
        values = np.asarray(history.get(monitored, []), dtype=float)
        best = int((np.nanargmax if mode == "max" else np.nanargmin)(values)) + 1 if len(values) else None
        marks[name] = (ran if ran < int(estimator.epochs) else None, best, monitored)
    return marks


def held_out(report):
    """The rows to show predictions for: the test holdout, else the validation holdout, else every fold's
    held-out rows pooled; as (description, true, predicted, probabilities or None)."""
    sets = {h.name: h for h in report.heldout}
    for name in ("test", "validation"):
        if name in sets:
            h = sets[name]
            return f"the {name} holdout ({len(h.true)} rows)", h.true, h.predicted, h.proba
    folds = [h for h in report.heldout if h.name.startswith("fold")]
    if not folds:
        return None
    proba = np.vstack([h.proba for h in folds]) if all(h.proba is not None for h in folds) else None
    true = np.concatenate([h.true for h in folds])
    return (
        f"every fold's held-out rows, pooled ({len(folds)} folds, {len(true)} rows)",
        true,
        np.concatenate([h.predicted for h in folds]),
        proba,
    )


def _predictions(report, data, final, task: str) -> Section:
    section = Section("heldout", "Held-out predictions")
    chosen = held_out(report)
    if chosen is None:
        section.blocks.append(
            Note(
                "No held-out predictions: a search over folds keeps no fold models "
                "(use --scheme train_val_test to see the best setting's test rows)."
            )
        )
        return section
    what, true, predicted, proba = chosen
    section.blocks.append(Note(f"On {what}."))
    names = data.label_names or ["target" if task == "regression" else "label"]
    if task == "regression":
        section.blocks += _regression(true, predicted, names)
    else:
        section.blocks += _classification(true, predicted, proba, names, final)
    return section


def _regression(true, predicted, names) -> list:
    import pandas as pd
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    true2, pred2 = np.asarray(true, float).reshape(len(true), -1), np.asarray(predicted, float).reshape(len(true), -1)
    blocks, rows = [], []
    for j, name in enumerate(names[: figures.MAX_PANELS]):
        t, p = true2[:, j], pred2[:, j]
        rows.append(
            {
                "target": name,
                "r2": _num(r2_score(t, p)),
                "RMSE": _num(root_mean_squared_error(t, p)),
                "MAE": _num(mean_absolute_error(t, p)),
            }
        )
        blocks.append(
            Figure(
                figures.regression(t, p, name),
                f"{name}: predicted vs true (dashed: the diagonal), residuals vs predicted, residuals.",
                f"Regression diagnostics for {name}",
            )
        )
    return [Table(_text(pd.DataFrame(rows)), "Errors on these rows"), *blocks]


def _classification(true, predicted, proba, names, final) -> list:
    import pandas as pd

    from galaxy_dl.report.plots import compute, sorted_union

    true, predicted = np.asarray(true), np.asarray(predicted)
    blocks: list[Note | Table | Figure] = []
    if true.ndim == 2:
        blocks.append(
            Note(
                f"{true.shape[1]} label columns: a confusion matrix per column; ROC, precision-recall "
                "and probability histograms are drawn for one label column."
            )
        )
        for j, name in enumerate(names[: figures.MAX_PANELS]):
            cm = compute(true[:, j], predicted[:, j], order=sorted_union(true[:, j], predicted[:, j]), normalize="true")
            blocks.append(
                Figure(
                    figures.confusion_matrices(cm),
                    f"{name}: rows are true labels, columns predicted.",
                    f"Confusion matrix of {name}",
                )
            )
        return blocks
    classes = final.classes_.tolist() if final is not None else sorted_union(true, predicted)
    order = classes + [label for label in sorted_union(true, predicted) if label not in classes]
    cm = compute(true, predicted, order=order, normalize="true")
    correct = int(cm.counts.trace())
    blocks.append(
        Figure(
            figures.confusion_matrices(cm),
            f"Rows are true labels, columns predicted; accuracy {cm.accuracy:.3f} ({correct}/{int(cm.counts.sum())}). "
            "Right: each row divided by its total (recall per true class).",
            "Confusion matrices",
        )
    )
    if proba is None or proba.shape[1] != len(classes) or len(classes) < 2:
        blocks.append(Note("No class probabilities for these rows: ROC and precision-recall curves are not drawn."))
        return blocks
    fig, rows = figures.roc_pr(true, proba, classes)
    caption = (
        "ROC and precision-recall curves"
        + (f" for {classes[1]} as the positive class." if len(classes) == 2 else ", each class against the rest.")
        + " Areas in the legends and the table."
    )
    blocks.append(Figure(fig, caption, "ROC and precision-recall curves"))
    table = pd.DataFrame(rows, columns=["class", "rows", "ROC AUC", "average precision"])
    for column in ("ROC AUC", "average precision"):
        table[column] = table[column].map(lambda v: "undefined" if np.isnan(v) else f"{v:.4f}")
    if len(classes) > 2:
        from sklearn.metrics import roc_auc_score

        present = set(np.unique(true).tolist()) == set(classes)
        macro = f"{roc_auc_score(true, proba, multi_class='ovr', labels=classes):.4f}" if present else "undefined"
        table.loc[len(table)] = ["macro average", str(len(true)), macro, ""]
    blocks.append(Table(_text(table), "Area under the ROC curve and average precision"))
    blocks.append(
        Figure(
            figures.probability_histograms(true, proba, classes),
            "Predicted probabilities by true class.",
            "Histograms of predicted probabilities",
        )
    )
    return blocks


def _search(results) -> Section:
    from galaxy_dl.runs.search import results_layout

    params, metric = results_layout(results)
    blocks: list[Table | Figure] = [Table(_text(results), "Every setting, best first (the search results table)")]
    if params:
        blocks.append(
            Figure(
                figures.search_scores(results, params, metric),
                f"Mean {metric} over the splits (bars: one std) against each searched parameter; star: the best.",
                f"Search scores against {', '.join(params)}",
            )
        )
    return Section("search", "Search", blocks)
