"""Training schemes: train/validate, train/validate/test, and k-fold cross-validation.

Splits come from scikit-learn and are seeded; scores are Keras' loss and compiled
metrics plus any scikit-learn scorer names. Each scheme returns a :class:`Report`
whose ``scores`` has one row per evaluated set.
"""

import sys
from dataclasses import dataclass, field
from typing import Any

from galaxy_dl.errors import DataError, UsageError, first_line, suggest

SPLITS = ("stratified", "shuffle", "none", "group")
SCHEMES = ("train_val", "train_val_test", "cv")
CV_KINDS = ("kfold", "stratified", "group", "repeated", "repeated_stratified")
DEFAULT_SCORING = {"classification": ("accuracy",), "regression": ("r2",)}


@dataclass(frozen=True)
class Split:
    """How to hold rows out: ``size`` is a fraction (< 1) or a row count (>= 1); or, for a group split,
    the named ``groups`` are held out whole."""

    kind: str = "stratified"
    size: float = 0.2
    groups: tuple = ()


@dataclass
class Heldout:
    """A held-out set: its rows (indices into the data), true and predicted labels, and the class
    probabilities (one column per class) of a single-label classifier, else None."""

    name: str
    rows: Any
    true: Any
    predicted: Any
    proba: Any = None


@dataclass
class Report:
    scores: list = field(default_factory=list)  # dicts: set, rows, metrics...
    heldout: list = field(default_factory=list)  # Heldout sets
    histories: list = field(default_factory=list)  # (fold name, per-epoch history); the final model's is its history_
    estimator: Any = None
    results: Any = None  # a search's table: one row per setting (galaxy_dl.runs.search)


def check_scoring(names, task: str) -> tuple[str, ...]:
    from sklearn.metrics import get_scorer_names

    names = tuple(names) or DEFAULT_SCORING[task]
    known = get_scorer_names()
    for name in names:
        if name not in known:
            raise UsageError(f"--scoring: unknown scorer {name!r}{suggest(name, known)}")
    return names


CODE_BLOCK = 1 << 20


def stratified_split(y, size, seed):
    """scikit-learn's stratified ``train_test_split`` (StratifiedShuffleSplit): the same rows for the same seed,
    sorted, at a few bytes a row.

    scikit-learn gathers each class's rows into Python lists (about 65 bytes a row at the peak: 1.3 GB for
    20 million rows), which a streamed run cannot afford. This follows its steps and its random draws one for
    one on compact arrays (class codes of 1 to 4 bytes, row numbers of 4); a test compares the two.
    """
    import numpy as np
    from sklearn.model_selection._split import _validate_shuffle_split
    from sklearn.utils import check_random_state
    from sklearn.utils.extmath import _approximate_mode

    from galaxy_dl.data.streaming import index_dtype

    y = np.asarray(y)
    n = len(y)
    n_train, n_test = _validate_shuffle_split(n, size, None, default_test_size=0.25)
    blocks = [y[start : start + CODE_BLOCK] for start in range(0, n, CODE_BLOCK)]
    classes = np.unique(np.concatenate([np.unique(block) for block in blocks]))  # no sorted copy of every label
    codes = np.empty(n, dtype=np.min_scalar_type(max(len(classes) - 1, 0)))
    for start, block in zip(range(0, n, CODE_BLOCK), blocks, strict=True):
        codes[start : start + len(block)] = np.searchsorted(classes, block)
    counts = np.bincount(codes, minlength=len(classes))
    if counts.min() < 2:
        raise ValueError(
            "The least populated classes in y have only 1 member, which is too few. The minimum number "
            f"of groups for any class cannot be less than 2. Classes with too few members are: "
            f"{classes[counts < 2].tolist()}"
        )
    if n_train < len(classes):
        raise ValueError(
            f"The train_size = {n_train} should be greater or equal to the number of classes = {len(classes)}"
        )
    if n_test < len(classes):
        raise ValueError(
            f"The test_size = {n_test} should be greater or equal to the number of classes = {len(classes)}"
        )
    rng = check_random_state(seed)
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    dtype = index_dtype(n)
    kept: Any = []
    held: Any = []
    for i in range(len(classes)):
        members = np.concatenate(
            [
                (np.flatnonzero(codes[start : start + CODE_BLOCK] == i) + start).astype(dtype)
                for start in range(0, n, CODE_BLOCK)
            ]
        )  # the class's rows in order, as a stable argsort has them
        order = members.take(
            rng.permutation(np.arange(counts[i], dtype=dtype)), mode="clip"
        )  # permutation(count)'s draws
        del members
        kept.append(order[: n_i[i]])
        held.append(order[n_i[i] : n_i[i] + t_i[i]])
    kept, held = np.concatenate(kept), np.concatenate(held)
    if seed is None:  # the shared generator: draw what scikit-learn draws after the split
        kept, held = rng.permutation(kept), rng.permutation(held)
    kept.sort()
    held.sort()
    return kept, held


