"""Atomic output: write beside the target, rename on success.

A failure, a full disk or Ctrl-C therefore never leaves a half-written output.
"""

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from .errors import OutputError


def check_writable(path: str | os.PathLike, option: str) -> None:
    """Fail before any work starts if ``path`` cannot be created."""
    if str(path) == "-":
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"{p} is a directory", source=option)
    if not parent.is_dir():
        raise OutputError(f"directory {parent} does not exist", source=option)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"directory {parent} is not writable", source=option)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    ``suffix`` lets callers satisfy libraries that insist on an extension
    (Keras' ``save_weights`` wants ``.weights.h5``).
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix or ".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from exc
    os.close(fd)
    os.unlink(tmp)  # let the writer create it (h5py and zipfile prefer a fresh path)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` atomically; ``-`` means standard output."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def open_input(path: str, error: type, source: str, what: str = "a file"):
    """Open ``path`` for binary reading; a missing file, a directory or a read error is ``error``."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise error("no such file", source=source) from None
    except IsADirectoryError:
        raise error(f"is a directory, not {what}", source=source) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", source=source) from None
