"""Reading a PDF: its page texts (cleaned), page 1's lines with their font size, its metadata.

pypdfium2 (Google's PDFium, the engine of Chrome's viewer; Apache-2.0/BSD) reads the text: measured on
real papers (scripts/bench_extract.py) it is the fastest of the libraries litkb could use, gives the
text in the order the page draws it (the columns of a two-column paper one after the other), marks the
hyphens it broke words with, maps ligatures to letters, and gives each character's font size and box,
which identifying a paper needs.

This module runs inside a worker process (see `litkb.fulltext.workers`): nothing here guards against a
file that hangs or eats memory; the worker's limits do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .clean import VERSION as CLEAN_VERSION
from .clean import clean_pages

MAX_PAGES = 1000  # pages read of a longer file (the rest is not searchable; the caller says so)
LAYOUT_PAGES = 1  # pages whose lines are measured (for the title, authors and abstract)
XMP_BYTES = 2 * 2**20  # how much of a file's start and end is searched for XMP metadata


class PdfProblem(Exception):
    """A file litkb cannot read as a PDF: the message says what is wrong with it, in a few words."""


@dataclass
class Line:
    """A line of text on a page: its text, font size (points), left edge and top (PDF units, y upward)."""

    text: str
    size: float
    left: float
    top: float
    bottom: float
    estimated: bool = False  # the size is the characters' height (the fonts' own sizes made no sense)


@dataclass
class RawPdf:
    """What a worker read from a file."""

    page_count: int  # pages the file has (only MAX_PAGES of them read)
    pages: list[str]  # cleaned text of each page read
    references_start: tuple[int, int] | None
    raw_first: str  # the raw text of pages 1 and 2, a form feed between (the arXiv stamp, DOIs)
    lines: list[Line]  # page 1's lines
    page_height: float
    metadata: dict[str, str] = field(default_factory=dict)
    xmp_dois: list[str] = field(default_factory=list)
    # Why the text cannot be searched ("no text layer", a garbled one), or None: it can.
    problem: str | None = None


@cache
def extractor_name() -> str:
    """The library and its version, and litkb's cleaning version: what `files:` entries record."""
    try:
        version = metadata.version("pypdfium2")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"pypdfium2 {version}; litkb {CLEAN_VERSION}"


def check_header(path: Path) -> None:
    """Refuse what is not a PDF before a library sees it: an empty file, another kind of file."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if not head:
        raise PdfProblem("empty file (0 bytes)")
    if b"%PDF-" not in head:
        kind = "an HTML page" if head.lstrip()[:1] == b"<" else "not a PDF"
        raise PdfProblem(f"{kind} (no %PDF header)")


def read_pdf(path: Path, max_pages: int = MAX_PAGES) -> RawPdf:
    """Read a PDF: its cleaned page texts, page 1's lines, metadata. Raises PdfProblem."""
    import pypdfium2 as pdfium

    check_header(path)
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise PdfProblem(_pdfium_problem(str(exc))) from None
    try:
        count = len(doc)
        if count == 0:
            raise PdfProblem("damaged: no pages")
        raw: list[str] = []
        lines: list[Line] = []
        height = 0.0
        for index in range(min(count, max_pages)):
            page = doc[index]
            textpage = page.get_textpage()
            raw.append(textpage.get_text_range())
            if index < LAYOUT_PAGES:
                height = float(page.get_height())
                lines += page_lines(textpage)
            textpage.close()
            page.close()
        info = {k: str(v) for k, v in doc.get_metadata_dict(skip_empty=True).items()}
    finally:
        doc.close()
    problem = text_problem(raw)
    pages, references = clean_pages(raw) if problem is None else ([""] * len(raw), None)
    return RawPdf(
        page_count=count,
        pages=pages,
        references_start=references,
        raw_first="\f".join(raw[:2]),
        page_height=height,
        metadata=info,
        xmp_dois=xmp_dois(path),
        problem=problem,
        lines=lines if problem is None else [],
    )