def holdout(split: Split, y, groups, seed: int | None, what: str):
    """Indices (kept, held out) for one split of ``len(y)`` rows."""
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    from galaxy_dl.data.streaming import index_dtype

    n = len(y)
    size = split.size if split.size < 1 else int(split.size)
    rows = np.arange(n, dtype=index_dtype(n))  # compact: the split's indices are what grows with the rows
    if split.groups:
        if groups is None:
            raise UsageError(f"{what}: holding out named groups needs --groups or --groups-column")
        names = np.asarray(groups).astype(str)
        present = set(names.tolist())
        missing = [g for g in split.groups if g not in present]
        if missing:
            raise DataError(f"{what}: no rows in group {missing[0]!r}{suggest(missing[0], sorted(present))}")
        held_mask = np.isin(names, list(split.groups))
        if held_mask.all():
            raise DataError(f"{what}: the named groups are every row; nothing is left to train on")
        return rows[~held_mask], rows[held_mask]
    try:
        if split.kind == "group":
            if groups is None:
                raise UsageError(f"{what}: a group split needs --groups")
            splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
            kept, held = next(splitter.split(rows, y, groups))
        elif split.kind == "stratified":
            kept, held = stratified_split(y, size, seed)
        else:
            kept, held = train_test_split(
                rows, test_size=size, shuffle=split.kind != "none", random_state=seed if split.kind != "none" else None
            )
    except ValueError as exc:
        raise DataError(f"{what}: cannot split {n} rows ({split.kind}, size {split.size}): {first_line(exc)}") from None
    return np.sort(kept), np.sort(held)


def score(estimator, X, y, name: str, scoring) -> dict:
    from sklearn.metrics import get_scorer

    from galaxy_dl.model.estimator import label_column

    row = {"set": name, "rows": len(y)}
    row.update(estimator.evaluate(X, y))
    for prefix, view, column in estimator.output_views():  # one view per output of a multi-output model
        y_view = y if column is None else label_column(y, column)
        for scorer_name in scoring:
            try:
                row[prefix + scorer_name] = float(get_scorer(scorer_name)(view, X, y_view))
            except ValueError as exc:
                row[prefix + scorer_name] = float("nan")
                print(f"warning: {prefix + scorer_name} on {name}: {first_line(exc)}", file=sys.stderr)
    return row


def _heldout(estimator, X, y, rows, name) -> Heldout:
    """What the report and --predictions-out show of a held-out set; probabilities in float32, as the model gives
    them (with cross-validation every row is held out once, so these grow with the rows)."""
    predicted, proba = estimator.predict_with_proba(X)
    return Heldout(name, rows, y, predicted, None if proba is None else proba.astype("float32"))


