"""train-eval --report: a training report as a self-contained HTML page and/or a PDF, the same sections in both.

:func:`render` draws every figure and renders every asked format in memory before anything is written, so a
failure while drawing leaves no report (and train-eval writes no other output either); :func:`write` then
writes each atomically.
"""

import gc
from contextlib import contextmanager

from galaxy_dl.errors import OutputError, UsageError, first_line
from galaxy_dl.report.document import Run

FORMATS = ("html", "pdf")
SUFFIXES = {"html": "html", "htm": "html", "pdf": "pdf"}

__all__ = ["FORMATS", "Run", "render", "targets", "write"]


def targets(paths, formats=()) -> list[tuple[str, str]]:
    """(path, format) per ``--report``: the format by the path's suffix, or by the ``--report-format`` given
    in the same position (one for every report, when any is given)."""
    paths, formats = list(paths), [f.lower() for f in formats]
    if formats and len(formats) != len(paths):
        raise UsageError(f"--report-format: give one per --report ({len(paths)} reports, {len(formats)} formats)")
    chosen = []
    for i, path in enumerate(paths):
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        fmt = formats[i] if formats else SUFFIXES.get(suffix)
        if fmt not in FORMATS:
            raise UsageError(
                f"--report {path}: the suffix tells neither html nor pdf; add --report-format html|pdf"
                if not formats
                else f"--report-format {fmt}: one of {', '.join(FORMATS)}"
            )
        chosen.append((path, fmt))
    return chosen


def render(report, data, estimator, run: Run, formats) -> dict:
    """Format -> bytes of the report; any failure while drawing is an OutputError naming what failed."""
    import matplotlib

    matplotlib.use("agg")  # scikit-learn's displays import pyplot: no GUI backend is looked for
    from galaxy_dl.report import to_html, to_pdf
    from galaxy_dl.report.content import build

    try:
        with _young_objects_only():
            doc = build(report, data, estimator, run)
            rendered = {}
            for fmt in dict.fromkeys(formats):
                rendered[fmt] = to_html.render(doc).encode("utf-8") if fmt == "html" else to_pdf.render(doc)
    except (ValueError, TypeError, RuntimeError, OSError, ArithmeticError, KeyError, IndexError) as exc:
        raise OutputError(f"--report: drawing the report failed: {first_line(exc)}") from None
    return rendered


@contextmanager
def _young_objects_only():
    """Leave the objects that exist before drawing out of garbage collection while drawing: with Keras loaded and
    a model trained, a full collection walks hundreds of thousands of them, and matplotlib's many small objects
    set off several. When objects were frozen before (our programs freeze their imports), the newer ones stay
    frozen too: unfreezing would thaw the caller's as well. Our programs say that they froze their imports
    (counting frozen objects walks every one of them: 40 ms after Keras' imports)."""
    from galaxy_dl.runtime import imports_frozen

    first = not imports_frozen() and not gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if first:
            gc.unfreeze()


def write(rendered: dict, chosen: list[tuple[str, str]]) -> None:
    from galaxy_dl.data.fileio import write_bytes

    for path, fmt in chosen:
        write_bytes(path, rendered[fmt])
