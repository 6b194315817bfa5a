"""train-eval --search: many settings of one estimator scored on the scheme's splits; the best is refitted.

scikit-learn searches: GridSearchCV, RandomizedSearchCV, and successive halving with epochs as the resource
(HalvingGridSearchCV / HalvingRandomSearchCV), over the names of :mod:`galaxy_dl.runs.searchspace`. This module
gives them the scheme's splits and the scheme's scores, keeps each failed setting's error, runs settings in
worker processes (one thread each), and turns ``cv_results_`` into the results table.
"""

import contextlib
import re
import sys
import time
import warnings

from galaxy_dl.errors import TrainingError, UsageError
from galaxy_dl.limits import DEFAULT_MAX_SETTINGS
from galaxy_dl.runs.schemes import SCHEMES, Report, Split, check_scoring, cv_splits, holdout, score, summary
from galaxy_dl.runs.searchspace import Param, parse, parse_values, prepare

SEARCHES = ("grid", "random", "halving")


def run_search(
    estimator,
    data,
    params,
    *,
    search: str = "grid",
    n_iter: int = 10,
    factor: int = 3,
    jobs: int = 1,
    refit_metric: str | None = None,
    scheme: str = "cv",
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
    max_settings: int = DEFAULT_MAX_SETTINGS,
) -> Report:
    """Search ``params`` (``NAME=VALUES`` texts, :class:`~galaxy_dl.runs.searchspace.Param`s, or a dict of name to
    values or to a values text) for ``estimator`` on ``data``.

    Settings are scored on the scheme's splits: every fold with ``scheme="cv"``, the validation holdout
    otherwise. The report's ``scores`` are the best setting's as the scheme writes them (its folds, mean and
    std, and the refit on all rows; or its train, validation and test rows), ``results`` the table of every
    setting, and ``estimator`` the best setting refitted, with the chosen values in ``best_params_``.
    """
    import numpy as np
    from sklearn.base import clone

    from galaxy_dl.data.streaming import is_lazy
    from galaxy_dl.runs.training import label_errors, name_columns, run_scheme, settle

    if search not in SEARCHES:
        raise UsageError(f"--search must be one of {', '.join(SEARCHES)}, not {search!r}")
    if scheme not in SCHEMES:
        raise UsageError(f"--scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    if n_iter < 1 or jobs < 1:
        raise UsageError(f"--{'n-iter' if n_iter < 1 else 'jobs'} must be at least 1")
    if estimator.seed is None:  # the search's splits, draws and refit must agree with each other
        estimator = clone(estimator).set_params(seed=int(np.random.default_rng().integers(2**31 - 1)))
        print(f"note: no seed given; the search uses seed {estimator.seed}", file=sys.stderr)
    space = _params(params)
    _check_search(search, space, estimator, factor)
    _check_size(search, space, n_iter, max_settings)
    space = prepare(estimator, space)
    scoring = check_scoring(scoring, estimator.task)
    refit_metric = refit_metric or scoring[0]
    if refit_metric not in scoring:
        raise UsageError(f"--refit-metric {refit_metric}: not one of the --scoring metrics ({', '.join(scoring)})")
    if jobs > 1 and is_lazy(data.X):
        raise UsageError(
            "--jobs: a streamed table is searched in one process (its row cache is this process's): use --jobs 1"
        )
    split, cv_kind = settle(estimator, data, scheme, split, cv_kind, val_groups, test_groups)
    splits = _splits(
        estimator, data, scheme, split, val_size, test_size, cv_kind, folds, repeats, val_groups, test_groups
    )
    searcher = _searcher(search, estimator, space, splits, scoring, refit_metric, n_iter, factor, jobs)
    started = time.monotonic()
    with label_errors(data), _quiet(), _worker_threads(jobs):
        try:
            searcher.fit(data.X, data.y)
        except ValueError as exc:
            if "fits failed" not in str(exc):
                raise
            raise TrainingError(f"every setting failed; the first: {_first_failure(str(exc))}") from None
    cv = searcher.cv_results_
    table, best = results_table(cv, space, refit_metric, halving=search == "halving")
    _tell(table, cv, space, best, len(splits), time.monotonic() - started)
    chosen = dict(cv["params"][best])
    winner = clone(estimator).set_params(**chosen)
    best_params = {name: _label(space, name, value) for name, value in chosen.items()}
    if scheme == "cv":
        report = Report(scores=_fold_rows(cv, best, splits, refit_metric))
        report.scores += summary(report.scores)
        if refit:
            with label_errors(data):
                report.estimator = winner.fit(data.X, data.y)
            report.scores.append(score(winner, data.X, data.y, "refit_train", scoring))
            name_columns(winner, data)
    else:
        report = run_scheme(
            winner,
            data,
            scheme=scheme,
            split=split,
            val_size=val_size,
            test_size=test_size,
            scoring=scoring,
            val_groups=val_groups,
            test_groups=test_groups,
        )
    if report.estimator is not None:
        report.estimator.best_params_ = best_params
    report.results = table
    return report


def _params(params) -> list[Param]:
    if isinstance(params, dict):
        return [
            parse_values(name, values if isinstance(values, str) else ", ".join(map(repr, values)))
            for name, values in params.items()
        ]
    return [param if isinstance(param, Param) else parse(param) for param in params]


def _check_search(search: str, space: list[Param], estimator, factor: int) -> None:
    if not space:
        raise UsageError("--search needs at least one --param NAME=VALUES")
    for param in space:
        if search == "grid" and param.distribution is not None:
            raise UsageError(
                f"--param {param.name}: {param.distribution} is a distribution; grid search takes "
                "lists of values (use --search random, or halving)"
            )
    if search == "halving":
        if any(param.name == "epochs" for param in space):
            raise UsageError(
                "--param epochs: halving gives settings more epochs round by round; search other parameters"
            )
        if factor < 2:
            raise UsageError(f"--halving-factor must be at least 2, not {factor}")
        if estimator.epochs < factor:
            raise UsageError(
                f"--search halving: the estimator trains {estimator.epochs} epoch(s); halving needs at "
                f"least --halving-factor ({factor}): build the model with the most epochs a setting may get"
            )


def _splits(
    estimator, data, scheme, split, val_size, test_size, cv_kind, folds, repeats, val_groups, test_groups
) -> list:
    """The (training rows, scored rows) on which every setting is scored."""
    import numpy as np

    if scheme == "cv":
        return cv_splits(cv_kind, folds, repeats, estimator.seed, data.X, data.y, data.groups)
    rows = np.arange(len(data.y))
    if scheme == "train_val_test":
        rows, _ = holdout(
            Split(split, test_size, tuple(test_groups)), data.y, data.groups, estimator.seed, "--test-split"
        )
    groups = data.groups[rows] if data.groups is not None else None
    kept, val = holdout(Split(split, val_size, tuple(val_groups)), data.y[rows], groups, estimator.seed, "--split")
    return [(rows[kept], rows[val])]


class Scorer:
    """The scheme's scores of one setting on one split (Keras' loss and metrics, then scikit-learn's), as
    scikit-learn's callable scoring; with ``only``, that one score (successive halving takes one metric).
    Several outputs' scores for the refit metric are also averaged under its own name."""

    def __init__(self, scoring, refit_metric: str, only: bool = False):
        self.scoring, self.refit_metric, self.only = tuple(scoring), refit_metric, only

    def __call__(self, estimator, X, y):
        row = score(estimator, X, y, "", self.scoring)
        values = {k: v for k, v in row.items() if k not in ("set", "rows")}
        if self.refit_metric not in values:
            import numpy as np

            values[self.refit_metric] = float(
                np.mean([v for k, v in values.items() if k.endswith("_" + self.refit_metric)])
            )
        return values[self.refit_metric] if self.only else values


class _KeepsErrors:
    """scikit-learn reports failed fits only as one warning for the whole search: keep each setting's first
    error in ``cv_results_["error"]`` (from the per-fit results it formats)."""

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        results = super()._format_results(candidate_params, n_splits, out, more_results)  # type: ignore[misc]  # a mixin before BaseSearchCV
        errors = []
        for i in range(len(candidate_params)):
            failures = [o.get("fit_error") for o in out[i * n_splits : (i + 1) * n_splits] if o.get("fit_error")]
            errors.append(_last_line(failures[0]) if failures else "")
        results["error"] = errors
        return results


def _search_classes() -> dict:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the halving classes importable)
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV

    return {
        name: type(cls.__name__, (_KeepsErrors, cls), {})
        for name, cls in (
            ("grid", GridSearchCV),
            ("random", RandomizedSearchCV),
            ("halving_grid", HalvingGridSearchCV),
            ("halving_random", HalvingRandomSearchCV),
        )
    }


