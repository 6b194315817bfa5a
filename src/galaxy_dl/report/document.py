"""What a report holds, independent of how it is rendered: sections of facts, tables, figures and notes.

The HTML and PDF writers walk the same :class:`Document`, so both formats always carry the same sections.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Run:
    """What the caller knows of the run beyond its report: how it was asked for and how long it took."""

    command: str = ""
    scheme: dict = field(default_factory=dict)  # run_scheme's options
    started: str = ""  # ISO date and time
    wall_time_s: float | None = None
    search: str | None = None


@dataclass
class Facts:
    """Label-value pairs; ``varies`` names the labels whose values differ from run to run (date, times)."""

    rows: list  # (label, value text)
    varies: frozenset = frozenset()


@dataclass
class Table:
    """Cells as text, as they are written to disk; ``wide`` tables scroll sideways on narrow screens."""

    frame: Any  # pandas DataFrame of strings
    caption: str = ""


@dataclass
class Figure:
    """A matplotlib figure (laid out once, rendered by each writer), its caption and a text alternative."""

    figure: Any
    caption: str
    alt: str
    _pixels: Any = field(default=None, repr=False)

    def pixels(self):
        """RGBA pixels at ``figures.DPI``, drawn once: the HTML's PNG and the PDF's image are the same drawing."""
        if self._pixels is None:
            from galaxy_dl.report.figures import raster

            self._pixels = raster(self.figure)
        return self._pixels

    def png(self) -> bytes:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        # zlib level 3: 1.5x faster than the default 6, for files 15% larger
        Image.fromarray(self.pixels()).save(buffer, format="png", compress_level=3)
        return buffer.getvalue()


@dataclass
class Note:
    text: str


@dataclass
class Section:
    key: str  # the anchor in the HTML, a stable name for tests
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)
