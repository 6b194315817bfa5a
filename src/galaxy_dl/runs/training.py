"""What train-eval does, callable without the CLI: read and align the data, run a scheme, write outputs."""

import contextlib
import sys
from dataclasses import dataclass
from typing import Any

from galaxy_dl.data.fasta import labels_by_id
from galaxy_dl.data.features import Streaming, read_features
from galaxy_dl.data.seqcoding import Encoding
from galaxy_dl.data.tables import TableSpec, read_table, release_memory, to_labels, write_table
from galaxy_dl.errors import DataError, LabelError, UsageError
from galaxy_dl.runs.schemes import Split, check_scoring, cross_validate, train_val


@dataclass
class TrainingData:
    X: Any  # float32 (rows, features) in memory, or a streaming.Rows view
    y: Any  # labels as read (ints, floats or strings): (rows,), or (rows, columns) for several label columns
    groups: Any | None
    feature_names: list | None
    source: str
    label_names: list | None = None  # the label columns' names, when there are several
    label_source: str | None = None
    label_spec: TableSpec | None = None  # where several label columns came from (a one-hot table's class names)
    sequences: Any = None  # FASTA input: a galaxy_dl.data.fasta.Sequences (ids, lengths, encoding)

    @classmethod
    def read(
        cls,
        x_spec: TableSpec,
        y_spec: TableSpec | None,
        *,
        target: str | None = None,
        groups: TableSpec | None = None,
        groups_column: str | None = None,
        missing: str = "error",
        layer: str | None = None,
        how: Streaming = Streaming(),  # noqa: B008 (frozen: one shared default cannot change)
        encoding: Encoding | None = None,
        genome: str | None = None,
    ):
        """Features (in memory, or streamed: see :mod:`galaxy_dl.data.features`), labels and groups, row for row."""
        import numpy as np

        take = {option: name for option, name in (("--target", target), ("--groups-column", groups_column)) if name}
        features = read_features(
            x_spec, take=take, missing=missing, layer=layer, how=how, encoding=encoding, genome=genome
        )
        X, keep = features.X, features.keep
        if features.sequences is not None:
            print(f"note: {x_spec.source}: {features.sequences.describe()}", file=sys.stderr)
        elif features.streamed:
            kind = "sparse" if X.sparse else "float32 row cache"
            print(
                f"note: {x_spec.source}: {X.shape[0]} rows x {X.shape[1]} columns streamed from a {kind}",
                file=sys.stderr,
            )
        y: Any
        if "--target" in features.taken:
            y = features.taken["--target"]
            y_source = f"--target {target}"
        else:
            if y_spec is None:
                raise UsageError("give the labels: --y FILE or --target COLUMN")
            frame = read_table(y_spec)
            if features.sequences is not None:
                frame = labels_by_id(frame, features.sequences.ids, y_spec.source)
            y = to_labels(frame, y_spec, several=True)
            y_source = y_spec.source
        group_values: Any = None
        if groups is not None:
            group_values = to_labels(read_table(groups), groups).to_numpy()
            if len(group_values) != len(X):
                raise DataError(f"has {len(group_values)} rows, but {x_spec.source} has {len(X)}", source=groups.source)
        elif "--groups-column" in features.taken:
            group_values = features.taken["--groups-column"].to_numpy()
        if len(y) != len(X):
            raise DataError(
                f"{x_spec.source} has {len(X)} rows but {y_source} has {len(y)}: they must match row for row"
            )
        label_names = None
        if y.ndim == 2:
            label_names = (
                [str(c) for c in y.columns]
                if y_spec is not None and y_spec.header
                else [f"label_{i + 1}" for i in range(y.shape[1])]
            )
        y_missing = y.isna().to_numpy()
        y_missing = y_missing.any(axis=1) if y_missing.ndim == 2 else y_missing
        if y_missing.any():
            if missing != "drop":
                first = int(np.argmax(y_missing)) + 1 + int(y_spec.header if y_spec else x_spec.header)
                raise DataError(
                    f"{int(y_missing.sum())} missing labels (first at line {first}); use --missing drop",
                    source=y_source,
                )
            keep &= ~y_missing
        y = compact_labels(y.to_numpy())
        if not keep.all():
            print(f"warning: dropped {int((~keep).sum())} rows with missing values", file=sys.stderr)
            X, y = X[keep], y[keep]
            group_values = group_values[keep] if group_values is not None else None
        if len(X) == 0:
            raise DataError("no rows left after dropping missing values", source=x_spec.source)
        release_memory()
        return cls(X, y, group_values, features.names, x_spec.source, label_names, y_source, y_spec, features.sequences)


