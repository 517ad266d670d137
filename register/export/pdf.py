"""The register as a PDF (*registre des stupéfiants*, CSP R.5132-36), streamed onto reportlab's canvas.

Why not platypus tables: they lay the whole table out before drawing and slow down as it grows.
Here each line is drawn as soon as it is read (rows come from a server-side cursor), so memory
stays flat and the cost per line is constant:

- "page n / N": N is unknown until the end, so every page draws ``n /`` and then a form XObject
  that is only defined at the end (the classic streaming trick: no page is kept to be redrawn);
- every page repeats the establishment's name and address (R.5132-36), the period, the column
  header, and shows the chain hash of the last line drawn on it;
- a cell wraps its text (widths from the font's metrics), the row takes the height of its
  tallest cell, and a row taller than what is left of the page continues on the next one.

The hot path writes the PDF text operators itself through ``canvas.addLiteral`` and caches the
encoded form of each distinct string (product names, dates, names repeat a lot), which is what
lets a full register line cost about as much as a bare ``drawString``.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.utils import timezone
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFObject, PDFPage, PDFResourceDictionary
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from register.chain import ChainVerifier, VerificationResult
from register.export.lines import (
    PDF_FIELDS,
    REASON_LABELS,
    ExportScope,
    SummaryRow,
    clean_text,
    local,
    monthly_summary,
)
from register.models import RegisterHead
from register.selectors import cached_balances, chain_rows

PAGE_WIDTH, PAGE_HEIGHT = landscape(A4)
MARGIN = 20.0
FONT = "RegisterSans"
FONT_BOLD = "RegisterSans-Bold"
SIZE = 7.0
LEADING = 8.4
PAD = 2.2
SHADE = "0.91"  # grey level of every other row
HEADER_SHADE = "0.80"
RED = (0.75, 0.0, 0.0)
GREEN = (0.0, 0.42, 0.16)
FOOTER_TOP = MARGIN + 16
_FONTS_DIR = Path(__file__).parent / "fonts"
# zlib level of the page streams: 1 rather than zlib's default 6 costs ~12 % more file (14.9
# instead of 13.2 MB for 100,000 lines) and saves ~8 % of the export's CPU (bench/README.md).
PAGE_COMPRESSION = 1
_CACHE_LIMIT = 20_000  # distinct strings kept encoded; cleared when full so memory stays bounded
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
Color = tuple[float, float, float]

PAGE_TOTAL_FORM = "registerPageTotal"
PAGE_HEADER_FORM = "registerPageHeader"
LINE_TOTAL_FORM = "registerLineTotal"
VERIFICATION_FORM = "registerVerification"
VERIFICATION_LINES = 3  # room kept on page 1 for the verification statement, in text lines


class _DeflatedStream(PDFObject):
    """A page's operators, deflated when the page ends, written as they are at ``save()``
    (reportlab's generic stream formatting copies and re-formats a dictionary per page)."""

    __RefOnly__ = 1  # an indirect object, which the page's /Contents refers to

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        data = document.encrypt.encode(self.data)
        return b"<< /Filter /FlateDecode /Length %d >>\nstream\n%b\nendstream\n" % (len(data), data)


class _Formatted(PDFObject):
    """A direct value formatted once, for the thousands of pages that repeat it (/MediaBox)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


class _FinishedPage(PDFPage):
    """A finished page that holds its contents, the shared media box and shared resources, and
    nothing else (``_compress_finished_page`` checks): its dictionary is written directly.

    reportlab's generic page formatting (some 25 attributes looked up, a dictionary built, its
    keys sorted and formatted) was half of ``save()`` for a register of ~8,000 pages.
    """

    def format(self, document: Any) -> bytes:
        ref = document.Reference
        return b"<< /Type /Page /Parent %b /MediaBox %b /Resources %b /Contents %b >>" % (
            ref(document.Pages).format(document),
            self.MediaBox.format(document),
            ref(self.Resources).format(document),
            ref(self.Contents).format(document),
        )


# Page attributes that ``_FinishedPage`` does not write: a page that has any keeps reportlab's way.
_PAGE_EXTRAS = (
    "Annots", "CropBox", "ArtBox", "BleedBox", "TrimBox", "Dur", "Thumb", "B", "Hid", "AA",
    "PieceInfo", "LastModified", "SeparationInfo", "ID", "PZ",
)


class _SharedResources(PDFResourceDictionary):
    """A page resource dictionary written once, as an indirect object, for all the pages that use
    the same forms (every page of the register shows the same headers and page total)."""

    __RefOnly__ = 1


def _register_fonts() -> None:
    # DejaVu Sans Condensed ships with the project: it covers Latin, Greek, Cyrillic and most
    # symbols, so any name a user typed prints as itself (a glyph it lacks prints as a box).
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(_FONTS_DIR / "DejaVuSansCondensed.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONTS_DIR / "DejaVuSansCondensed-Bold.ttf")))


@dataclass(frozen=True)
class Column:
    label: str
    width: float
    align: str = "left"  # or "right" for quantities


class _Encoder:
    """Wraps and encodes strings for one font, size and document, with bounded caches."""

    def __init__(self, canvas: Canvas, font_name: str, size: float) -> None:
        self.font: Any = pdfmetrics.getFont(font_name)
        # The TrueType subsets are per document; reportlab keeps them on the canvas's document.
        self.doc = canvas._doc
        self.size = size
        self._runs: dict[str, tuple[tuple[tuple[str, str], ...], float]] = {}
        self._wraps: dict[tuple[str, float], tuple[str, ...]] = {}
        self._blocks: dict[tuple[str, ...], tuple[str, str, str]] = {}
        # Printable ASCII is assigned first, to itself, in the font's first subset: any ASCII
        # string (numbers, dates, hashes, most names) is then shown as is, without splitting.
        subset, _ = self.font.splitString("".join(map(chr, range(32, 127))), self.doc)[0]
        self.ascii_font = self.font.getSubsetInternalName(subset, self.doc)
        # The width of a digit when all ten are alike (tabular figures, as in DejaVu Sans): order
        # numbers, quantities and balances are then right-aligned without measuring them.
        digit_widths = {self.width(digit) for digit in "0123456789"}
        self.digit_width = digit_widths.pop() if len(digit_widths) == 1 else None

    def width(self, text: str) -> float:
        return float(self.font.stringWidth(text, self.size))

    def number_width(self, digits: str) -> float:
        """The width of an integer's text, without measuring it when the digits are all alike."""
        if self.digit_width is not None and digits.isdigit():
            return len(digits) * self.digit_width
        return self.width(digits)

    def run(self, text: str) -> tuple[tuple[tuple[str, str], ...], float]:
        """The text as (subset font name, ``(...) Tj`` operator) pairs, and its width."""
        hit = self._runs.get(text)
        if hit is None:
            if len(self._runs) > _CACHE_LIMIT:
                self._runs.clear()
            if text.isascii():
                parts: tuple[tuple[str, str], ...] = ((self.ascii_font, f"({escapePDF(text)}) Tj"),)
            else:
                parts = tuple(
                    (self.font.getSubsetInternalName(subset, self.doc), f"({escapePDF(raw)}) Tj")
                    for subset, raw in self.font.splitString(text, self.doc)
                )
            hit = self._runs[text] = (parts, self.width(text))
        return hit

    def block(self, lines: tuple[str, ...]) -> tuple[str, str, str]:
        """Lines shown one under the other from the current text position: (first font, operators,
        last font). Cached: the same cell text (a product, a supplier, a name) recurs a lot."""
        hit = self._blocks.get(lines)
        if hit is None:
            if len(self._blocks) > _CACHE_LIMIT:
                self._blocks.clear()
            ops: list[str] = []
            first = current = ""
            for index, line in enumerate(lines):
                if index:
                    ops.append("T*")
                for name, show in self.run(line)[0] if line else ():
                    if not first:
                        first = current = name
                    elif name != current:
                        ops.append(f"{name} {self.size} Tf")
                        current = name
                    ops.append(show)
            hit = self._blocks[lines] = (first or self.ascii_font, " ".join(ops), current or self.ascii_font)
        return hit

    def cell_ops(
        self, place: str, right_edge: float | None, lines: tuple[str, ...], color: Color | None = None
    ) -> str:
        """A whole cell's operators in row coordinates (first baseline at y = 0, next lines by T*).

        Context-free, so that a cell is rendered once and drawn on any row: it expects the ASCII
        subset to be the current font (each row's text object starts with it) and leaves it
        current again, whatever other subsets its text needed.
        """
        if not lines or lines == ("",):
            return ""
        ascii_font, size = self.ascii_font, self.size
        ops = [] if color is None else [f"{color[0]} {color[1]} {color[2]} rg"]
        if right_edge is None:
            first, body, last = self.block(lines)
            ops.append(f"{place} 0 Tm")
            if first != ascii_font:
                ops.append(f"{first} {size} Tf")
            ops.append(body)
        else:
            # Right-aligned: each line starts where its own width puts it.
            last = ascii_font
            for offset, line in enumerate(lines):
                if not line:
                    continue
                parts, width = self.run(line)
                ops.append(f"1 0 0 1 {right_edge - width:.2f} {-offset * LEADING:.2f} Tm")
                for name, show in parts:
                    if name != last:
                        ops.append(f"{name} {size} Tf")
                        last = name
                    ops.append(show)
        if last != ascii_font:
            ops.append(f"{ascii_font} {size} Tf")
        if color is not None:
            ops.append("0 g")
        return " ".join(ops)

    def fresh_cell_ops(self, place: str, lines: tuple[str, ...], color: Color | None = None) -> str:
        """``cell_ops`` of a left-aligned cell whose text is new on (nearly) every row (a date, a
        note): ASCII text is written directly, as caching it would only evict the text that does
        recur (products, names) from the caches."""
        if not all(map(str.isascii, lines)):
            return self.cell_ops(place, None, lines, color)
        body = " T* ".join([f"({escapePDF(line)}) Tj" for line in lines])
        if color is None:
            return f"{place} 0 Tm {body}"
        return f"{color[0]} {color[1]} {color[2]} rg {place} 0 Tm {body} 0 g"

    def wrap(self, text: str, width: float) -> tuple[str, ...]:
        """Greedy word wrap into ``width`` points; a word longer than a line is cut. Cached."""
        key = (text, width)
        hit = self._wraps.get(key)
        if hit is None:
            if len(self._wraps) > _CACHE_LIMIT:
                self._wraps.clear()
            hit = self._wraps[key] = self.wrap_fresh(text, width)
        return hit

    def wrap_fresh(self, text: str, width: float) -> tuple[str, ...]:
        """``wrap`` without the cache, for text new on (nearly) every row."""
        # reportlab writes characters beyond U+FFFF into the font's ToUnicode map in a form that
        # readers reject; the PDF prints U+FFFD for them (the CSV keeps them as typed).
        text = _ASTRAL.sub("\ufffd", text)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            if self.width(paragraph) <= width:
                lines.append(paragraph)
                continue
            current = ""
            for word in paragraph.split(" "):
                candidate = f"{current} {word}" if current else word
                if self.width(candidate) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                while self.width(word) > width:
                    cut = self._fit(word, width)
                    lines.append(word[:cut])
                    word = word[cut:]
                current = word
            lines.append(current)
        return tuple(lines)

    def _fit(self, word: str, width: float) -> int:
        low, high = 1, len(word)
        while low < high:
            middle = (low + high + 1) // 2
            if self.width(word[:middle]) <= width:
                low = middle
            else:
                high = middle - 1
        return low