def _check_size(search: str, space: list[Param], n_iter: int, max_settings: int) -> None:
    """A search's settings are counted before any is made: a grid's product, or the draws of a random one."""
    import math

    grid = math.prod(len(param.values) for param in space) if all(p.distribution is None for p in space) else None
    settings = grid if grid is not None and search in ("grid", "halving") else n_iter
    if search == "random" and grid is not None:
        settings = min(n_iter, grid)  # scikit-learn draws lists without replacement
    if settings > max_settings:
        raise UsageError(
            f"the search would try {settings:,} settings, more than the limit of {max_settings:,} "
            "(raise it with --max-settings)"
        )


def _searcher(search, estimator, space, splits, scoring, refit_metric, n_iter, factor, jobs):
    import numpy as np
    from sklearn.base import clone

    classes = _search_classes()
    base = clone(estimator).set_params(verbose=0)  # a line per epoch of every fit would bury the search's own notes
    random = any(param.distribution is not None for param in space)
    space_dict = {
        param.name: param.distribution.frozen() if param.distribution else list(param.values) for param in space
    }
    common = {"cv": splits, "n_jobs": jobs, "refit": False, "error_score": np.nan}
    if search == "halving":
        common.update(
            scoring=Scorer(scoring, refit_metric, only=True),
            resource="epochs",
            factor=factor,
            max_resources=int(estimator.epochs),
            min_resources="exhaust",
        )
        if random:
            return classes["halving_random"](
                base, space_dict, n_candidates=n_iter, random_state=estimator.seed, **common
            )
        return classes["halving_grid"](base, space_dict, **common)
    common["scoring"] = Scorer(scoring, refit_metric)
    if search == "random":
        return classes["random"](base, space_dict, n_iter=n_iter, random_state=estimator.seed, **common)
    return classes["grid"](base, space_dict, **common)


