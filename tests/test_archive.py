import json
import pickle
import random
import zipfile

import numpy as np
import pytest

from galaxy_dl import runtime
from galaxy_dl.data import formats
from galaxy_dl.errors import GalaxyDLError, ModelError
from galaxy_dl.model import archive


@pytest.fixture(scope="module")
def estimators(tmp_path_factory):
    runtime.configure()
    runtime.import_keras()
    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.estimator import make_estimator
    from galaxy_dl.model.layerspec import parse_layer

    arch = json.loads(to_json(build_sequential((3,), [parse_layer("Dense(4)"), parse_layer('Dense(1, activation="sigmoid")')])))
    unfitted = make_estimator("classification", architecture=arch, epochs=2, batch_size=8, seed=3, verbose=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype("float32")
    y = np.where(X[:, 0] > 0, "yes", "no")
    fitted = make_estimator("classification", architecture=arch, epochs=2, batch_size=8, seed=3, verbose=0).fit(X, y)
    d = tmp_path_factory.mktemp("archive")
    archive.save(unfitted, str(d / "model.zip"))
    archive.save(fitted, str(d / "fitted.zip"))
    return {"unfitted": unfitted, "fitted": fitted, "dir": d, "X": X, "y": y}


def rewrite(src, dst, change):
    """Copy a zip member by member, letting ``change(name, data)`` return new (name, data) or None to drop."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            result = change(info.filename, zin.read(info))
            if result is not None:
                zout.writestr(result[0], result[1])
    return str(dst)


def test_members_and_manifest(estimators):
    with zipfile.ZipFile(estimators["dir"] / "fitted.zip") as zf:
        assert zf.namelist() == ["manifest.json", "architecture.json", "params.json", "state.json", "model.weights.h5"]
        manifest = json.loads(zf.read("manifest.json"))
        state = json.loads(zf.read("state.json"))
    assert manifest["format"] == formats.ESTIMATOR_FORMAT and manifest["format_version"] == 1
    assert manifest["fitted"] is True and manifest["created_by"]["keras"]
    assert state["classes_"] == ["no", "yes"] and state["n_features_in_"] == 3
    assert len(state["history_"]["loss"]) == 2


def test_round_trip_predicts_identically(estimators):
    loaded = archive.load(str(estimators["dir"] / "fitted.zip"))
    assert loaded.get_params() == estimators["fitted"].get_params()
    np.testing.assert_array_equal(loaded.predict(estimators["X"]), estimators["fitted"].predict(estimators["X"]))
    np.testing.assert_allclose(loaded.predict_proba(estimators["X"]), estimators["fitted"].predict_proba(estimators["X"]), rtol=0, atol=0)


def test_unfitted_round_trip_and_require_fitted(estimators):
    path = str(estimators["dir"] / "model.zip")
    assert archive.load(path).get_params() == estimators["unfitted"].get_params()
    with pytest.raises(ModelError, match="has not been trained yet"):
        archive.load(path, require_fitted=True)


def test_same_estimator_gives_byte_identical_archive(estimators):
    assert archive.to_bytes(estimators["fitted"]) == archive.to_bytes(estimators["fitted"])
    with zipfile.ZipFile(estimators["dir"] / "fitted.zip") as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("change, message", [
    (lambda n, d: None if n == "params.json" else (n, d), "member 'params.json' is missing"),
    (lambda n, d: (n, d.replace(b'"format_version": 1', b'"format_version": 99')) if n == "manifest.json" else (n, d),
     "written by a newer galaxy-dl \\(format version 99"),
    (lambda n, d: (n, d.replace(b"galaxy-dl-estimator", b"other-format")) if n == "manifest.json" else (n, d), "format 'other-format'"),
    (lambda n, d: ("../evil.json" if n == "params.json" else n, d), "unsafe member name '../evil.json'"),
    (lambda n, d: ("/etc/passwd" if n == "params.json" else n, d), "unsafe member name '/etc/passwd'"),
    (lambda n, d: (n, b"{broken") if n == "params.json" else (n, d), "member 'params.json' is not valid JSON"),
    (lambda n, d: (n, d.replace(b'"epochs"', b'"epochz"')) if n == "params.json" else (n, d), "unknown parameter 'epochz'"),
    (lambda n, d: (n, d.replace(b'"epochs": 2', b'"epochs": 0')) if n == "params.json" else (n, d), "--epochs must be a positive integer"),
    (lambda n, d: (n, d[:100]) if n == "model.weights.h5" else (n, d), "model.weights.h5"),
    (lambda n, d: (n, d.replace(b'"keras.layers"', b'"subprocess"', 1)) if n == "architecture.json" else (n, d), "names module 'subprocess'"),
])
def test_damaged_archives_are_refused(estimators, tmp_path, change, message):
    path = rewrite(estimators["dir"] / "fitted.zip", tmp_path / "bad.zip", change)
    with pytest.raises(ModelError, match=message) as err:
        archive.load(path)
    assert "bad.zip" in str(err.value)


def test_not_a_zip_truncated_and_corrupt(estimators, tmp_path):
    data = (estimators["dir"] / "fitted.zip").read_bytes()
    cases = {"text.zip": b"hello", "truncated.zip": data[: len(data) // 2], "empty.zip": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError, match="not a galaxy-dl estimator archive"):
            archive.load(str(tmp_path / name))
    corrupt = bytearray(data)
    start = data.index(b"model.weights.h5") + 100  # inside the first bytes of the compressed weights
    corrupt[start:start + 64] = bytes(64)
    (tmp_path / "corrupt.zip").write_bytes(bytes(corrupt))
    with pytest.raises(ModelError, match=r"corrupt|weights"):
        archive.load(str(tmp_path / "corrupt.zip"))


def test_pickle_renamed_zip_is_refused_without_unpickling(tmp_path):
    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    (tmp_path / "model.zip").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelError, match="is a Python pickle"):
        archive.load(str(tmp_path / "model.zip"))
    assert not (tmp_path / "pwned").exists()


def test_zip_bomb_is_refused_before_inflating(estimators, tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", (estimators["dir"] / "fitted.zip").read_bytes()[:0] + b" " * (80 * 1024 * 1024))
    with pytest.raises(ModelError, match="zip bomb"):
        archive.load(str(path))


def test_mutation_fuzz_never_crashes(estimators):
    """Thousands of byte-level mutants: each loads or fails with a ModelError, never anything else."""
    data = (estimators["dir"] / "model.zip").read_bytes()
    rng = random.Random(1234)
    path = estimators["dir"] / "mutant.zip"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(2000):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            pos = rng.randrange(len(mutant))
            if kind < 0.6:
                mutant[pos] = rng.randrange(256)
            elif kind < 0.8:
                del mutant[pos:pos + rng.randint(1, 32)]
            else:
                mutant[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        path.write_bytes(bytes(mutant))
        try:
            archive.load(str(path))
            outcomes["loaded"] += 1
        except GalaxyDLError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 1000 and sum(outcomes.values()) == 2000