# A table cell: its wrapped lines, its colour, and its operators when drawn whole on a row
# (``_Encoder.cell_ops``), or None to have them rendered when drawn.
Cell = tuple[tuple[str, ...], Color | None, str | None]
BLOCK_LEADING = 11.0


@dataclass(frozen=True)
class TextBlock:
    """Text drawn at the end into room kept earlier (``RegisterPdfWriter.deferred_block``)."""

    text: str
    lines: int
    size: float = 8
    bold: bool = False
    color: tuple[float, float, float] | None = None


class _Table:
    def __init__(self, columns: Sequence[Column], left: float, *, form: str) -> None:
        self.columns = columns
        self.form = form
        self.header_height = 0.0
        self.xs: list[float] = []
        # Where text starts in each column: a fixed x for left-aligned text, the right edge for
        # right-aligned quantities (their x depends on the text's width).
        self.anchors: list[tuple[str, float | None]] = []
        self.places: list[str] = []  # "1 0 0 1 x": the start of a Tm operator for the column
        self.inner: list[float] = []
        x = left
        for column in columns:
            self.xs.append(x)
            right = x + column.width - PAD if column.align == "right" else None
            self.anchors.append((f"{x + PAD:.2f}", right))
            self.places.append(f"1 0 0 1 {x + PAD:.2f}")
            self.inner.append(column.width - 2 * PAD)
            x += column.width
        self.left = left
        self.width = x - left
        # The x of each inner vertical rule, formatted once for every page's grid.
        self.rules = [f"{x:.2f}" for x in self.xs[1:]]


