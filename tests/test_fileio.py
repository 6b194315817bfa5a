import os

import pytest

from galaxy_dl.errors import OutputError
from galaxy_dl.fileio import atomic_path, check_writable, write_text


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "out.tsv"
    write_text(str(target), "a\n")
    assert target.read_text() == "a\n" and os.listdir(tmp_path) == ["out.tsv"]


def test_failure_leaves_neither_target_nor_temporary(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(str(target), suffix=".weights.h5") as tmp:
            assert tmp.endswith(".weights.h5") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


def test_failure_keeps_a_previous_output_intact(tmp_path):
    target = tmp_path / "scores.tsv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(target)) as tmp:
            open(tmp, "w").write("new, partial")
            raise KeyboardInterrupt
    assert target.read_text() == "old\n"


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing" / "x.tsv", "does not exist"),
    (lambda p: p, "is a directory"),
])
def test_check_writable(tmp_path, make, message):
    with pytest.raises(OutputError, match=message):
        check_writable(str(make(tmp_path)), "-o")


def test_unwritable_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere; simulate a read-only dir
    with pytest.raises(OutputError, match="not writable"):
        check_writable(str(tmp_path / "x"), "-o")
