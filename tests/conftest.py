"""Shared fixtures: the Golub files, small generated data sets, and in-process CLI runs."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import settings

# CI explores a fixed set of examples (a red CI must be reproducible); local runs explore new ones each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "test-data"


# The five longest files, longest first (pytest --durations=0, summed per file: about 200, 170, 165, 90, 85 s).
SLOWEST_FIRST = ("test_pipeline.py", "test_readme.py", "test_train_eval_distributed.py", "test_train_eval_report.py",
                 "test_search.py")


def pytest_collection_modifyitems(items):
    """Start the longest files first: xdist (--dist loadfile) gives a whole file to one worker, and a long file
    handed out last would leave the other worker idle while it runs."""
    items.sort(key=lambda item: (item.path.name not in SLOWEST_FIRST, SLOWEST_FIRST.index(item.path.name)
                                 if item.path.name in SLOWEST_FIRST else 0))


def write_tsv(path, frame, header=True):
    frame.to_csv(path, sep="\t", index=False, header=header)
    return str(path)


def invoke(main, args, input=None):
    """Run a program in-process the way a shell would (exit code, stdout, stderr kept apart)."""
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return result


@pytest.fixture(scope="session")
def golub():
    return TEST_DATA


@pytest.fixture(scope="session")
def binary_data(tmp_path_factory):
    """80 rows, 6 informative-ish features, labels 0/1 with a header."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=80, n_features=6, n_informative=4, random_state=0)
    d = tmp_path_factory.mktemp("binary")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    return {
        "x": write_tsv(d / "X.tsv", frame),
        "y": write_tsv(d / "y.tsv", pd.DataFrame({"label": y})),
        "X": X,
        "labels": y,
        "dir": d,
    }


@pytest.fixture(scope="session")
def iris_data(tmp_path_factory):
    """scikit-learn's bundled iris: 150 rows, 4 features, 3 string classes."""
    import pandas as pd
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    d = tmp_path_factory.mktemp("iris")
    X = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = pd.DataFrame({"species": iris.target_names[iris.target]})
    return {"x": write_tsv(d / "X.tsv", X), "y": write_tsv(d / "y.tsv", y), "dir": d, "frame": X, "target": y}


@pytest.fixture(scope="session")
def diabetes_data(tmp_path_factory):
    """scikit-learn's bundled diabetes regression set (442 rows, 10 features)."""
    import pandas as pd
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    d = tmp_path_factory.mktemp("diabetes")
    return {
        "x": write_tsv(d / "X.tsv", data.data),
        "y": write_tsv(d / "y.tsv", pd.DataFrame({"target": data.target})),
        "dir": d,
    }


def build_model_zip(tmp_dir, input_shape, layers, *extra):
    """build-arch + build-model in-process; returns the estimator archive path."""
    from galaxy_dl.cli import build_arch, build_model

    arch = Path(tmp_dir) / "arch.json"
    args = ["--input-shape", input_shape, "-o", arch, "--quiet"]
    for layer in layers:
        args += ["--layer", layer]
    result = invoke(build_arch.main, args)
    assert result.exit_code == 0, result.stderr
    model = Path(tmp_dir) / "model.zip"
    result = invoke(build_model.main, ["--arch", arch, "-o", model, *extra])
    assert result.exit_code == 0, result.stderr
    return str(model)


@pytest.fixture(scope="session")
def binary_model(binary_data):
    return build_model_zip(
        binary_data["dir"], "6", ['Dense(8, activation="relu")', 'Dense(1, activation="sigmoid")'],
        "--epochs", "5", "--batch-size", "16", "--seed", "1", "--optimizer", "adam", "--learning-rate", "0.01",
    )


@pytest.fixture(scope="session")
def binary_fitted(binary_data, binary_model):
    """A fitted binary estimator and weights, trained once per session."""
    from galaxy_dl.cli import train_eval

    d = binary_data["dir"]
    result = invoke(train_eval.main, [
        "--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
        "--scores", d / "scores.tsv", "--fitted-model", d / "fitted.zip", "--weights", d / "weights.h5",
    ])
    assert result.exit_code == 0, result.stderr
    return {"fitted": str(d / "fitted.zip"), "weights": str(d / "weights.h5"), "scores": str(d / "scores.tsv")}