_ODD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")
_LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def text_problem(raw: list[str]) -> str | None:
    """Why the pages' text is not worth searching, or None. No visible text: a scan. Many control or
    private-use characters, or Latin "words" without vowels: fonts without a Unicode map (symbol soup)."""
    text = "".join(raw)
    visible = sum(not ch.isspace() for ch in text)
    if visible < 20 * max(1, len(raw)) // 10:
        return "no text layer (a scan?), not searchable"
    words = _LATIN_WORD.findall(text)
    voweled = sum(bool(re.search("[aeiouyAEIOUY]", w)) for w in words)
    if len(_ODD.findall(text)) > 0.05 * visible or (len(words) >= 50 and voweled < 0.6 * len(words)):
        return "garbled text layer (fonts without a Unicode map), not searchable"
    return None


def _pdfium_problem(message: str) -> str:
    lowered = message.lower()
    if "password" in lowered or "security" in lowered:
        return "encrypted: it needs a password (save a copy without one and add that)"
    if "format" in lowered or "file" in lowered:
        return "damaged or truncated: not a readable PDF"
    return f"cannot be read ({message})"


def page_lines(textpage: Any) -> list[Line]:
    """The lines of a page, each with its largest font size (points, the text matrix's scale included)
    and its box. Where the sizes make no sense (a font drawn at 1 pt and scaled by the page), each line's
    height stands for its size."""
    import ctypes

    import pypdfium2.raw as raw

    handle = textpage.raw
    matrix = raw.FS_MATRIX()
    x0, x1, y0, y1 = (ctypes.c_double() for _ in range(4))
    lines: list[Line] = []
    heights: list[float] = []  # each line's median character height
    chars: list[str] = []
    tall: list[float] = []
    size, left, top, bottom = 0.0, float("inf"), -float("inf"), float("inf")
    count = raw.FPDFText_CountChars(handle)
    for i in range(count + 1):
        code = raw.FPDFText_GetUnicode(handle, i) if i < count else 10  # a last newline ends the last line
        char = chr(code) if code else ""
        if char in ("\r", "\n"):
            text = "".join(chars).strip()
            if text:
                lines.append(Line(text, size, left, top, bottom))
                heights.append(sorted(tall)[len(tall) // 2] if tall else 0.0)
            chars, tall, size = [], [], 0.0
            left, top, bottom = float("inf"), -float("inf"), float("inf")
            continue
        chars.append(char)
        if char.strip() and char != "\ufffe":
            scale = 1.0
            if raw.FPDFText_GetMatrix(handle, i, ctypes.byref(matrix)):
                scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5 or 1.0
            size = max(size, float(raw.FPDFText_GetFontSize(handle, i)) * scale)
            raw.FPDFText_GetCharBox(handle, i, x0, x1, y0, y1)
            left, top, bottom = min(left, x0.value), max(top, y1.value), min(bottom, y0.value)
            tall.append(y1.value - y0.value)
    if lines and sorted(line.size for line in lines)[len(lines) // 2] < 4.0:
        for line, height in zip(lines, heights, strict=True):
            line.size = height
            line.estimated = True
    return lines


_XMP_DOI = re.compile(
    rb"(?:prism:doi|pdfx:doi|crossmark:doi|dc:identifier)[^>]{0,200}?>\s*(?:<rdf:li[^>]*>)?\s*(?:doi:)?"
    rb"(?:https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/[^<\s\"]+)"
    rb"|(?:prism:doi|pdfx:doi|crossmark:DOI)=\"(?:doi:)?(10\.\d{4,9}/[^\"]+)\"",
    re.I,
)


def xmp_dois(path: Path) -> list[str]:
    """DOIs the file's XMP metadata states (read from its first and last XMP_BYTES: where the metadata
    stream is, uncompressed, in practice)."""
    with open(path, "rb") as handle:
        data = handle.read(XMP_BYTES)
        handle.seek(0, 2)
        size = handle.tell()
        if size > XMP_BYTES:
            handle.seek(max(XMP_BYTES, size - XMP_BYTES))
            data += handle.read()
    found = []
    for match in _XMP_DOI.finditer(data):
        value = (match.group(1) or match.group(2)).decode("ascii", "replace")
        if value not in found:
            found.append(value)
    return found
