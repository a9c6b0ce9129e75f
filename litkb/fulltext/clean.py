"""Cleaning a PDF's page texts for reading and searching.

- hyphenation at line ends joined: pdfium marks the hyphens it breaks words with (U+FFFE, "soft hyphen
  at a line end"), which are dropped and the word joined exactly; an unmarked `exam-` newline `ple` (a
  lower-case letter on both sides) is joined as well;
- Unicode normalised to NFKC (ligatures ﬁ ﬂ ﬀ become fi fl ff, full-width forms and compatibility
  characters their plain forms), control characters dropped, spaces folded;
- running heads and feet (a line among the first or last lines of many pages, digits aside), page numbers
  and line numbers (a line that is only a number) and the arXiv stamp dropped;
- the references section located: its heading, the last one in the document ("References",
  "Bibliography", "Literature Cited", ...), as (page, offset) in the cleaned text.

Lines are kept (a newline between them), so a page reads as it was laid out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

VERSION = 1  # a change of what cleaning does is a new number: cached texts are made again

SOFT_HYPHEN_BREAK = "\ufffe"  # pdfium: a hyphen that broke a word at the end of a line
_MARKED_BREAK = re.compile("\ufffe\n?(?=[^\\W\\d_])")
_HYPHEN_BREAK = re.compile(r"(?<=[a-z])[-\u00ad\u2010]\n(?=[a-z])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_NUMBER_LINE = re.compile(
    r"^\s*(?:[-–—]\s*)?(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?(?:\s*[-–—])?\s*$", re.I
)
_ROMAN_LINE = re.compile(r"^\s*[ivxlc]{1,6}\s*$")
# The stamp arXiv prints in the left margin of page 1: "arXiv:2402.05109v2 [cs.LG] 7 Feb 2024".
ARXIV_STAMP = re.compile(
    r"arXiv:\s*((?:\d{4}\.\d{4,5})|(?:[a-z\-]+(?:\.[A-Z]{2})?/\d{7}))(v\d+)?\s*\[[^\]]{1,30}\]\s*\d{1,2}\s*\w{3,9}\.?\s*\d{4}",
    re.I,
)
_REFERENCES = re.compile(
    r"^\s*(?:[0-9]{1,2}\.?|[IVX]{1,5}\.)?\s*"
    r"(references|bibliography|literature cited|works cited|references and notes|cited literature)"
    r"\s*:?\s*$",
    re.I,
)
EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads and feet are looked for


def normalize(text: str) -> str:
    """One page's raw text with hyphenation joined, Unicode normalised (NFKC), controls dropped, spaces
    folded and line ends made `\\n`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A marked break inside the page joins the word; one at the page's end (the word goes on over the
    # page) keeps its hyphen, on a line of its own (whatever pdfium set after it, a page number, follows).
    text = _MARKED_BREAK.sub("", text).replace(SOFT_HYPHEN_BREAK, "-\n")
    text = unicodedata.normalize("NFKC", text)
    text = _HYPHEN_BREAK.sub("", text)
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def running_lines(pages: Sequence[list[str]]) -> set[str]:
    """The keys of lines that recur at the top or bottom of many pages (running heads and feet)."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edge = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        seen.update({_edge_key(line) for line in edge})
    least = max(3, int(0.3 * len(pages)))
    return {key for key, count in seen.items() if count >= least and len(key) < 200}


def _keep(line: str) -> bool:
    return not (_NUMBER_LINE.match(line) or _ROMAN_LINE.match(line) or ARXIV_STAMP.fullmatch(line.strip()))


def clean_pages(raw: Sequence[str]) -> tuple[list[str], tuple[int, int] | None]:
    """The cleaned text of each page, and where the references section starts (page 1-based, offset)."""
    pages = [normalize(ARXIV_STAMP.sub("", text)).split("\n") if text.strip() else [] for text in raw]
    running = running_lines(pages)
    out: list[str] = []
    for lines in pages:
        kept = []
        for number, line in enumerate(lines):
            at_edge = number < EDGE_LINES or number >= len(lines) - EDGE_LINES
            if (at_edge and _edge_key(line) in running) or not _keep(line):
                continue
            kept.append(line)
        out.append("\n".join(kept))
    return out, references_start(out)


def references_start(pages: Sequence[str]) -> tuple[int, int] | None:
    """Where the last references heading of the document is (page 1-based, character offset), if any.
    The last one: a paper cites "references" in its body far more often than it has two such headings."""
    for number in range(len(pages), 0, -1):
        text = pages[number - 1]
        offset = len(text)
        for line in reversed(text.split("\n")):
            offset -= len(line)
            if _REFERENCES.match(line):
                return (number, offset)
            offset -= 1  # the newline before it
    return None
