"""Typed errors and the exit codes they map to.

Every error a user can cause is a ``GalaxyDLError`` subclass whose ``exit_status``
is one of ``ExitStatus``; the CLI prints ``str(error)`` as one line and exits with it.
The table is documented in the README ("Exit codes") and tested against it.
"""

import difflib
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes shared by all five programs."""

    SUCCESS = 0
    ERROR = 1  # an unexpected internal error (a bug): run again with --debug
    USAGE = 2  # bad command-line option or value (click's own code)
    DATA = 3  # bad input table: missing, empty, non-numeric, mismatched
    MODEL = 4  # bad or incompatible architecture, estimator archive or weights file
    TRAINING = 5  # training failed (e.g. the loss became NaN)
    OUTPUT = 6  # an output cannot be written
    PEER = 7  # a distributed run lost a process: one did not start, died or hung, or the coordinator cannot listen
    INTERRUPTED = 130  # Ctrl-C / SIGINT


class GalaxyDLError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, *, source: str | None = None):
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class UsageError(GalaxyDLError):
    """An option value that parses but makes no sense (e.g. an unknown layer)."""

    exit_status = ExitStatus.USAGE


class DataError(GalaxyDLError):
    """An input table that cannot be used."""

    exit_status = ExitStatus.DATA


class LabelError(DataError):
    """Labels that do not fit the model (found while encoding them; the caller adds the label file)."""


class ModelError(GalaxyDLError):
    """An architecture, estimator archive or weights file that cannot be used."""

    exit_status = ExitStatus.MODEL


class TrainingError(GalaxyDLError):
    """Training ran but failed."""

    exit_status = ExitStatus.TRAINING


class OutputError(GalaxyDLError):
    """An output path that cannot be written."""

    exit_status = ExitStatus.OUTPUT


class PeerError(GalaxyDLError):
    """A distributed run cannot go on without one of its processes."""

    exit_status = ExitStatus.PEER


def first_line(exc: BaseException | Warning | str) -> str:
    """The first line of a library's exception message: enough for a one-line error."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def suggest(name: str, candidates) -> str:
    """' (did you mean X?)' for the closest candidate, compared case-insensitively, or '': for messages in
    every wing (options, columns, layers), so it lives with the errors."""
    lowered: dict[str, object] = {}
    for candidate in candidates:
        lowered.setdefault(str(candidate).lower(), candidate)
    match = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]}?)" if match else ""
