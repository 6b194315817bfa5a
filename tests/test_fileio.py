import os

import pytest

from galaxy_dl.data.fileio import atomic_path, check_writable, together, write_text
from galaxy_dl.errors import OutputError


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "out.tsv"
    write_text(str(target), "a\n")
    assert target.read_text() == "a\n" and os.listdir(tmp_path) == ["out.tsv"]


def test_failure_leaves_neither_target_nor_temporary(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError), atomic_path(str(target), suffix=".weights.h5") as tmp:
        assert tmp.endswith(".weights.h5")
        with open(tmp, "w") as fh:
            fh.write("half")
        assert os.listdir(tmp_path) == []  # written where it has no name yet
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


def test_outputs_written_together_appear_together_or_not_at_all(tmp_path):
    with pytest.raises(OutputError), together():
        write_text(str(tmp_path / "scores.tsv"), "s\n")
        write_text(str(tmp_path / "model.zip"), "m\n")
        raise OutputError("the report hit a full disk")
    assert os.listdir(tmp_path) == []
    with together():
        write_text(str(tmp_path / "scores.tsv"), "s\n")
        write_text(str(tmp_path / "model.zip"), "m\n")
        assert os.listdir(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["model.zip", "scores.tsv"]
    assert (tmp_path / "scores.tsv").read_text() == "s\n"


def test_sigkill_while_writing_leaves_nothing_beside_the_output(tmp_path):
    """The process dies with its output half written: the directory is as it was."""
    import signal
    import subprocess
    import sys
    import time

    ready = tmp_path / "ready"
    out = tmp_path / "out"
    out.mkdir()
    script = (f"from galaxy_dl.data.fileio import atomic_path\nimport time\n"
              f"with atomic_path({str(out / 'big.tsv')!r}) as p, open(p, 'w') as fh:\n"
              f"    fh.write('x' * 200000); fh.flush(); open({str(ready)!r}, 'w').close(); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert ready.exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert os.listdir(out) == []


def test_failure_keeps_a_previous_output_intact(tmp_path):
    target = tmp_path / "scores.tsv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic_path(str(target)) as tmp:
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


def test_where_an_unnamed_file_cannot_be_linked_a_copy_is_named(tmp_path, monkeypatch):
    from galaxy_dl.data import fileio

    def no_link(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(fileio.os, "link", no_link)
    monkeypatch.setattr(fileio, "_link_fd", lambda fd, path: False)
    with together():
        write_text(str(tmp_path / "a.tsv"), "a\n" * 100000)
        write_text(str(tmp_path / "b.tsv"), "b\n")
    assert sorted(os.listdir(tmp_path)) == ["a.tsv", "b.tsv"] and (tmp_path / "a.tsv").read_text() == "a\n" * 100000


def test_a_rename_that_fails_leaves_no_hidden_file(tmp_path, monkeypatch):
    from galaxy_dl.data import fileio

    replace = os.replace
    calls = []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", failing)
    with pytest.raises(OutputError, match=r"b\.tsv: No space left on device"), together():
        write_text(str(tmp_path / "a.tsv"), "a\n")
        write_text(str(tmp_path / "b.tsv"), "b\n")
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]
