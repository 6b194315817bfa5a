import numpy as np
import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import TrainingError, UsageError
from galaxy_dl.runs.search import results_layout


@pytest.fixture(scope="module", autouse=True)
def keras():
    runtime.configure()
    return runtime.import_keras()


@pytest.fixture(scope="module")
def data(binary_data):
    from galaxy_dl.data.tables import TableSpec
    from galaxy_dl.runs.training import TrainingData

    return TrainingData.read(TableSpec(binary_data["x"], option="--x"), TableSpec(binary_data["y"], option="--y"))


def estimator(**params):
    import json

    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.estimator import make_estimator
    from galaxy_dl.model.layerspec import parse_layer

    layers = ["Normalization()", 'Dense(8, activation="relu")', 'Dense(1, activation="sigmoid")']
    architecture = json.loads(to_json(build_sequential((6,), [parse_layer(s) for s in layers])))
    params = {"optimizer": "adam", "epochs": 4, "batch_size": 16, "seed": 3, "verbose": 0, **params}
    return make_estimator("classification", architecture=architecture, **params)


def search(data, params, **options):
    from galaxy_dl.runs.search import run_search

    return run_search(estimator(**options.pop("estimator", {})), data, params, **{"folds": 2, **options})


@pytest.fixture(scope="module")
def grid(data):
    return search(data, ["dense.units=2,8", "learning_rate=0.001,0.05"], scoring=["accuracy", "roc_auc"],
                  refit_metric="roc_auc")


def test_grid_tries_every_setting_and_keeps_the_best(grid):
    table = grid.results
    assert sorted(zip(table["dense.units"], table["learning_rate"], strict=True)) == [(2, 0.001), (2, 0.05), (8, 0.001), (8, 0.05)]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["mean_roc_auc"].iloc[0] == table["mean_roc_auc"].max()  # the refit metric chooses
    assert list(table.columns[:5]) == ["rank", "setting", "dense.units", "learning_rate", "mean_roc_auc"]
    best = table.iloc[0]
    assert grid.estimator.best_params_ == {"dense.units": best["dense.units"], "learning_rate": best["learning_rate"]}
    assert grid.estimator.model_.layers[1].units == best["dense.units"]
    assert grid.estimator.optimizer_params == {"learning_rate": best["learning_rate"]}


def test_the_scores_are_the_best_settings_folds(grid):
    sets = [row["set"] for row in grid.scores]
    assert sets == ["fold1", "fold2", "mean", "std", "refit_train"]
    folds = [row for row in grid.scores if row["set"].startswith("fold")]
    assert sum(row["rows"] for row in folds) == 80
    assert np.mean([row["roc_auc"] for row in folds]) == pytest.approx(grid.results["mean_roc_auc"].iloc[0])
    assert list(grid.scores[0])[:3] == ["set", "rows", "loss"]  # as the cv scheme's table


def test_random_search_draws_from_the_distributions(data):
    report = search(data, ["dense.units=randint(2, 9)", "learning_rate=loguniform(1e-3, 1e-1)"], search="random",
                    n_iter=2, refit=False)  # the CLI tests draw twice with one seed and compare
    assert len(report.results) == 2 and report.results["dense.units"].between(2, 8).all()
    assert report.results["learning_rate"].between(1e-3, 1e-1).all() and report.results["learning_rate"].nunique() == 2
    assert report.estimator is None  # without refit there is no final model


def test_halving_gives_the_survivors_more_epochs(data):
    report = search(data, ["dense.units=1,4,16"], search="halving", factor=3, estimator={"epochs": 6}, scheme="train_val")
    table = report.results
    assert table.groupby("round")["epochs"].first().to_dict() == {1: 2, 2: 6}
    assert (table["round"] == 1).sum() == 3 and (table["round"] == 2).sum() == 1
    best = table.iloc[0]
    assert best["round"] == 2 and best["mean_accuracy"] == table.loc[table["round"] == 2, "mean_accuracy"].max()
    assert report.estimator.best_params_ == {"dense.units": best["dense.units"], "epochs": 6}
    assert len(report.estimator.history_["loss"]) == 6
    assert results_layout(table) == (["dense.units"], "accuracy")  # halving's epochs column is not a searched name


def test_results_layout_reads_the_searched_names_even_epochs(grid):
    from galaxy_dl.runs.search import _params, results_table

    assert results_layout(grid.results) == (["dense.units", "learning_rate"], "roc_auc")
    cv = {"params": [{"epochs": 5}, {"epochs": 10}], "mean_test_accuracy": [0.5, 0.75], "std_test_accuracy": [0.1, 0.0],
          "mean_fit_time": [1.0, 2.0], "error": ["", ""]}
    table, best = results_table(cv, _params(["epochs=5,10"]), "accuracy")  # a grid search over epochs itself
    assert best == 1 and results_layout(table) == (["epochs"], "accuracy")


def test_a_failed_setting_is_a_row_with_its_error(data):
    report = search(data, ["class_weight=None, {0: 1}"])
    failed = report.results[report.results["error"] != ""]
    assert failed["class_weight"].tolist() == ["{0: 1}"]
    assert failed["error"].item() == "--class-weight gives no weight for classes ['1']"
    assert np.isnan(failed["mean_accuracy"].item())
    assert report.results.iloc[0]["class_weight"] == "None" and report.estimator.class_weight is None


def test_a_nan_loss_fails_only_its_setting(data):
    report = search(data, ["learning_rate=0.01, 1e30"], refit=False)
    failed = report.results[report.results["error"] != ""]
    assert failed["learning_rate"].tolist() == [1e30]
    assert failed["error"].item().startswith("the training loss became nan at epoch")
    assert report.results.iloc[0]["learning_rate"] == 0.01 and report.results.iloc[0]["mean_accuracy"] > 0.5


def test_every_setting_failing_is_a_training_error(data):
    with pytest.raises(TrainingError, match=r"every setting failed; the first: --class-weight gives no weight"):
        search(data, ["class_weight={0: 1}, {1: 2}"])


def test_a_holdout_scheme_scores_settings_on_the_validation_rows(data):
    report = search(data, ["dense.units=2,8"], scheme="train_val_test")
    assert [row["set"] for row in report.scores] == ["train", "validation", "test"]
    validation = next(row for row in report.scores if row["set"] == "validation")
    assert validation["accuracy"] == pytest.approx(report.results["mean_accuracy"].iloc[0])  # the refit is the fit scored
    assert (report.results["std_accuracy"] == 0).all()  # one split
    assert {held.name for held in report.heldout} == {"validation", "test"}


@pytest.mark.parametrize("params, options, message", [
    (["dense.units=uniform(1, 9)"], {}, "is a distribution; grid search takes lists"),
    (["epochs=2,4"], {"search": "halving"}, "halving gives settings more epochs"),
    (["dense.units=2,4"], {"search": "halving", "estimator": {"epochs": 2}}, "needs at least --halving-factor"),
    (["dense.units=2,4"], {"refit_metric": "roc_auc"}, "--refit-metric roc_auc: not one of the --scoring metrics"),
    ([], {}, "needs at least one --param"),
])
def test_searches_that_cannot_run_are_refused(data, params, options, message):
    with pytest.raises(UsageError, match=message):
        search(data, params, **options)