def train_val(estimator, X, y, *, split: Split, scoring, groups=None, test_split: Split | None = None) -> Report:
    """Fit on the kept rows with the validation holdout as validation data; score each set.

    With ``test_split``, a test holdout is taken first and scored only after fitting.
    """
    report = Report()
    seed = estimator.seed
    test = None
    if test_split is None:
        train_rows, val_rows = holdout(split, y, groups, seed, "--split")
    else:
        rows, test = holdout(test_split, y, groups, seed, "--test-split")
        kept, val = holdout(split, y[rows], groups[rows] if groups is not None else None, seed, "--split")
        train_rows, val_rows = rows[kept], rows[val]
    estimator.fit(X[train_rows], y[train_rows], validation_data=(X[val_rows], y[val_rows]))
    sets = [("train", train_rows), ("validation", val_rows)]
    if test is not None:
        sets.append(("test", test))
    for name, idx in sets:
        report.scores.append(score(estimator, X[idx], y[idx], name, scoring))
        if name != "train":
            report.heldout.append(_heldout(estimator, X[idx], y[idx], idx, name))
    report.estimator = estimator
    return report


def _cv_splitter(kind: str, folds: int, repeats: int, seed):
    from sklearn import model_selection as ms

    if kind == "kfold":
        return ms.KFold(n_splits=folds, shuffle=True, random_state=seed)
    if kind == "stratified":
        return ms.StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if kind == "group":
        return ms.GroupKFold(n_splits=folds)
    if kind == "repeated":
        return ms.RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    if kind == "repeated_stratified":
        return ms.RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    raise UsageError(f"--cv: unknown kind {kind!r}{suggest(kind, CV_KINDS)}")


def cv_splits(kind: str, folds: int, repeats: int, seed, X, y, groups=None) -> list:
    """(training rows, held-out rows) of every fold, drawn once (seeded)."""
    if kind == "group" and groups is None:
        raise UsageError("--cv group needs --groups")
    from galaxy_dl.data.streaming import index_dtype

    dtype = index_dtype(len(y))
    try:  # every fold's rows are kept for the run: 4 bytes a row each, not scikit-learn's 8
        return [
            (train.astype(dtype), test.astype(dtype))
            for train, test in _cv_splitter(kind, folds, repeats, seed).split(X, y, groups)
        ]
    except ValueError as exc:
        raise DataError(f"cannot make {folds} folds of {len(y)} rows: {first_line(exc)}") from None


def summary(fold_rows: list) -> list:
    """The mean and std rows under the folds' rows (a fold's NaN, a scorer that failed there, is left out)."""
    import numpy as np

    metrics = [k for k in fold_rows[0] if k not in ("set", "rows")]
    rows = []
    for name, fn in (("mean", np.nanmean), ("std", np.nanstd)):
        row = {"set": name, "rows": int(np.mean([r["rows"] for r in fold_rows]))}
        row.update({m: float(fn([r[m] for r in fold_rows])) for m in metrics})
        rows.append(row)
    return rows


def cross_validate(
    estimator, X, y, *, kind: str, folds: int, repeats: int, scoring, groups=None, refit: bool = True
) -> Report:
    """Score every fold on its held-out rows, add mean and std rows, then optionally refit on all rows."""
    from sklearn.base import clone

    report = Report()
    splits = cv_splits(kind, folds, repeats, estimator.seed, X, y, groups)
    for i, (train_rows, test_rows) in enumerate(splits, start=1):
        fold = clone(estimator).fit(X[train_rows], y[train_rows])
        report.histories.append((f"fold{i}", fold.history_))
        report.scores.append(score(fold, X[test_rows], y[test_rows], f"fold{i}", scoring))
        report.heldout.append(_heldout(fold, X[test_rows], y[test_rows], test_rows, f"fold{i}"))
    report.scores += summary(report.scores)
    if refit:
        report.estimator = clone(estimator).fit(X, y)
        report.scores.append(score(report.estimator, X, y, "refit_train", scoring))
    return report
