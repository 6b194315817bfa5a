"""train-eval --search through the CLI: outputs, reproducibility over runs and --jobs, and the bad-input battery."""

import pandas as pd
import pytest

from galaxy_dl.cli import build_model, train_eval
from tests.conftest import invoke

RANDOM = ["--search", "random", "--n-iter", "2", "--param", "dense.units=randint(2, 9)",
          "--param", "learning_rate=loguniform(1e-3, 1e-1)", "--folds", "2"]


def search(binary_data, binary_model, out, *extra):
    out.mkdir(exist_ok=True)
    result = invoke(train_eval.main, [
        "--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", out / "scores.tsv",
        "--search-results", out / "results.tsv", "--fitted-model", out / "fitted.zip", "--weights", out / "weights.h5",
        *extra])
    return result


@pytest.fixture(scope="module")
def runs(binary_data, binary_model, tmp_path_factory):
    """The same random search twice in this process: once here, once in two worker processes."""
    root = tmp_path_factory.mktemp("search")
    for name, jobs in (("first", "1"), ("workers", "2")):
        result = search(binary_data, binary_model, root / name, *RANDOM, "--jobs", jobs)
        assert result.exit_code == 0, result.stderr
    return root


def test_outputs_of_a_search(runs):
    results = pd.read_csv(runs / "first" / "results.tsv", sep="\t", keep_default_na=False)
    assert list(results.columns) == ["rank", "setting", "dense.units", "learning_rate", "mean_accuracy", "std_accuracy",
                                     "mean_loss", "std_loss", "fit_time_s", "error"]
    assert len(results) == 2 and results["mean_accuracy"].iloc[0] == results["mean_accuracy"].max()
    scores = pd.read_csv(runs / "first" / "scores.tsv", sep="\t")
    assert scores["set"].tolist() == ["fold1", "fold2", "mean", "std", "refit_train"]
    assert scores.loc[scores["set"] == "mean", "accuracy"].item() == pytest.approx(results["mean_accuracy"].iloc[0])


def test_same_seed_same_outputs_whatever_the_jobs(runs):
    """The second run follows the first in the same process (Keras' per-process counters must not leak into the
    files) and trains in worker processes, one thread each."""
    for output in ("scores.tsv", "fitted.zip", "weights.h5"):
        assert (runs / "workers" / output).read_bytes() == (runs / "first" / output).read_bytes(), output
    timeless = [pd.read_csv(runs / run / "results.tsv", sep="\t").drop(columns="fit_time_s").to_csv(sep="\t")
                for run in ("first", "workers")]
    assert timeless[0] == timeless[1]  # byte for byte, but for the fit times


def test_params_out_shows_the_chosen_values(runs, tmp_path):
    result = invoke(build_model.main, ["--from", runs / "first" / "fitted.zip", "-o", tmp_path / "copy.zip",
                                       "--params-out", tmp_path / "params.tsv"])
    assert result.exit_code == 0, result.stderr
    params = pd.read_csv(tmp_path / "params.tsv", sep="\t").set_index("parameter")["value"]
    best = pd.read_csv(runs / "first" / "results.tsv", sep="\t")["dense.units"].iloc[0]
    assert params["search: dense.units"] == str(best)


def test_list_params_needs_only_the_model(binary_model):
    result = invoke(train_eval.main, ["--model", binary_model, "--list-params"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "parameter\tvalue\tof"
    assert "dense.units\t8\tlayer Dense" in lines and "learning_rate\t0.01\toptimizer Adam" in lines


@pytest.mark.parametrize("extra, message, status", [
    (["--search", "grid", "--param", "dense.unit=2,4"], "--param dense.unit: no such parameter (closest: dense.units", 2),
    (["--search", "grid", "--param", "dense_1.units=abc"], "--param dense_1.units: abc is not a whole number", 2),
    (["--search", "grid", "--param", "learning_rate=-1"], "the learning rate must be a positive number, not -1", 2),
    (["--search", "grid", "--param", "learning_rate=loguniform(1e-4, 1e-1)"], "grid search takes lists of values", 2),
    (["--search", "halving", "--param", "dense.units=2,4", "--halving-factor", "6"], "the estimator trains 5 epoch(s); halving needs", 2),
    (["--search", "halving", "--param", "epochs=3,9"], "--param epochs: halving gives settings more epochs", 2),
    (["--search", "grid", "--param", "dense.units="], "--param dense.units: no values given", 2),
    (["--search", "random", "--param", "dense.units=2,4", "--n-iter", "0"], "--n-iter", 2),
    (["--search", "grid"], "--search needs at least one --param", 2),
    (["--param", "dense.units=2,4"], "--param applies to --search", 2),
    (["--search", "grid", "--param", "dense.units=2,4", "--n-iter", "3"], "--n-iter applies to --search random", 2),
    (["--search", "grid", "--param", "dense.units=2,4", "--distribute"], "run it without --distribute", 2),
    (["--search", "grid", "--param", "dense.units=2,4", "--predictions-out", "p.tsv"], "keeps no fold models", 2),
    (["--search", "grid", "--param", "class_weight={0: 1}", "--folds", "2"],
     "every setting failed; the first: --class-weight gives no weight for classes ['1']", 5),
])
def test_bad_search_input(binary_data, binary_model, tmp_path, extra, message, status):
    result = search(binary_data, binary_model, tmp_path, *extra)
    assert result.exit_code == status, result.stderr
    errors = [line for line in result.stderr.splitlines() if "rror:" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_a_streamed_table_is_searched_from_its_row_cache(binary_data, binary_model, tmp_path):
    result = search(binary_data, binary_model, tmp_path, "--stream", "--search", "grid", "--param", "dense.units=2,8",
                    "--folds", "2")
    assert result.exit_code == 0, result.stderr
    assert "streamed from a float32 row cache" in result.stderr
    results = pd.read_csv(tmp_path / "results.tsv", sep="\t")
    assert sorted(results["dense.units"]) == [2, 8] and results["mean_accuracy"].notna().all()
    result = search(binary_data, binary_model, tmp_path / "jobs", "--stream", "--search", "grid", "--param",
                    "dense.units=2,8", "--jobs", "2")
    assert result.exit_code == 2 and "a streamed table is searched in one process" in result.stderr


def test_no_refit_leaves_no_model_to_write(binary_data, binary_model, tmp_path):
    result = search(binary_data, binary_model, tmp_path, "--search", "grid", "--param", "dense.units=2,8", "--no-refit")
    assert result.exit_code == 2 and "--no-refit leaves no final model" in result.stderr
