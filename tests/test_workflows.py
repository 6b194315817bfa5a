"""The Galaxy workflows in workflows/ name our tools at their current versions, and their tests' inputs exist
(the workflows themselves run in a real Galaxy: make galaxy-test)."""

import json

import pytest
import yaml
from galaxy.tool_util.loader_directory import looks_like_a_tool
from galaxy.tool_util.parser import get_tool_source

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / "workflows").glob("*.ga"))


def tools() -> dict:
    found = {}
    for path in (ROOT / "tool_xml").glob("*.xml"):
        if looks_like_a_tool(str(path)):
            source = get_tool_source(str(path))
            found[source.parse_id()] = source.parse_version()
    return found


def test_the_workflows_are_there():
    assert [p.name for p in WORKFLOWS] == [
        "dna-sequence-classification.ga", "gtn-cnn.ga", "gtn-fnn.ga", "gtn-rnn.ga", "intro-deep-learning.ga",
        "iris-cross-validation.ga",
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_steps_use_our_tools_at_their_versions(path):
    ours = tools()
    steps = [s for s in json.loads(path.read_text())["steps"].values() if s["type"] == "tool"]
    assert steps and {s["tool_id"] for s in steps} <= set(ours)
    for step in steps:
        assert step["tool_version"] == ours[step["tool_id"]], step["tool_id"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_tests_name_existing_inputs_and_outputs(path):
    workflow = json.loads(path.read_text())
    inputs = {s["label"] for s in workflow["steps"].values() if s["type"] == "data_input"}
    outputs = {o["label"] for s in workflow["steps"].values() for o in s.get("workflow_outputs", [])}
    for case in yaml.safe_load(path.with_name(f"{path.stem}-tests.yml").read_text()):
        assert set(case["job"]) == inputs
        for value in case["job"].values():
            assert (path.parent / value["path"]).is_file(), value["path"]
        assert set(case["outputs"]) <= outputs


def test_gtn_stand_ins_have_the_tutorials_shapes():
    """The GTN workflows' inputs are shaped as the tutorials' files (test-data/make_gtn_data.py)."""
    import pandas as pd

    data = ROOT / "test-data"
    shapes = {"fnn_X_train": (313, 5), "rnn_X_train": (800, 500), "cnn_X_train": (800, 784), "cnn_y_train_onehot": (800, 10)}
    for name, shape in shapes.items():
        header = 0 if name.startswith("fnn") else None
        assert pd.read_csv(data / f"{name}.tsv", sep="\t", header=header).shape == shape, name
    onehot = pd.read_csv(data / "cnn_y_train_onehot.tsv", sep="\t", header=None).to_numpy()
    digits = pd.read_csv(data / "cnn_y_train.tsv", sep="\t", header=None)[0].to_numpy()
    assert (onehot.sum(axis=1) == 1).all() and (onehot.argmax(axis=1) == digits).all()
    ids = pd.read_csv(data / "rnn_X_train.tsv", sep="\t", header=None).to_numpy()
    assert ids.min() == 0 and ids.max() < 10_000