SETTING_COLUMNS = ("rank", "setting")  # a results row starts with these, then HALVING_COLUMNS (halving), the values
HALVING_COLUMNS = ("round", "epochs")


def results_layout(results) -> tuple[list, str]:
    """A results table's searched names (the values' columns) and the metric that ranked it (the first mean).
    Positional: a grid or random search may search ``epochs`` itself, halving's resource column."""
    columns = list(results.columns)
    fixed = len(SETTING_COLUMNS) + (len(HALVING_COLUMNS) if "round" in columns else 0)
    first_score = next(i for i, column in enumerate(columns) if column.startswith("mean_"))
    return columns[fixed:first_score], columns[first_score].removeprefix("mean_")


def results_table(cv: dict, space: list[Param], refit_metric: str, halving: bool = False):
    """One row per setting (per round, for halving), best first: rank, the values, mean and std of every
    score, fit time, error; and the index of the best setting in ``cv``."""
    import numpy as np
    import pandas as pd

    n = len(cv["params"])
    metrics = sorted(
        (key.removeprefix("mean_test_") for key in cv if key.startswith("mean_test_")),
        key=lambda m: m not in ("score", refit_metric),
    )  # the metric that ranks them first
    rounds = np.asarray(cv.get("iter", np.zeros(n, dtype=int)))
    key = "score" if "mean_test_score" in cv else refit_metric
    chosen = np.asarray(cv[f"mean_test_{key}"], dtype=float)
    order = sorted(range(n), key=lambda i: (-rounds[i], -chosen[i] if np.isfinite(chosen[i]) else np.inf, i))
    rows = []
    for rank, i in enumerate(order, start=1):
        row: dict[str, object] = dict(zip(SETTING_COLUMNS, (rank, i + 1), strict=True))
        if halving:
            row.update(zip(HALVING_COLUMNS, (int(rounds[i]) + 1, int(cv["n_resources"][i])), strict=True))
        row.update({param.name: _cell(_label(space, param.name, cv["params"][i][param.name])) for param in space})
        for metric in metrics:
            name = refit_metric if metric == "score" else metric
            row[f"mean_{name}"] = float(cv[f"mean_test_{metric}"][i])
            row[f"std_{name}"] = float(cv[f"std_test_{metric}"][i])
        row["fit_time_s"] = round(float(cv["mean_fit_time"][i]), 3)
        row["error"] = cv["error"][i]
        rows.append(row)
    best = order[0]
    if not np.isfinite(chosen[best]):
        raise TrainingError(
            "no setting could be scored on every split: see the errors with --search-results"
            if not cv["error"][best]
            else f"no setting succeeded; the best one failed: {cv['error'][best]}"
        )
    return pd.DataFrame(rows), best


