"""Streaming prediction: chunks in input order, the next one read on a second thread."""

import threading
import time

import pytest

from galaxy_dl import runtime
from galaxy_dl.data.tables import TableSpec
from galaxy_dl.errors import DataError
from galaxy_dl.model import archive
from galaxy_dl.runs import prediction


@pytest.fixture
def estimator(binary_fitted):
    runtime.import_keras()
    return archive.load(binary_fitted["fitted"], "--model", require_fitted=True)


def _producer(n, fail_at=None, log=None):
    for i in range(n):
        if i == fail_at:
            raise DataError(f"bad row in chunk {i}", source="--x X.tsv")
        if log is not None:
            log.append((i, threading.current_thread().name))
        yield i


def test_read_ahead_keeps_order_and_reads_on_a_worker():
    log = []
    assert list(prediction._read_ahead(_producer(6, log=log))) == [0, 1, 2, 3, 4, 5]
    assert [i for i, _ in log] == [0, 1, 2, 3, 4, 5]
    assert all(name.startswith("galaxy-dl-read") for _, name in log)


def test_read_ahead_reads_the_next_chunk_while_this_one_is_used():
    log = []
    chunks = prediction._read_ahead(_producer(5, log=log))
    assert next(chunks) == 0
    for _ in range(100):  # the worker is reading chunk 1 now; give it time to finish
        if len(log) == 2:
            break
        time.sleep(0.01)
    assert [i for i, _ in log] == [0, 1]
    chunks.close()


def test_read_ahead_raises_the_readers_error_after_the_good_chunks():
    seen = []
    with pytest.raises(DataError, match="bad row in chunk 3"):
        for chunk in prediction._read_ahead(_producer(6, fail_at=3)):
            seen.append(chunk)
    assert seen == [0, 1, 2]


def test_read_ahead_stops_reading_when_the_consumer_stops():
    log = []
    for chunk in prediction._read_ahead(_producer(1000, log=log)):
        if chunk == 2:
            break
    assert len(log) <= 4  # at most one chunk beyond the last one used


def test_read_ahead_gives_the_same_file_as_reading_in_turn(binary_data, estimator, tmp_path):
    spec = TableSpec(path=binary_data["x"], option="--x")
    outputs = {}
    for read_ahead in (False, True):
        outputs[read_ahead] = tmp_path / f"p{read_ahead}.tsv"
        rows = prediction.predict_table(estimator, spec, str(outputs[read_ahead]), method="predict_proba",
                                        chunk_rows=7, read_ahead=read_ahead)
        assert rows == 80
    assert outputs[True].read_text() == outputs[False].read_text()
    assert len(outputs[True].read_text().splitlines()) == 81


def test_thread_budget_follows_the_configured_threads(monkeypatch):
    monkeypatch.setattr(runtime, "_threads", 1)
    assert runtime.thread_budget() == 1
    monkeypatch.setattr(runtime, "_threads", None)
    assert runtime.thread_budget() >= 1


def test_an_error_while_predicting_stops_the_reader_thread(binary_data, estimator, tmp_path, monkeypatch):
    import pandas as pd

    frame = pd.read_csv(binary_data["x"], sep="\t")

    def chunks(spec, rows, layer=None, on_header=None, encoding=None, genome=None):
        while True:
            yield list(frame.columns), frame.iloc[:rows].to_numpy("float32"), None

    def failing_frame(estimator, values, method):
        raise DataError("cannot predict", source="--x")

    monkeypatch.setattr(prediction, "iter_features", chunks)
    monkeypatch.setattr(prediction, "_frame", failing_frame)
    out = tmp_path / "p.tsv"
    with pytest.raises(DataError) as raised:  # its traceback keeps predict_table's frame, and the reader, alive
        prediction.predict_table(estimator, TableSpec(path=binary_data["x"], option="--x"), str(out), chunk_rows=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("galaxy-dl-read")]
    assert "cannot predict" in str(raised.value)
    assert not out.exists()


def test_columns_are_matched_by_name_reordered_and_extra_ones_left_out(binary_data, estimator, tmp_path):
    import pandas as pd

    frame = pd.read_csv(binary_data["x"], sep="\t")
    shuffled = frame[["f3", "f0", "f5", "f1", "f4", "f2"]].assign(extra=1.0)
    shuffled.to_csv(tmp_path / "shuffled.tsv", sep="\t", index=False)
    for name, path in (("plain", binary_data["x"]), ("shuffled", tmp_path / "shuffled.tsv")):
        prediction.predict_table(estimator, TableSpec(str(path), option="--x"), str(tmp_path / f"{name}.out"), read_ahead=False)
    assert (tmp_path / "plain.out").read_text() == (tmp_path / "shuffled.out").read_text()
    frame.drop(columns=["f4"]).to_csv(tmp_path / "short.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match="has 5 feature columns, but the model was trained on 6: missing 'f4'"):
        prediction.predict_table(estimator, TableSpec(str(tmp_path / "short.tsv"), option="--x"), str(tmp_path / "s.out"))
