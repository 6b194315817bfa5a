"""The report as a PDF through matplotlib's own PDF backend: A4 portrait pages on which the text flows (it
stays text: searchable, extractable) and each figure is placed at the page's width with its caption; the
figure is the same drawing as the HTML's image, embedded without resampling."""

import textwrap
from typing import Any

from matplotlib.image import BboxImage  # this module is imported only to write a PDF

A4 = (8.27, 11.69)  # inches
MARGIN = 0.6
LINE = 0.16  # inches per line of 7.5 pt monospace
COLUMNS = 108  # characters of 7.5 pt monospace across A4 less the margins
# (points, weight, inches per line, family); the text's weight is its font's own: "medium" with the PDF core fonts
# (Courier), "normal" with DejaVu Sans Mono (Book); another weight would be a warning that no such font exists
STYLES = {
    "title": (16, "bold", 0.42, "sans-serif"),
    "h2": (12, "bold", 0.36, "sans-serif"),
    "caption": (8.5, "bold", 0.2, "sans-serif"),
    "text": (7.5, None, LINE, "monospace"),
}


class _Pages:
    """A cursor down A4 pages: runs of lines in one style are one text object; a figure that does not fit
    the rest of a page starts the next."""

    def __init__(self, pdf, core_fonts: bool):
        self.pdf = pdf
        self.text_weight = "medium" if core_fonts else "normal"
        self.page: Any = None  # the matplotlib Figure being filled
        self.y = 0.0
        self.run: list[str] = []  # lines of the style in self.style, not yet placed
        self.style = "text"

    def line(self, text: str, style: str = "text") -> None:
        height = STYLES[style][2]
        if style != self.style:
            self._place()
            self.style = style
        if self.page is None or self.y - height * (len(self.run) + 1) < MARGIN:
            self._place()
            if self.page is None or self.y - height < MARGIN:
                self._new_page()
        self.run.append(text)

    def keep(self, lines: int) -> None:
        """Start a new page unless ``lines`` more lines fit (a heading stays with what follows it)."""
        self._place()
        if self.page is not None and self.y - LINE * lines < MARGIN:
            self._new_page()

    def gap(self) -> None:
        self._place()
        self.y -= LINE / 2

    def image(self, pixels, caption_lines: list[str]) -> None:
        self._place()
        width = A4[0] - 2 * MARGIN
        height = width * pixels.shape[0] / pixels.shape[1]
        needed = height + LINE * (len(caption_lines) + 1)
        if self.page is None or self.y - needed < MARGIN:
            self._new_page()
        self.y -= height
        from matplotlib.transforms import Bbox, TransformedBbox

        place = Bbox.from_bounds(MARGIN / A4[0], self.y / A4[1], width / A4[0], height / A4[1])
        image = _PixelsImage(TransformedBbox(place, self.page.transFigure), interpolation="none")
        image.set_data(pixels)  # RGBA as drawn: the backend leaves out an alpha opaque everywhere (RGB cost a copy)
        self.page.add_artist(image)
        self.y -= LINE / 2
        for text in caption_lines:
            self.line(text)

    def _new_page(self) -> None:
        from matplotlib.figure import Figure

        self._place()
        self.flush()
        self.page = Figure(figsize=A4)
        self.y = A4[1] - MARGIN

    def _place(self) -> None:
        if not self.run:
            return
        size, weight, height, family = STYLES[self.style]
        weight = weight or self.text_weight
        self.y -= height * len(self.run)
        self.page.text(
            MARGIN / A4[0],
            self.y / A4[1],
            "\n".join(self.run),
            fontsize=size,
            fontweight=weight,
            family=family,
            va="bottom",
            linespacing=height * 72 / size / 1.2,
        )
        self.run = []

    def flush(self) -> None:
        self._place()
        if self.page is not None:
            self.pdf.savefig(self.page)
            self.page = None


class _PixelsImage(BboxImage):
    """A BboxImage that vector backends embed as it is, scaled by the PDF's own transform: matplotlib does so for
    images it need not resample (``_check_unsampled_image``, which only AxesImage answers yes to), and otherwise
    resamples to the page's 100 dpi: 707 of the figure's 900 pixels across, and time spent losing them."""

    def _check_unsampled_image(self):
        return True


def render(doc) -> bytes:
    """The PDF's bytes; no creation date, so the same run gives the same bytes."""
    import io

    import matplotlib

    from galaxy_dl.runtime import deferred

    # fontTools' subsetter, imported by the backend at module level, serves only Type 42 fonts, which the
    # report never embeds (core fonts, else Type 3): importing it was a third of the PDF's cost in a run
    with deferred("fontTools.subset"):
        from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    core = _latin(doc)
    fonts: dict[Any, Any] = {
        "pdf.use14corefonts": core,
        "text.parse_math": False,
    }  # core: nothing to embed; text drawn as written
    with matplotlib.rc_context(fonts), PdfPages(buffer, metadata={"CreationDate": None, "Title": doc.title}) as pdf:
        pages = _Pages(pdf, core)
        pages.line(doc.title, "title")
        for text in _wrap(doc.subtitle):
            pages.line(text)
        for section in doc.sections:
            pages.gap()
            pages.keep(8)
            pages.line(section.title, "h2")
            for block in section.blocks:
                _block(pages, block)
        pages.flush()
    return buffer.getvalue()


def _latin(doc) -> bool:
    """Whether every text of ``doc`` fits the PDF core fonts' encoding (else DejaVu is embedded: class names
    in Greek or CJK stay readable)."""
    from galaxy_dl.report.document import Facts, Figure, Note, Table

    texts = [doc.title, doc.subtitle]
    for section in doc.sections:
        texts.append(section.title)
        for block in section.blocks:
            if isinstance(block, Facts):
                texts += [f"{label}{value}" for label, value in block.rows]
            elif isinstance(block, Table):
                texts += [block.caption, *map(str, block.frame.columns), *block.frame.astype(str).to_numpy().ravel()]
            elif isinstance(block, (Figure, Note)):
                texts.append(getattr(block, "caption", None) or getattr(block, "text", ""))
    try:
        "".join(texts).encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, COLUMNS, subsequent_indent=indent, break_on_hyphens=False) or [""]


def _block(pages: _Pages, block) -> None:
    from galaxy_dl.report.document import Facts, Figure, Note, Table

    if isinstance(block, Facts):
        width = max(len(label) for label, _ in block.rows) + 2
        for label, value in block.rows:
            for text in _wrap(f"{label + ':':<{width}}{value}", " " * width):
                pages.line(text)
    elif isinstance(block, Table):
        pages.keep(min(len(block.frame) + 3, 12))
        if block.caption:
            pages.line(block.caption, "caption")
        for text in block.frame.to_string(index=False, line_width=COLUMNS).splitlines():
            for piece in _wrap(text):
                pages.line(piece)
    elif isinstance(block, Figure):
        pages.image(block.pixels(), _wrap(block.caption))
    elif isinstance(block, Note):
        for text in _wrap(block.text):
            pages.line(text)
    else:
        raise TypeError(f"not a report block: {type(block).__name__}")
    pages.gap()