def _cell(value):
    """None as a word in the results table (an empty cell would read as missing)."""
    return "None" if value is None else value


def _label(space: list[Param], name: str, value):
    for param in space:
        if param.name == name:
            return param.label(value)
    return value  # halving's epochs


def _fold_rows(cv, best, splits, refit_metric) -> list:
    """The best setting's scores on each split, as the cv scheme's fold rows."""
    metrics = sorted(
        (key.removeprefix("mean_test_") for key in cv if key.startswith("mean_test_")), key=lambda m: m != "loss"
    )  # as the cv scheme's table: loss first
    rows = []
    for i, (_, scored) in enumerate(splits):
        row = {"set": f"fold{i + 1}", "rows": len(scored)}
        row.update({refit_metric if m == "score" else m: float(cv[f"split{i}_test_{m}"][best]) for m in metrics})
        rows.append(row)
    return rows


def _tell(table, cv, space, best, n_splits, seconds) -> None:
    failed = table[table["error"] != ""]
    for _, row in failed.iterrows():
        values = ", ".join(f"{p.name}={row[p.name]}" for p in space)
        print(f"warning: setting {row['setting']} ({values}) failed: {row['error']}", file=sys.stderr)
    values = ", ".join(f"{name}={value}" for name, value in table.iloc[0].items() if name in {p.name for p in space})
    print(
        f"note: searched {len(cv['params'])} settings x {n_splits} split(s) in {seconds:.1f} s; best: {values}",
        file=sys.stderr,
    )


def _last_line(traceback_text: str) -> str:
    """A fit's error from scikit-learn's formatted traceback: its last line, without the exception's class."""
    line = traceback_text.strip().splitlines()[-1] if traceback_text.strip() else "failed"
    return re.sub(r"^[\w.]+: ", "", line)


def _first_failure(message: str) -> str:
    """The first error in scikit-learn's "All the N fits failed" message."""
    blocks = [block for block in message.split("-" * 20) if "Traceback" in block]
    return _last_line(blocks[0].rstrip("- \n")) if blocks else message.strip().splitlines()[0]


@contextlib.contextmanager
def _quiet():
    """scikit-learn's warnings about failed fits and NaN scores: the results table has them, per setting."""
    from sklearn.exceptions import FitFailedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        yield


def _worker_threads(jobs: int):
    """Worker processes (joblib's loky, started inside) get one thread per pool: ``jobs`` of them share the CPUs."""
    from galaxy_dl.runtime import child_threads

    return child_threads(1) if jobs > 1 else contextlib.nullcontext()
