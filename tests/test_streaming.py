"""Streamed training: lazy row views, the tf.data feed, and streamed vs in-memory runs of every scheme."""

import numpy as np
import pytest

from galaxy_dl.data import streaming
from galaxy_dl.data.features import Streaming
from galaxy_dl.data.rowcache import DenseCache
from galaxy_dl.data.tables import TableSpec
from galaxy_dl.runs.training import TrainingData, run_scheme


def cache_of(X, tmp_path):
    cache = DenseCache(X.shape[1], str(tmp_path))
    for start in range(0, len(X), 7):
        cache.append(X[start:start + 7])
    return streaming.Rows(cache.finish())


def test_views_compose_and_densify_in_the_order_asked(tmp_path):
    X = np.arange(60, dtype=np.float32).reshape(20, 3)
    rows = cache_of(X, tmp_path)
    view = rows[np.array([15, 2, 9, 4])][np.array([3, 0, 2])]
    assert view.shape == (3, 3) and len(view) == 3
    np.testing.assert_array_equal(view.dense(), X[[4, 15, 9]])
    np.testing.assert_array_equal(np.concatenate(list(rows.blocks(6))), X)


def blocks(rows, seed, **kwargs):
    return streaming.Blocks(rows, lambda block: block, np.arange(len(rows)), 4, True, seed, kwargs.get("rows_per_epoch"))


def tf_epochs(rows, seed, **kwargs):
    data = streaming.dataset(blocks(rows, seed, **kwargs))
    return [[(x.numpy()[:, 0].astype(int).tolist(), y.numpy().tolist()) for x, y in data] for _ in range(2)]


def sequence_epochs(rows, seed, **kwargs):
    data = streaming.sequence(blocks(rows, seed, **kwargs))
    out = []
    for _ in range(2):
        out.append([(x[:, 0].astype(int).tolist(), y.tolist()) for x, y in (data[i] for i in range(len(data)))])
        data.on_epoch_end()
    return out


@pytest.mark.parametrize("epochs", [tf_epochs, sequence_epochs], ids=["tf.data", "PyDataset"])
def test_feeds_shuffle_every_row_once_per_epoch_reproducibly(epochs, tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 4 * 3 * 8)  # 8-row blocks: several per epoch
    X = np.repeat(np.arange(50, dtype=np.float32)[:, None], 3, axis=1)
    rows = cache_of(X, tmp_path)
    first, again, other = epochs(rows, 7), epochs(rows, 7), epochs(rows, 8)
    for epoch in first:
        order = [v for xs, _ in epoch for v in xs]
        assert sorted(order) == list(range(50)) and order != list(range(50))
        assert all(xs == ys for xs, ys in epoch)  # labels travel with their rows
        assert [len(xs) for xs, _ in epoch[:2]] == [4, 4]
    assert first == again and first != other and first[0] != first[1]
    # whole batches only: 48 rows of each epoch's permutation, 2 left for later epochs
    whole = epochs(rows, 7, rows_per_epoch=48)
    assert [len(epoch) for epoch in whole] == [12, 12] and all(len(xs) == 4 for epoch in whole for xs, _ in epoch)


def test_both_feeds_give_the_same_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 4 * 3 * 8)
    rows = cache_of(np.repeat(np.arange(50, dtype=np.float32)[:, None], 3, axis=1), tmp_path)
    assert tf_epochs(rows, 5) == sequence_epochs(rows, 5)


def test_streamed_normalization_sees_the_training_rows_only(iris_data, tmp_path, monkeypatch):
    from galaxy_dl.model.archive import load
    from galaxy_dl.model.estimator import KerasClassifier
    from tests.conftest import build_model_zip

    monkeypatch.setattr(streaming, "BLOCK_BYTES", 4 * 4 * 16)
    model = build_model_zip(tmp_path, "4", ["Normalization()", 'Dense(3, activation="softmax")'],
                            "--loss", "sparse_categorical_crossentropy", "--epochs", "1", "--seed", "0")
    data = TrainingData.read(TableSpec(iris_data["x"]), TableSpec(iris_data["y"]), how=Streaming(stream=True, cache_dir=str(tmp_path)))
    train = np.arange(0, 150, 2)
    estimator = load(model, "model")
    assert isinstance(estimator, KerasClassifier)
    estimator.fit(data.X[train], data.y[train])
    layer = estimator.model_.layers[0]
    expected = iris_data["frame"].to_numpy(np.float32)[train]
    np.testing.assert_allclose(np.asarray(layer.mean).ravel(), expected.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.variance).ravel(), expected.var(axis=0), rtol=1e-4)


RUNS = [
    ("train_val", "stratified"), ("train_val", "shuffle"), ("train_val", "none"), ("train_val", "group"),
    ("train_val_test", "stratified"), ("cv", "stratified"),
]


@pytest.mark.parametrize("scheme, split", RUNS)
def test_streamed_and_in_memory_runs_choose_the_same_rows_and_scores(binary_data, binary_model, tmp_path, scheme, split):
    """Full-batch training (batch larger than the data) takes batch order out, so the scores must agree."""
    from galaxy_dl.model.archive import load

    groups = TableSpec(str(binary_data["dir"] / "groups.tsv"), option="--groups")
    (binary_data["dir"] / "groups.tsv").write_text("g\n" + "".join(f"g{i % 8}\n" for i in range(80)))
    reports = []
    for stream in (False, True):
        data = TrainingData.read(TableSpec(binary_data["x"]), TableSpec(binary_data["y"]), groups=groups,
                                 how=Streaming(stream=stream, cache_dir=str(tmp_path)))
        assert streaming.is_lazy(data.X) == stream
        estimator = load(binary_model, "model").set_params(batch_size=1000, epochs=2)
        reports.append(run_scheme(estimator, data, scheme=scheme, split=split, folds=3, scoring=("accuracy", "roc_auc")))
    memory, streamed = reports
    for a, b in zip(memory.heldout, streamed.heldout, strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.true, b.true)
    assert [r["set"] for r in memory.scores] == [r["set"] for r in streamed.scores]
    for a, b in zip(memory.scores, streamed.scores, strict=True):
        assert a["rows"] == b["rows"]
        for metric in ("loss", "accuracy", "roc_auc"):
            assert a[metric] == pytest.approx(b[metric], abs=1e-4), (a["set"], metric)