def compact_labels(y):
    """Whole-number labels in the smallest integer type that holds them (1 byte a row for class numbers, not 8):
    with the row numbers of a split, labels are what a streamed run holds per row."""
    import numpy as np

    if y.dtype.kind not in "iu" or y.size == 0:
        return y
    low, high = y.min(), y.max()
    for dtype in (np.int8, np.int16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return y.astype(dtype)
    return y


def run_scheme(
    estimator,
    data: TrainingData,
    *,
    scheme: str = "train_val",
    split: str = "stratified",
    val_size: float = 0.2,
    test_size: float = 0.2,
    cv_kind: str | None = None,
    folds: int = 5,
    repeats: int = 3,
    refit: bool = True,
    scoring=(),
    val_groups=(),
    test_groups=(),
):
    """Fit and score ``estimator`` on ``data``; returns a :class:`~galaxy_dl.runs.schemes.Report`."""
    scoring = check_scoring(scoring, estimator.task)
    split, cv_kind = settle(estimator, data, scheme, split, cv_kind, val_groups, test_groups)
    with label_errors(data):  # label problems found while encoding name the label table
        if scheme == "cv":
            report = cross_validate(
                estimator,
                data.X,
                data.y,
                kind=cv_kind or "kfold",  # settle() has chosen one for cv
                folds=folds,
                repeats=repeats,
                scoring=scoring,
                groups=data.groups,
                refit=refit,
            )
        else:
            test_split = Split(split, test_size, tuple(test_groups)) if scheme == "train_val_test" else None
            report = train_val(
                estimator,
                data.X,
                data.y,
                split=Split(split, val_size, tuple(val_groups)),
                scoring=scoring,
                groups=data.groups,
                test_split=test_split,
            )
    if report.estimator is not None:
        name_columns(report.estimator, data)
    return report


def name_columns(estimator, data: TrainingData) -> None:
    """A fitted estimator remembers the feature and label columns' names."""
    import numpy as np

    if data.feature_names is not None:
        estimator.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
    if data.label_names is not None:
        estimator.targets_ = list(data.label_names)


def settle(
    estimator, data: TrainingData, scheme: str, split: str, cv_kind: str | None, val_groups=(), test_groups=()
) -> tuple[str, str | None]:
    """The split and fold kind that fit the labels (scikit-learn stratifies one class column only), with
    several label columns put in the model's output order and regression labels as float32."""
    import numpy as np

    if (val_groups or test_groups) and split != "group":
        raise UsageError("--val-groups/--test-groups hold out named groups: use them with --split group")
    if test_groups and scheme != "train_val_test":
        raise UsageError("--test-groups needs --scheme train_val_test")
    if np.ndim(data.y) == 2 and estimator.task == "classification" and estimator.reads_one_hot(data.y.shape[1]):
        _one_class_per_row(data)
    if np.ndim(data.y) == 2:
        _match_outputs(estimator, data)
        if split == "stratified":
            split = "shuffle"  # scikit-learn stratifies one label column
        if scheme == "cv" and cv_kind and "stratified" in cv_kind:
            raise UsageError(f"--cv {cv_kind} needs one label column; use kfold or repeated with several")
        cv_kind = cv_kind or "kfold"
    if estimator.task == "regression":
        try:
            data.y = np.asarray(data.y, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError("regression needs numeric labels", source=data.source) from None
        if split == "stratified":
            split = "shuffle"
    if scheme == "cv":
        cv_kind = cv_kind or ("stratified" if estimator.task == "classification" else "kfold")
        if estimator.task == "regression" and "stratified" in cv_kind:
            raise UsageError(f"--cv {cv_kind} needs class labels; use kfold or repeated for regression")
    return split, cv_kind


def _one_class_per_row(data: TrainingData) -> None:
    """A one-hot label table ("To categorical"'s output, as the GTN's CNN tutorial trains on) for a softmax or
    categorical classifier: one class per row, named by the table's header or numbered from 0."""
    from galaxy_dl.data.tables import TableSpec, is_zero_one, one_hot_classes

    spec = data.label_spec or TableSpec("labels", option="--y")
    if not is_zero_one(data.y):
        raise DataError(
            f"has {data.y.shape[1]} label columns for a softmax output of as many units: give one class "
            "column, or a one-hot table of 0 and 1",
            source=data.label_source,
        )
    data.y = one_hot_classes(data.y, data.label_names or [], spec)
    data.label_names = None


def _match_outputs(estimator, data: TrainingData) -> None:
    """Put the label columns in the model's output order when their names are the output names."""
    from galaxy_dl.model.architecture import config_output_names

    names = config_output_names(estimator.architecture)
    if data.label_names and len(names) > 1 and set(names) == set(data.label_names) and names != data.label_names:
        order = [data.label_names.index(n) for n in names]
        data.y = data.y[:, order]
        data.label_names = names


@contextlib.contextmanager
def label_errors(data: TrainingData):
    """Label errors found while encoding name the label table."""
    try:
        yield
    except LabelError as exc:
        if exc.source is None and data.label_source:
            raise LabelError(str(exc), source=data.label_source) from None
        raise


def write_outputs(
    report,
    data: TrainingData,
    *,
    scores: str,
    fitted_model: str | None = None,
    weights: str | None = None,
    predictions: str | None = None,
    history: str | None = None,
    search_results: str | None = None,
) -> None:
    import pandas as pd

    from galaxy_dl.model import archive
    from galaxy_dl.model import weights as weights_io

    if history:
        if report.estimator is None:
            raise UsageError("--history-out needs a final model (cross-validation without --refit has none)")
        frame = pd.DataFrame(report.estimator.history_)
        frame.insert(0, "epoch", range(1, len(frame) + 1))
        write_table(frame, history)
    if predictions:
        rows = []
        for held in report.heldout:
            rows.append(
                pd.DataFrame({"set": held.name, "row": held.rows + 1, "true": held.true, "predicted": held.predicted})
            )
        write_table(pd.concat(rows, ignore_index=True), predictions)
    if search_results:
        write_table(report.results, search_results)
    if weights:
        weights_io.save(report.estimator.model_, weights)
    if fitted_model:
        archive.save(report.estimator, fitted_model)
    write_table(pd.DataFrame(report.scores), scores)
