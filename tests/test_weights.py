import h5py
import numpy as np
import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import ModelError
from galaxy_dl.model import weights


@pytest.fixture(scope="module")
def model():
    keras = runtime.import_keras()
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden"), keras.layers.Dense(1, name="out")])
    m.compile(loss="mse", optimizer="sgd")
    return m


def test_saves_at_exactly_the_given_path_whatever_the_suffix(model, tmp_path):
    target = tmp_path / "dataset_42.dat"
    weights.save(model, str(target))
    assert [p.name for p in tmp_path.iterdir()] == ["dataset_42.dat"]
    with h5py.File(target) as f:
        assert "layers" in f
    clone = type(model).from_config(model.get_config())
    weights.load(clone, str(target))
    for a, b in zip(model.get_weights(), clone.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_bytes_round_trip(model):
    data = weights.to_bytes(model)
    assert data[:8] == weights.HDF5_SIGNATURE
    clone = type(model).from_config(model.get_config())
    weights.load_bytes(clone, data, "archive")
    assert np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_shape_mismatch_names_variable_and_shapes(model, tmp_path):
    keras = runtime.import_keras()
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, name="hidden"), keras.layers.Dense(1, name="out")])
    path = tmp_path / "other.h5"
    weights.save(other, str(path))
    with pytest.raises(ModelError, match=r"hidden/kernel has shape \(3, 2\) in the model but \(3, 5\) in the file"):
        weights.load(model, str(path))