class RegisterPdfWriter:
    """Draws pages on a canvas: header and footer on each, tables whose header repeats."""

    def __init__(
        self,
        out: IO[bytes],
        *,
        establishment_name: str,
        establishment_address: str,
        period: str,
        edited: str,
        title: str = "Registre des stupéfiants — kétamine injectable (CSP art. R.5132-36)",
    ) -> None:
        _register_fonts()
        self.canvas = Canvas(out, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), pageCompression=1, invariant=0)
        self.canvas.setTitle(clean_text(f"{title} — {establishment_name}"))
        self.canvas.setAuthor("Registre des stupéfiants")
        self.text = _Encoder(self.canvas, FONT, SIZE)
        self.bold = _Encoder(self.canvas, FONT_BOLD, SIZE)
        self.footer_font = _Encoder(self.canvas, FONT, 6.5)
        self.label_font = _Encoder(self.canvas, FONT_BOLD, 11)
        self.title = clean_text(title)
        self.name_lines = self._encoder(FONT_BOLD, 12).wrap(clean_text(establishment_name), 520)
        address = " · ".join(part.strip() for part in clean_text(establishment_address).split("\n") if part.strip())
        self.address_lines = self._encoder(FONT, 8.5).wrap(address, 520)
        self.period = clean_text(period)
        self.edited = clean_text(edited)
        self.page_number = 0
        self.y = self.body_top = 0.0
        self.table: _Table | None = None
        self.table_top = 0.0
        self.shade = False
        self.page_last_line: tuple[int, str] | None = None
        self.last_line: tuple[int, str] | None = None
        self.header_bottom = 0.0
        self.tz = timezone.get_current_timezone()
        self._tables = 0
        # Wrapped text cells of register lines by their stored values (see ``line_cells``).
        self.cell_cache: dict[tuple[Any, ...], Any] = {}
        self._media_box: _Formatted | None = None
        self._resources: dict[tuple[tuple[str, ...], bool], _SharedResources] = {}
        self._define_page_header()
        self._start_page()

    def _encoder(self, font: str, size: float) -> _Encoder:
        return _Encoder(self.canvas, font, size)

    # -- pages ---------------------------------------------------------------------------------

    def _define_page_header(self) -> None:
        """The part of the page header that every page repeats, drawn once as a form XObject.

        R.5132-36 wants the establishment's name and address on every page: each page shows this
        form (by reference, so a register of thousands of pages carries it once).
        """
        c = self.canvas
        top = PAGE_HEIGHT - MARGIN
        y = top - 23
        for _ in self.name_lines:
            y -= 13
        y -= 10 * len(self.address_lines)
        self.header_bottom = y - 1
        c.beginForm(PAGE_HEADER_FORM, lowerx=0, lowery=self.header_bottom - 2, upperx=PAGE_WIDTH, uppery=PAGE_HEIGHT)
        c.setFillGray(0)
        c.setFont(FONT_BOLD, 9)
        c.drawString(MARGIN, top - 8, self.title)
        y = top - 23
        c.setFont(FONT_BOLD, 12)
        for line in self.name_lines:
            c.drawString(MARGIN, y, line)
            y -= 13
        c.setFont(FONT, 8.5)
        for line in self.address_lines:
            c.drawString(MARGIN, y + 1, line)
            y -= 10
        c.setFont(FONT, 9)
        c.drawRightString(PAGE_WIDTH - MARGIN, top - 23, f"Période : {self.period}")
        c.setLineWidth(0.6)
        c.line(MARGIN, self.header_bottom, PAGE_WIDTH - MARGIN, self.header_bottom)
        c.endForm()

    def _start_page(self) -> None:
        self.page_number += 1
        self.page_last_line = None
        c = self.canvas
        c.doForm(PAGE_HEADER_FORM)
        top = PAGE_HEIGHT - MARGIN
        label = f"Page {self.page_number} / "
        width = self.label_font.width(label)
        x = PAGE_WIDTH - MARGIN - 40 - width
        self._literal_text(self.label_font, x, top - 9, [label])
        self._place_form(PAGE_TOTAL_FORM, x + width, top - 9)
        self.y = self.body_top = self.header_bottom - 5
        if self.table is not None:
            self._table_header()

    def _literal_text(self, encoder: _Encoder, x: float, y: float, pieces: Sequence[str], *, right: bool = False) -> None:
        """Draw pieces of text one after the other (each piece cached on its own: the constant
        words apart from the page's number and hash)."""
        if right:
            x -= sum(encoder.run(piece)[1] for piece in pieces)
        ops = [f"BT 0 g 1 0 0 1 {x:.2f} {y:.2f} Tm"]
        current = ""
        for piece in pieces:
            for name, show in encoder.run(piece)[0]:
                if name != current:
                    ops.append(f"{name} {encoder.size} Tf")
                    current = name
                ops.append(show)
        ops.append("ET")
        self.canvas.addLiteral(" ".join(ops))

    def _finish_page(self) -> None:
        self._close_grid()
        self.canvas.addLiteral(f"q 0.4 w 0 G {MARGIN} {FOOTER_TOP - 4} m {PAGE_WIDTH - MARGIN} {FOOTER_TOP - 4} l S Q")
        if self.page_last_line is not None:
            number, digest = self.page_last_line
            # The constant words (with their non-ASCII "°") apart from the ASCII number and hash.
            chain = ["Empreinte de la chaîne à la dernière ligne de la page (n° ", f"{number}) : {digest}"]
        elif self.last_line is not None:
            number, digest = self.last_line
            chain = ["Aucune ligne sur cette page — dernière ligne exportée n° ", f"{number} : {digest}"]
        else:
            chain = ["Aucune ligne du registre sur cette page."]
        self._literal_text(self.footer_font, MARGIN, MARGIN + 3, chain)
        self._literal_text(self.footer_font, PAGE_WIDTH - MARGIN, MARGIN + 3, [self.edited], right=True)
        self.canvas.showPage()
        self._compress_finished_page()

    def _compress_finished_page(self) -> None:
        """Deflate the page just finished now rather than at ``save()``, and give it the parts
        every page shares.

        reportlab keeps every finished page's operators as text until it writes the file: for a
        register of 100,000 lines that is ~100 MB. Compressed as each page ends, the document
        held in memory shrinks to about the size of the file (FlateDecode, as reportlab would).
        The media box and the resources (fonts, the header and page-total forms) are the same
        on (nearly) every page: formatted once, not once per page of a ~8,000-page register.
        """
        page = self.canvas._doc.Pages.pages[-1]
        if page.stream and not page.Contents:
            page.Contents = _DeflatedStream(zlib.compress(page.stream.encode("latin-1"), PAGE_COMPRESSION))
            page.stream = None
        if page.MediaBox is None and not page.Rotate:
            if self._media_box is None:
                self._media_box = _Formatted(PDFArray([0, 0, page.pagewidth, page.pageheight]).format(self.canvas._doc))
            page.MediaBox = self._media_box
        if page.Resources is None and not (page.ExtGState or page._colorsUsed or page._shadingUsed):
            # What PDFPage.check_format would build for this page, shared with the pages alike.
            forms = tuple(sorted(page.XObjects.dict)) if page.XObjects else ()
            key = (forms, bool(page.hasImages))
            resources = self._resources.get(key)
            if resources is None:
                resources = self._resources[key] = _SharedResources()
                resources.basicFonts()
                if page.hasImages:
                    resources.allProcs()
                if page.XObjects:
                    resources.XObject = page.XObjects
            page.Resources = resources
        if (
            type(page) is PDFPage
            and isinstance(page.Contents, _DeflatedStream)
            and page.MediaBox is self._media_box
            and isinstance(page.Resources, _SharedResources)
            and not page.Rotate
            and not (page.Trans and page.Trans.dict)
            and not any(getattr(page, name, None) for name in _PAGE_EXTRAS)
        ):
            page.__class__ = _FinishedPage

    def _ensure(self, height: float) -> None:
        if self.y - height < FOOTER_TOP:
            self._finish_page()
            self._start_page()

    # -- free text -----------------------------------------------------------------------------

    def heading(self, text: str, *, size: float = 10, color: tuple[float, float, float] | None = None) -> None:
        self.end_table()
        encoder = self._encoder(FONT_BOLD, size)
        lines = encoder.wrap(clean_text(text), PAGE_WIDTH - 2 * MARGIN)
        self._ensure(len(lines) * (size + 3) + 6 + 3 * LEADING)
        c = self.canvas
        c.setFont(FONT_BOLD, size)
        c.setFillColorRGB(*(color or (0, 0, 0)))
        for line in lines:
            self.y -= size + 2
            c.drawString(MARGIN, self.y, line)
        c.setFillGray(0)
        self.y -= 5

    def paragraph(self, text: str, *, color: tuple[float, float, float] | None = None, form: str | None = None) -> None:
        """A line of body text; ``form`` appends a form XObject drawn at the end of the text."""
        self.end_table()
        lines = self._encoder(FONT, 8).wrap(clean_text(text), PAGE_WIDTH - 2 * MARGIN - 30)
        c = self.canvas
        c.setFont(FONT, 8)
        c.setFillColorRGB(*(color or (0, 0, 0)))
        for line in lines:
            self._ensure(10)
            self.y -= 10
            c.drawString(MARGIN, self.y, line)
        if form is not None:
            c.saveState()
            c.translate(MARGIN + c.stringWidth(lines[-1], FONT, 8) + 2, self.y)
            c.doForm(form)
            c.restoreState()
        c.setFillGray(0)
        self.y -= 3

    def deferred_block(self, form: str, *, lines: int) -> None:
        """Keep room for ``lines`` lines of text that are only known at the end (drawn by
        ``close(blocks=...)`` as the form XObject ``form``, the same trick as "page n / N")."""
        self.end_table()
        height = lines * BLOCK_LEADING + 3
        self._ensure(height)
        c = self.canvas
        c.saveState()
        c.translate(MARGIN, self.y)
        c.doForm(form)
        c.restoreState()
        self.y -= height

    def _define_block(self, form: str, block: TextBlock) -> None:
        width = PAGE_WIDTH - 2 * MARGIN
        font = FONT_BOLD if block.bold else FONT
        size = block.size
        lines = self._encoder(font, size).wrap(clean_text(block.text), width)
        while len(lines) > block.lines and size > 5:
            # A longer text than the room kept (it never is with our wording): smaller, not clipped.
            size -= 0.5
            lines = self._encoder(font, size).wrap(clean_text(block.text), width)
        leading = min(BLOCK_LEADING, block.lines * BLOCK_LEADING / max(len(lines), 1))
        c = self.canvas
        c.beginForm(form, lowerx=0, lowery=-block.lines * BLOCK_LEADING - 3, upperx=width, uppery=0)
        c.setFont(font, size)
        c.setFillColorRGB(*(block.color or (0, 0, 0)))
        for index, line in enumerate(lines):
            c.drawString(0, -(index + 1) * leading + 1, line)
        c.endForm()

    # -- tables --------------------------------------------------------------------------------

    def begin_table(self, columns: Sequence[Column]) -> None:
        self.end_table()
        self._tables += 1
        self.table = _Table(columns, MARGIN, form=f"registerTableHeader{self._tables}")
        self.shade = False
        self._define_table_header()
        self._ensure(self.table.header_height + 2 * LEADING + 2 * PAD)
        self._table_header()

    def _define_table_header(self) -> None:
        """The column header, repeated on every page of the table: drawn once, as a form."""
        table = self.table
        assert table is not None
        cells: list[Cell] = [
            (self.bold.wrap(column.label, width), None, None) for column, width in zip(table.columns, table.inner, strict=True)
        ]
        count = max(len(lines) for lines, _, _ in cells)
        table.header_height = count * LEADING + 2 * PAD
        saved_y = self.y
        self.y = 0.0  # the form is drawn with its top edge at the current position
        self.canvas.beginForm(table.form, lowerx=0, lowery=-table.header_height, upperx=PAGE_WIDTH, uppery=0)
        self._emit(cells, 0, count, HEADER_SHADE, self.bold, whole=True)
        self.canvas.endForm()
        self.y = saved_y

    def end_table(self) -> None:
        self._close_grid()
        if self.table is not None:
            self.y -= 8
        self.table = None

    def _table_header(self) -> None:
        table = self.table
        assert table is not None
        self.table_top = self.y
        self._place_form(table.form, 0, self.y)
        self.y -= table.header_height

    def _place_form(self, name: str, x: float, y: float) -> None:
        """Show a form XObject with its origin at (x, y). The graphics state is saved, moved and
        restored by writing the operators: the canvas's saveState/translate/restoreState, twice
        per page, cost as much as drawing a few rows."""
        c = self.canvas
        c.addLiteral(f"q 1 0 0 1 {fp_str(x, y)} cm")
        c.doForm(name)
        c.addLiteral("Q")

    def _close_grid(self) -> None:
        table = self.table
        if table is None or self.table_top <= self.y:
            return
        bottom, top = f"{self.y:.2f}", f"{self.table_top:.2f}"
        ops = [f"q 0.55 G 0.3 w {table.left:.2f} {bottom} {table.width:.2f} {self.table_top - self.y:.2f} re S"]
        ops.extend([f"{x} {bottom} m {x} {top} l S" for x in table.rules])
        ops.append("Q")
        self.canvas.addLiteral(" ".join(ops))
        self.table_top = self.y

    def row(self, cells: Sequence[Cell], *, last_line: tuple[int, str] | None = None) -> None:
        """Draw one table row; ``last_line`` (number, hash) when the row is a register line."""
        table = self.table
        assert table is not None
        self.shade = not self.shade
        total = max([len(cell[0]) for cell in cells])
        done = 0
        while done < total:
            room = int((self.y - FOOTER_TOP - 2 * PAD) // LEADING)
            left = total - done
            if left > room and (
                room < 1 or (done == 0 and (left <= min(12, self._fresh_room()) or room < 4))
            ):
                # A short row moves whole to the next page; a long one (a long late-entry reason,
                # a long note) is split, so that no page is left mostly empty.
                self._finish_page()
                self._start_page()
                continue
            count = min(left, room)
            height = count * LEADING + 2 * PAD
            self._emit(cells, done, count, SHADE if self.shade else None, self.text, whole=count == total)
            self.y -= height
            done += count
            if last_line is not None:
                self.page_last_line = self.last_line = last_line
            if done < total:
                self._finish_page()
                self._start_page()

    def _fresh_room(self) -> int:
        """How many text lines a row may take on an empty page, below the headers."""
        assert self.table is not None
        return int((self.body_top - self.table.header_height - FOOTER_TOP - 2 * PAD) // LEADING)

    def _emit(
        self, cells: Sequence[Cell], start: int, count: int, shade: str | None, encoder: _Encoder, *, whole: bool
    ) -> None:
        """Text lines ``start`` to ``start + count`` of a row (``whole``: all of them) at ``self.y``."""
        table = self.table
        assert table is not None
        height = count * LEADING + 2 * PAD
        ops: list[str] = []
        if shade:
            ops.append(f"q {shade} g {table.left:.2f} {self.y - height:.2f} {table.width:.2f} {height:.2f} re f Q")
        # The row's text is drawn in coordinates translated to its first baseline (one ``cm``):
        # a cell's operators then do not depend on where the row falls on the page, so a cell
        # whose text recurs (the same product, supplier, name) is rendered once.
        ascii_font = encoder.ascii_font
        ops.append(f"q 1 0 0 1 0 {self.y - PAD - SIZE + 0.4:.2f} cm BT {ascii_font} {encoder.size} Tf 0 g {LEADING} TL")
        append = ops.append
        if whole:
            rendered = [cell[2] for cell in cells]
            if None in rendered:  # a summary's cells; the register's lines come rendered
                places, anchors = table.places, table.anchors
                rendered = [
                    encoder.cell_ops(places[index], anchors[index][1], lines, color) if text is None else text
                    for index, ((lines, color, _), text) in enumerate(zip(cells, rendered, strict=True))
                ]
            ops.extend(filter(None, rendered))
        else:
            # Part of a row split across pages: line by line, "(suite)" in the first column.
            run, size = encoder.run, encoder.size
            current = ascii_font
            for index, ((lines, color, _), (left, right_edge)) in enumerate(zip(cells, table.anchors, strict=True)):
                if not lines or lines == ("",):
                    continue
                if color is not None:
                    append(f"{color[0]} {color[1]} {color[2]} rg")
                shown = ("(suite)",) if start and index == 0 else lines[start : start + count]
                for offset, line in enumerate(shown):
                    if not line:
                        continue
                    parts, width = run(line)
                    x = left if right_edge is None else f"{right_edge - width:.2f}"
                    append(f"1 0 0 1 {x} {-offset * LEADING:.2f} Tm")
                    for name, show in parts:
                        if name != current:
                            append(f"{name} {size} Tf")
                            current = name
                        append(show)
                if color is not None:
                    append("0 g")
        append("ET Q")
        self.canvas.addLiteral(" ".join(ops))

    def line_cell(self, index: int, lines: tuple[str, ...]) -> Cell:
        """A cell of column ``index`` with its operators rendered (``_Encoder.cell_ops``), to be
        cached by a caller whose text recurs."""
        table = self.table
        assert table is not None
        return (lines, None, self.text.cell_ops(table.places[index], table.anchors[index][1], lines))

    def cells(self, values: Iterable[str | tuple[str, Color | None]]) -> list[Cell]:
        """Wrap each value into its column (a value may come with a colour)."""
        table = self.table
        assert table is not None
        wrap = self.text.wrap
        result: list[Cell] = []
        for width, value in zip(table.inner, values, strict=True):
            if isinstance(value, tuple):
                result.append((wrap(value[0], width), value[1], None))
            else:
                result.append((wrap(value, width), None, None))
        return result

    # -- end -----------------------------------------------------------------------------------

    def close(self, *, forms: dict[str, str] | None = None, blocks: dict[str, TextBlock] | None = None) -> int:
        """Finish the last page, define the deferred forms (page total...), write the file."""
        self.end_table()
        self._finish_page()
        for name, block in (blocks or {}).items():
            self._define_block(name, block)
        total_pages = self.page_number
        values = {PAGE_TOTAL_FORM: str(total_pages), **(forms or {})}
        c = self.canvas
        for name, text in values.items():
            c.beginForm(name, lowerx=0, lowery=-4, upperx=200, uppery=14)
            c.setFont(FONT_BOLD if name == PAGE_TOTAL_FORM else FONT, 11 if name == PAGE_TOTAL_FORM else 8)
            c.drawString(0, 0, text)
            c.endForm()
        c.save()
        return total_pages


LINE_COLUMNS = (
    Column("N°\nd'ordre", 32, "right"),
    Column("Date, heure de l'opération", 44),
    Column("Désignation (produit, lot, emplacement)", 146),
    Column("Entrée\n(unités)", 34, "right"),
    Column("Sortie\n(unités)", 34, "right"),
    Column("Solde lot, empl.", 34, "right"),
    Column("Motif", 50),
    Column("Fournisseur, destinataire", 92),
    Column("Prescripteur (nom, adresse)", 96),
    Column("Patient (nom, adresse)", 96),
    Column("Saisi par", 42),
    Column("Saisie tardive, annulations, observations", 102),
)

SUMMARY_COLUMNS = (
    Column("Produit", 250),
    Column("Mois", 70),
    Column("Ouverture (unités)", 70, "right"),
    Column("Entrées", 70, "right"),
    Column("Sorties", 70, "right"),
    Column("Clôture (unités)", 70, "right"),
    Column("Clôture mensuelle figée", 202),
)

CLOSING_COLUMNS = (
    Column("Mois", 50),
    Column("Produit", 190),
    Column("Ouverture", 50, "right"),
    Column("Entrées", 50, "right"),
    Column("Sorties", 50, "right"),
    Column("Clôture", 50, "right"),
    Column("Tête de chaîne (n°, empreinte)", 222),
    Column("Clôturé le, par", 140),
)

MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def _month_label(month: dt.date) -> str:
    return f"{MONTHS_FR[month.month - 1]} {month.year}"


def _stamp(value: dt.datetime) -> str:
    value = local(value)
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d} {value.hour:02d}:{value.minute:02d}"


_EMPTY: Cell = ((), None, "")
_NUMBER, _HASH, _IN_PERIOD = (PDF_FIELDS.index(name) for name in ("number", "hash", "in_period"))


def line_cells(row: Sequence[Any], writer: RegisterPdfWriter) -> list[Cell]:
    """The printed cells of one register line (R.5132-36: date, designation, quantity in units...),
    read as a tuple of ``PDF_FIELDS``.

    Order numbers, dates, quantities and balances, which vary from row to row, are written
    directly. Every other cell is cleaned, wrapped and rendered once per distinct stored value
    (``writer.cell_cache``): the same product, supplier, prescriber and patient recur on many lines.
    """
    (
        number, _location_id, _location_code, _lot_id, batch_number, _product_id, direction, reason, quantity,
        balance_after, counterparty, prescriber_name, prescriber_address, patient_name, patient_address,
        occurred_iso, recorded_iso, recorded_by_name, note, late_entry_reason, reverses, paired_with, _prev_hash,
        _hash, product_name, location_name, reversed_by, _in_period,
    ) = row
    table = writer.table
    assert table is not None
    text, places, inner, cache = writer.text, table.places, table.inner, writer.cell_cache
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    anchors = table.anchors
    if number < 10_000_000:
        number_cell = _number_cell(text, anchors[0][1], number)
    else:  # wider than its column: wrapped
        lines = text.wrap_fresh(str(number), inner[0])
        number_cell = (lines, None, text.cell_ops(places[0], anchors[0][1], lines))
    occurred = dt.datetime.fromisoformat(occurred_iso).astimezone(writer.tz)
    day = f"{occurred.day:02d}/{occurred.month:02d}/{occurred.year:04d}"
    minute = f"{occurred.hour:02d}:{occurred.minute:02d}"
    entry = direction == "entry"
    key: tuple[Any, ...] = (2, product_name, batch_number, location_name)
    designation = cache.get(key)
    if designation is None:
        designation = cache[key] = writer.line_cell(2, text.wrap(
            f"{clean_text(product_name)}\nlot {clean_text(batch_number)} · {clean_text(location_name)}", inner[2]
        ))
    key = (6, reason, counterparty)
    reason_counterparty = cache.get(key)
    if reason_counterparty is None:
        reason_counterparty = cache[key] = (
            writer.line_cell(6, text.wrap(REASON_LABELS.get(reason, clean_text(reason)), inner[6])),
            writer.line_cell(7, text.wrap(clean_text(counterparty), inner[7])),
        )
    key = (8, prescriber_name, prescriber_address)
    prescriber = cache.get(key)
    if prescriber is None:
        joined = "\n".join(part for part in (clean_text(prescriber_name), clean_text(prescriber_address)) if part)
        prescriber = cache[key] = writer.line_cell(8, text.wrap(joined, inner[8]))
    key = (9, patient_name, patient_address)
    patient = cache.get(key)
    if patient is None:
        joined = "\n".join(part for part in (clean_text(patient_name), clean_text(patient_address)) if part)
        patient = cache[key] = writer.line_cell(9, text.wrap(joined, inner[9]))
    key = (10, recorded_by_name)
    recorded_by = cache.get(key)
    if recorded_by is None:
        recorded_by = cache[key] = writer.line_cell(10, text.wrap(clean_text(recorded_by_name), inner[10]))
    remarks = _EMPTY
    if reverses or reversed_by or paired_with or note or late_entry_reason:
        remarks = _remarks_cell(writer, reverses, reversed_by, paired_with, note, late_entry_reason, recorded_iso)
    return [
        number_cell,
        ((day, minute), None, f"{places[1]} 0 Tm ({day}) Tj T* ({minute}) Tj"),
        designation,
        _number_cell(text, anchors[3][1], quantity) if entry else _EMPTY,
        _EMPTY if entry else _number_cell(text, anchors[4][1], quantity),
        _number_cell(text, anchors[5][1], balance_after),
        reason_counterparty[0],
        reason_counterparty[1],
        prescriber,
        patient,
        recorded_by,
        remarks,
    ]


def _number_cell(encoder: _Encoder, right_edge: float | None, value: int) -> Cell:
    """An integer right-aligned at ``right_edge`` (order number, quantity, balance): its text
    needs no escaping, and its width comes from the digits' (``_Encoder.number_width``)."""
    assert right_edge is not None
    digits = str(value)
    return ((digits,), None, f"1 0 0 1 {right_edge - encoder.number_width(digits):.2f} 0 Tm ({digits}) Tj")


def _remarks_cell(
    writer: RegisterPdfWriter,
    reverses: int | None,
    reversed_by: int | None,
    paired_with: int | None,
    note: str,
    late_entry_reason: str,
    recorded_iso: str,
) -> Cell:
    """The last column: late entry (in red), reversals, transfer, note. Rare, and new each time."""
    table = writer.table
    assert table is not None
    remarks: list[str] = []
    if reverses:
        remarks.append(f"Annule la ligne n° {reverses}.")
    if reversed_by:
        remarks.append(f"Annulée par la ligne n° {reversed_by}.")
    if paired_with:
        remarks.append(f"Transfert lié : ligne n° {paired_with}.")
    cleaned = clean_text(note)
    if cleaned:
        remarks.append(cleaned)
    late = clean_text(late_entry_reason)
    color = None
    if late:
        # Issue 9 §4: a backdated line is flagged, in red, with its reason and when it was typed.
        remarks.insert(0, f"SAISIE TARDIVE (saisie le {_stamp(dt.datetime.fromisoformat(recorded_iso))}) : {late}")
        color = RED
    if not remarks:
        return _EMPTY
    lines = writer.text.wrap_fresh("\n".join(remarks), table.inner[11])
    return (lines, color, writer.text.fresh_cell_ops(table.places[11], lines, color))


def _verification_block(result: VerificationResult, checked_at: dt.datetime) -> TextBlock:
    when = _stamp(checked_at)
    if result.ok:
        return TextBlock(
            f"Chaîne vérifiée jusqu'à la ligne {result.lines} le {when} : numéros d'ordre sans trou, "
            f"empreintes et soldes recalculés conformes (empreinte de tête {result.head_hash}).",
            VERIFICATION_LINES,
            color=GREEN,
        )
    return TextBlock(
        f"Chaîne ROMPUE à la ligne {result.first_broken} (vérification du {when}) : {clean_text(result.problem)}. "
        "Les lignes à partir de celle-ci ne sont pas garanties intègres.",
        VERIFICATION_LINES,
        size=9,
        bold=True,
        color=RED,
    )


def _cached_at_snapshot(scope: ExportScope) -> dict[tuple[int, int], int] | None:
    """The stock cache as it was at the export's register head, or None if lines were added since.

    A line and its balance are committed together with the head: read after the cache, a head
    still at the snapshot's number proves the cache read is the snapshot's.
    """
    cached = cached_balances(scope.establishment)
    head = RegisterHead.objects.filter(establishment=scope.establishment).values_list("last_number", flat=True).first()
    return cached if int(head or 0) == scope.upto_number else None


def write_register_pdf(
    out: IO[bytes],
    scope: ExportScope,
    *,
    edited_by: str,
    closings: Sequence[Any] = (),
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the register of ``scope`` as a PDF to ``out``; return the number of lines printed.

    One pass over the register: the chain is verified (``ChainVerifier``, the rule of
    ``register_verify``) from line 1 to the export's head while the period's lines are drawn.
    Lines before and after the period are only read and verified (no display fields); the
    statement on page 1 is a form XObject defined once the last line has been checked.
    """
    establishment = scope.establishment
    verifier = ChainVerifier(establishment.code)
    feed = verifier.feed
    writer = RegisterPdfWriter(
        out,
        establishment_name=establishment.name,
        establishment_address=establishment.address,
        period=scope.period_label(),
        edited=f"Édité le {_stamp(scope.generated_at)} par {clean_text(edited_by)} — {establishment.code}",
    )
    writer.deferred_block(VERIFICATION_FORM, lines=VERIFICATION_LINES)
    if scope.product is not None:
        writer.paragraph(f"Produit : {scope.product.name}")
    writer.paragraph(
        f"Lignes n° 1 à {scope.upto_number} du registre au moment de l'édition ; lignes de la période :",
        form=LINE_TOTAL_FORM,
    )
    writer.begin_table(LINE_COLUMNS)
    bounds = scope.number_bounds()
    first, last = bounds or (scope.upto_number + 1, scope.upto_number)
    for row in chain_rows(establishment, first=1, last=first - 1) if first > 1 else ():
        if feed(row):
            break
    count = 0
    for row in scope.iter_span_rows(first, last) if bounds else ():
        feed(row)  # a no-op once the chain is found broken: the lines are still all printed
        if row[_IN_PERIOD]:
            writer.row(line_cells(row, writer), last_line=(row[_NUMBER], row[_HASH]))
            count += 1
            if progress is not None and count % 500 == 0:
                progress(500)
    if progress is not None:
        progress(count % 500)
    if last < scope.upto_number and not verifier.broken:
        for row in chain_rows(establishment, first=last + 1, last=scope.upto_number):
            if feed(row):
                break
    verification = verifier.finish(
        head=(scope.upto_number, scope.upto_hash),
        cached=None if verifier.broken else _cached_at_snapshot(scope),
    )
    checked_at = timezone.now()
    if count == 0:
        writer.end_table()
        writer.paragraph("Aucune ligne dans cette période.")
    _write_summary(writer, monthly_summary(scope), closings)
    _write_closings(writer, closings)
    writer.close(forms={LINE_TOTAL_FORM: str(count)}, blocks={VERIFICATION_FORM: _verification_block(verification, checked_at)})
    return count


def _write_summary(writer: RegisterPdfWriter, rows: list[SummaryRow], closings: Sequence[Any]) -> None:
    writer.heading("Bilan mensuel par produit (ouverture + entrées − sorties = clôture), en unités")
    if not rows:
        writer.paragraph("Aucun mouvement ni stock sur la période.")
        return
    frozen = {(closing.product_id, closing.month): closing for closing in closings}
    writer.begin_table(SUMMARY_COLUMNS)
    for row in rows:
        closing = frozen.get((row.product_id, row.month))
        status: str | tuple[str, tuple[float, float, float] | None]
        if closing is None:
            status = "non clôturé"
        elif (closing.opening, closing.entries, closing.exits) == (row.opening, row.entries, row.exits):
            status = f"figée le {_stamp(closing.closed_at)} (tête n° {closing.head_number})"
        else:
            status = (f"ÉCART avec la clôture figée : ouverture {closing.opening}, entrées {closing.entries}, "
                      f"sorties {closing.exits}, clôture {closing.closing}", RED)
        writer.row(writer.cells([
            clean_text(row.product), _month_label(row.month), str(row.opening), str(row.entries),
            str(row.exits), str(row.closing), status,
        ]))


def _write_closings(writer: RegisterPdfWriter, closings: Sequence[Any]) -> None:
    writer.heading("Clôtures mensuelles figées (inaltérables)")
    if not closings:
        writer.paragraph("Aucune clôture mensuelle sur la période.")
        return
    writer.begin_table(CLOSING_COLUMNS)
    for closing in closings:
        writer.row(writer.cells([
            _month_label(closing.month), clean_text(closing.product.name), str(closing.opening),
            str(closing.entries), str(closing.exits), str(closing.closing),
            f"n° {closing.head_number}\n{closing.head_hash}",
            f"{_stamp(closing.closed_at)}\n{clean_text(closing.closed_by_name)}",
        ]))
