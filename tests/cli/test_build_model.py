import json
import zipfile

import pytest

from galaxy_dl.cli import build_model
from galaxy_dl.errors import ExitStatus
from tests.conftest import invoke


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    from galaxy_dl.cli import build_arch

    path = tmp_path_factory.mktemp("bm") / "arch.json"
    result = invoke(build_arch.main, ["--input-shape", "5", "--layer", "Dense(4)", "--layer", 'Dense(1, activation="sigmoid")', "-o", path, "--quiet"])
    assert result.exit_code == 0
    return path


def params_of(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("params.json"))


def test_flags_land_in_the_archive(arch, tmp_path):
    out = tmp_path / "model.zip"
    result = invoke(build_model.main, [
        "--arch", arch, "--loss", "binary_crossentropy", "--optimizer", "sgd", "--learning-rate", "0.05",
        "--optimizer-param", "momentum=0, nesterov=False", "--metrics", "accuracy,auc", "--metrics", "precision",
        "--epochs", "7", "--batch-size", "3", "--seed", "9", "--class-weight", "0=1,1=2.5",
        "--callback", 'EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)', "-o", out,
    ])
    assert result.exit_code == 0, result.stderr
    params = params_of(out)
    assert params["optimizer"] == "sgd"
    assert params["optimizer_params"] == {"learning_rate": 0.05, "momentum": 0, "nesterov": False}
    assert params["metrics"] == ["accuracy", "auc", "precision"]
    assert (params["epochs"], params["batch_size"], params["seed"]) == (7, 3, 9)
    assert params["class_weight"] == {"0": 1.0, "1": 2.5}
    assert params["callbacks"] == [{"class_name": "EarlyStopping", "config": {"monitor": "val_loss", "patience": 2, "restore_best_weights": True}}]


def test_same_inputs_same_bytes(arch, tmp_path):
    args = ["--arch", arch, "--epochs", "3", "--seed", "1"]
    assert invoke(build_model.main, [*args, "-o", tmp_path / "a.zip"]).exit_code == 0
    assert invoke(build_model.main, [*args, "-o", tmp_path / "b.zip"]).exit_code == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_config_file_and_flags_override(arch, tmp_path):
    config = tmp_path / "build.yml"
    config.write_text("epochs: 12\nbatch_size: 6\noptimizer: adam\noptimizer_params: {beta_1: 0.8}\n")
    out = tmp_path / "m.zip"
    assert invoke(build_model.main, ["--arch", arch, "--config", config, "--epochs", "4", "-o", out]).exit_code == 0
    params = params_of(out)
    assert (params["epochs"], params["batch_size"], params["optimizer"]) == (4, 6, "adam")
    assert params["optimizer_params"] == {"beta_1": 0.8}


def test_config_unknown_key_names_closest(arch, tmp_path):
    config = tmp_path / "build.json"
    config.write_text('{"epocs": 3}')
    result = invoke(build_model.main, ["--arch", arch, "--config", config, "-o", tmp_path / "m.zip"])
    assert result.exit_code == ExitStatus.USAGE
    assert "unknown key 'epocs' (did you mean epochs?)" in result.stderr


def test_params_out_table(arch, tmp_path):
    out = tmp_path / "params.tsv"
    assert invoke(build_model.main, ["--arch", arch, "--params-out", out, "-o", tmp_path / "m.zip"]).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "parameter\tvalue" and "task\tclassification" in lines and "epochs\t10" in lines


@pytest.mark.parametrize("args, code, message", [
    (["--loss", "categorical_crossentropy"], ExitStatus.USAGE, "needs one output unit per class"),
    (["--task", "regression", "--loss", "hinge"], ExitStatus.USAGE, "classification loss"),
    (["--optimizer", "adam", "--optimizer-param", "momentum=0.9"], ExitStatus.USAGE, "Adam takes no parameter 'momentum'"),
    (["--batch-size", "0"], ExitStatus.USAGE, "--batch-size must be a positive integer"),
    (["--class-weight", "zero"], ExitStatus.USAGE, "is not LABEL=WEIGHT"),
])
def test_incompatible_choices(arch, tmp_path, args, code, message):
    result = invoke(build_model.main, ["--arch", arch, *args, "-o", tmp_path / "m.zip"])
    assert result.exit_code == code and message in result.stderr, result.stderr
    assert not (tmp_path / "m.zip").exists()


def test_legacy_keras2_architecture(tmp_path, capsys):
    from pathlib import Path

    legacy = Path(__file__).parents[1] / "data" / "keras2_sequential.json"
    result = invoke(build_model.main, ["--arch", legacy, "-o", tmp_path / "m.zip"])
    assert result.exit_code == 0, result.stderr
    assert "converted a Keras 2.3.1 architecture" in result.stderr


def test_bad_architecture_file(tmp_path):
    bad = tmp_path / "arch.json"
    bad.write_text("[1, 2]")
    result = invoke(build_model.main, ["--arch", bad, "-o", tmp_path / "m.zip"])
    assert result.exit_code == ExitStatus.MODEL
    assert result.stderr.startswith(f"build-model: error: --arch {bad}: JSON but not a Keras model architecture")
