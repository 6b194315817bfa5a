"""Atomic output: written where it has no name yet, named on success.

A failure, a full disk, Ctrl-C or even SIGKILL therefore never leaves a half-written output, and
:func:`together` makes a run's outputs appear all at once or not at all.
"""

import contextlib
import contextvars
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

from galaxy_dl.errors import OutputError


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


class _Unnamed:
    """One output being written: an unnamed file in the target's directory (``O_TMPFILE``), reached by writers
    through a link in a private temporary directory, so that a library that insists on a file name (Keras wants
    ``.weights.h5``) writes into it; a SIGKILL leaves nothing beside the output. Where the file system has no
    unnamed files, a hidden file beside the target stands in."""

    def __init__(self, target: Path, suffix: str):
        self.target = target
        self.fd = None
        self._dir = None
        try:
            self.fd = os.open(target.parent, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666)
        except (AttributeError, OSError) as exc:
            if getattr(exc, "errno", None) not in (None, errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise OutputError(f"cannot write {target}: {getattr(exc, 'strerror', exc)}") from exc
        try:
            if self.fd is not None:
                self._dir = tempfile.mkdtemp(prefix="galaxy-dl-out-")
                self.path = os.path.join(self._dir, f"output{suffix}")
                os.symlink(f"/proc/self/fd/{self.fd}", self.path)
            else:
                fd, self.path = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix or ".tmp")
                os.close(fd)
                os.unlink(self.path)  # let the writer create it (h5py and zipfile prefer a fresh path)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {target}: {exc.strerror}") from exc

    def link(self) -> str:
        """Give the written file a hidden name beside the target (the step before the rename)."""
        if self.fd is None:
            if not os.path.exists(self.path):
                raise OutputError(f"cannot write {self.target}: nothing was written")
            return self.path
        hidden = str(self.target.parent / f".{self.target.name}.{os.getpid()}.{self.fd}.tmp")
        try:
            os.link(f"/proc/self/fd/{self.fd}", hidden, follow_symlinks=True)
        except OSError:
            if not _link_fd(self.fd, hidden):  # some kernels and sandboxes allow only this form
                try:  # the last resort: a copy under the hidden name
                    with open(hidden, "xb") as out:
                        os.lseek(self.fd, 0, os.SEEK_SET)
                        while block := os.read(self.fd, 1 << 20):
                            out.write(block)
                except OSError:
                    _remove(hidden)
                    raise
        return hidden

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        elif getattr(self, "path", None):
            _remove(self.path)


def _link_fd(fd: int, path: str) -> bool:
    """``linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH)``, which Python's os.link cannot say."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.linkat(fd, b"", -100, os.fsencode(path), 0x1000) == 0  # AT_FDCWD, AT_EMPTY_PATH


_pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("galaxy_dl_outputs", default=None)


@contextlib.contextmanager
def together():
    """Outputs written inside the block (by :func:`atomic_path`) appear together when it succeeds, or not at all:
    a failure in a later output leaves no earlier one of the same run."""
    if _pending.get() is not None:
        yield
        return
    outputs: list = []
    token = _pending.set(outputs)
    try:
        yield
        _publish(outputs)
    finally:
        _pending.reset(token)
        for output in outputs:
            output.discard()


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _publish(outputs: list) -> None:
    """Name every output: first each under a hidden name beside its target (the step that can fail on a full disk,
    undone for all if it does), then each renamed over its target."""
    linked = []
    try:
        for output in outputs:
            linked.append((output.link(), output.target))
    except OSError as exc:
        for hidden, _ in linked:
            _remove(hidden)
        raise OutputError(f"cannot write {outputs[len(linked)].target}: {exc.strerror or exc}") from exc
    for i, (hidden, target) in enumerate(linked):
        try:
            os.replace(hidden, target)
        except OSError as exc:
            for rest, _ in linked[i:]:
                _remove(rest)
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a path to write ``path``'s content to; it appears at ``path`` only if the block succeeds (inside
    :func:`together`, when that block does).

    ``suffix`` ends the yielded path, for libraries that go by the extension.
    """
    output = _Unnamed(Path(path), suffix)
    joined = _pending.get()
    if joined is not None:
        joined.append(output)
        try:
            yield output.path
        except BaseException:
            output.discard()
            raise
        return
    try:
        yield output.path
        _publish([output])
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        output.discard()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` atomically; ``-`` means standard output."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
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


def text_bytes(path: str) -> int:
    """A file's size as text: a gzip file's trailer gives it (modulo 4 GiB, so at least 4x the file)."""
    if path == "-":
        return 0
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return size
            fh.seek(-4, os.SEEK_END)
            return max(int.from_bytes(fh.read(4), "little"), 4 * size)
    except OSError:
        return 0  # reading it will say what is wrong
