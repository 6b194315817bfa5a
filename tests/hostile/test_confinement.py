"""No input may make a program read a file it was not given: HDF5 external storage, virtual datasets and
external links are refused in every HDF5 input, and layer arguments that Keras reads as files are refused."""

import json
import zipfile

import h5py
import numpy as np
import pytest

from galaxy_dl.cli import build_arch, build_model, predict, train_eval
from galaxy_dl.errors import ExitStatus
from tests.conftest import TEST_DATA
from tests.hostile.conftest import SECRET, listing, refused, run

SHAPE = (150, 40)  # cells_dense.h5ad's X


def _replace_x(path, make):
    with h5py.File(path, "r+") as f:
        attrs = dict(f["X"].attrs)
        del f["X"]
        make(f)
        f["X"].attrs.update(attrs)


def external_storage(secret):
    def make(f):
        f.create_dataset("X", shape=SHAPE, dtype="<f4", external=[(str(secret), 0, SHAPE[0] * SHAPE[1] * 4)])
    return make


def virtual(secret_h5):
    def make(f):
        layout = h5py.VirtualLayout(shape=SHAPE, dtype="<f4")
        layout[:] = h5py.VirtualSource(str(secret_h5), "data", shape=SHAPE)
        f.create_virtual_dataset("X", layout)
    return make


@pytest.fixture
def secret_h5(tmp_path, secret):
    path = tmp_path / "outside" / "secret.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.frombuffer(secret.read_bytes()[: SHAPE[0] * SHAPE[1] * 4], dtype="<f4").reshape(SHAPE)
    return path


@pytest.mark.parametrize("kind", ["external", "virtual"])
def test_h5ad_matrix_from_another_file_is_refused(kind, data_copy, secret, secret_h5, tmp_path):
    h5ad = data_copy("cells_dense.h5ad")
    _replace_x(h5ad, external_storage(secret) if kind == "external" else virtual(secret_h5))
    out = tmp_path / "out"
    out.mkdir()
    result = run(predict.main, ["--model", TEST_DATA / "cells_fitted.zip", "--x", h5ad, "-o", out / "p.tsv"])
    refused(result, "predict", ExitStatus.DATA, "refused", "/X")
    assert listing(out) == []
    assert SECRET[:20].decode() not in result.stdout


def test_h5ad_external_link_is_refused(data_copy, secret_h5, tmp_path):
    h5ad = data_copy("cells_dense.h5ad")
    with h5py.File(h5ad, "r+") as f:
        f["uns"]["leak"] = h5py.ExternalLink(str(secret_h5), "data")
    result = run(train_eval.main, ["--model", TEST_DATA / "cells_model.zip", "--x", h5ad, "--y-obs", "cell_type",
                                   "--scores", tmp_path / "s.tsv"])
    refused(result, "train-eval", ExitStatus.DATA, "link to another file")
    assert not (tmp_path / "s.tsv").exists()


@pytest.mark.parametrize("trick", ["external_link", "external_storage"])
def test_weights_file_pointing_elsewhere_is_refused(trick, data_copy, secret, secret_h5, tmp_path):
    weights = data_copy("tutorial_weights.h5")
    with h5py.File(weights, "r+") as f:
        if trick == "external_link":
            f["leak"] = h5py.ExternalLink(str(secret_h5), "data")
        else:
            f.create_dataset("leak", shape=(64,), dtype="u1", external=[(str(secret), 0, 64)])
    result = run(predict.main, ["--model", TEST_DATA / "tutorial_fitted.zip", "--weights", weights,
                                "--x", TEST_DATA / "X_test.tsv", "-o", tmp_path / "p.tsv"])
    refused(result, "predict", ExitStatus.MODEL, "refused")
    assert not (tmp_path / "p.tsv").exists()


def test_archive_weights_member_pointing_elsewhere_is_refused(secret_h5, tmp_path):
    member = tmp_path / "w.h5"
    with zipfile.ZipFile(TEST_DATA / "tutorial_fitted.zip") as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    member.write_bytes(members["model.weights.h5"])
    with h5py.File(member, "r+") as f:
        f["leak"] = h5py.ExternalLink(str(secret_h5), "data")
    members["model.weights.h5"] = member.read_bytes()
    archive = tmp_path / "fitted.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    result = run(predict.main, ["--model", archive, "--x", TEST_DATA / "X_test.tsv", "-o", tmp_path / "p.tsv"])
    refused(result, "predict", ExitStatus.MODEL, "link to another file")


def test_galaxy_ml_file_pointing_elsewhere_is_refused(data_copy, secret_h5, tmp_path):
    h5mlm = data_copy("tutorial_fitted.h5mlm")
    with h5py.File(h5mlm, "r+") as f:
        f["-keras_models-"]["leak"] = h5py.ExternalLink(str(secret_h5), "data")
    result = run(build_model.main, ["--from", h5mlm, "-o", tmp_path / "m.zip"])
    refused(result, "build-model", ExitStatus.MODEL, "link to another file")
    assert not (tmp_path / "m.zip").exists()


@pytest.mark.parametrize("layer", ["StringLookup(vocabulary='{}')", "IntegerLookup(vocabulary='{}')",
                                   "TextVectorization(vocabulary='{}')"])
def test_layer_arguments_that_name_files_are_refused(layer, secret, tmp_path):
    result = run(build_arch.main, ["--input-shape", "1", "--layer", layer.format(secret), "-o", tmp_path / "a.json"])
    refused(result, "build-arch", ExitStatus.USAGE, "vocabulary", "inline")
    assert not (tmp_path / "a.json").exists()


def test_architecture_naming_a_vocabulary_file_is_refused(secret, tmp_path):
    arch = json.loads((TEST_DATA / "tutorial_arch.json").read_text())
    layer = {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
             "config": {"name": "lookup", "vocabulary": str(secret), "trainable": True}}
    arch["config"]["layers"].insert(1, layer)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    result = run(build_model.main, ["--arch", path, "-o", tmp_path / "m.zip"])
    refused(result, "build-model", ExitStatus.MODEL, "vocabulary", "names a file")
