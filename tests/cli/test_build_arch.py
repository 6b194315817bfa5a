import json

from galaxy_dl.cli import build_arch
from galaxy_dl.errors import ExitStatus
from tests.conftest import invoke


def test_tutorial_architecture(tmp_path):
    out = tmp_path / "arch.json"
    result = invoke(build_arch.main, ["--input-shape", "7129", "--layer", 'Dense(16, activation="elu")',
                                      "--layer", 'Dense(16, activation="elu")', "--layer", 'Dense(1, activation="sigmoid")', "-o", out])
    assert result.exit_code == 0, result.stderr
    config = json.loads(out.read_text())
    assert config["class_name"] == "Sequential"
    assert [layer["class_name"] for layer in config["config"]["layers"]] == ["InputLayer", "Dense", "Dense", "Dense"]
    assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, 7129]
    assert "Total params: 114,369" in result.stderr


def test_spec_file_builds_a_graph(tmp_path):
    spec = tmp_path / "graph.yml"
    spec.write_text(
        "inputs:\n  - {name: a, shape: [3]}\n  - {name: b, shape: [2]}\n"
        "layers:\n  - {name: da, layer: 'Dense(4)', inputs: a}\n  - {name: m, layer: 'Concatenate()', inputs: [da, b]}\n"
        "  - {name: out, layer: 'Dense(1, activation=\"sigmoid\")'}\noutputs: [out]\n"
    )
    out = tmp_path / "arch.json"
    result = invoke(build_arch.main, ["--spec", spec, "-o", out, "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["class_name"] == "Functional"
    assert result.stderr == ""


def test_unknown_layer_is_a_usage_error_with_a_close_match(tmp_path):
    out = tmp_path / "arch.json"
    result = invoke(build_arch.main, ["--input-shape", "4", "--layer", "Dence(3)", "-o", out])
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.strip() == "build-arch: error: layer 'Dence(3)': unknown layer 'Dence' (did you mean Dense?)"
    assert not out.exists()


def test_missing_options_and_bad_spec_file(tmp_path):
    assert invoke(build_arch.main, ["-o", tmp_path / "a.json"]).exit_code == ExitStatus.USAGE
    bad = tmp_path / "bad.yml"
    bad.write_text("inputs: [\n")
    result = invoke(build_arch.main, ["--spec", bad, "-o", tmp_path / "a.json"])
    assert result.exit_code == ExitStatus.USAGE and "not valid YAML/JSON at line" in result.stderr


def test_unwritable_output_fails_before_work(tmp_path):
    result = invoke(build_arch.main, ["--input-shape", "4", "--layer", "Dense(1)", "-o", tmp_path / "no" / "a.json"])
    assert result.exit_code == ExitStatus.OUTPUT and "does not exist" in result.stderr
