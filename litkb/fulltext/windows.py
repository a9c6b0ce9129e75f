"""Full-text passages: the windows of an attached file's cached text that the index embeds and counts.

A window is a run of whole sentences of one page, of at most WINDOW words (about the 256 word pieces the
model reads; a longer sentence is cut into pieces of WINDOW words), so every hit has one page. The
references section (from `ExtractedText.references_start` on) is cut from the body and its windows are
marked `reference`: indexed, but weighed as references (see `litkb.index.fulltext`). Windows are made from
the text cache only (`litkb.fulltext.pages`): a file with no cached text, or no text layer, has none.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..models import Paper
from ..text import ABBREVIATIONS
from .pages import ExtractedText, load_text

WINDOW = 150  # words: about 210 word pieces of scientific text, inside the model's 256
# At most this many windows a paper (about 200 pages of text): a 1,000-page file must not hold an index
# for hours; the first pages are the paper, what follows an appendix or a book.
MAX_WINDOWS = 1_000
# A window embeds (gets a vector) when at least this share of its words are prose words: tables, tables
# of contents, code listings and runs of symbols fall below it (10% of the body's word pieces on the
# development PDFs), and are found by their keywords only, as the references section is.
MIN_PROSE = 0.4
SCHEME = f"fulltext-w{WINDOW}-m{MAX_WINDOWS}-p{int(MIN_PROSE * 100)}"

_PROSE_WORD = re.compile(r"^[(\[\"']?[A-Za-z][a-z]{2,}[)\]\"',.;:!?]*$")
_NOT_AFTER = "".join(f"(?<!\\b{re.escape(a)}\\.)" for a in ABBREVIATIONS)
_SENTENCE_END = re.compile(rf"(?<=[.!?]){_NOT_AFTER}\s+(?=[\"'(\[A-Z0-9])")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Window:
    """One full-text passage: `text` is `page`'s text (1-based, of the paper's file number `file`) from
    `start` to `end`, white space made single."""

    file: int
    page: int
    start: int
    end: int
    reference: bool
    text: str


def embeds(window: Window) -> bool:
    """Whether a window gets a vector: body text that reads as prose (see MIN_PROSE); a window of the
    references section, a table or a code listing is indexed by its keywords only."""
    if window.reference:
        return False
    words = window.text.split()
    prose = sum(1 for word in words if _PROSE_WORD.match(word))
    return bool(words) and prose >= MIN_PROSE * len(words)


def files_hash(model: str, paper: Paper) -> str | None:
    """What decides whether a paper's full-text passages must be made again (None: it has no files): the
    model, the window scheme, and each file's digest and extractor (a file extracted again by a newer
    extractor is another text)."""
    if not paper.files:
        return None
    parts = [f"{f.get('sha256')}:{f.get('extractor') or ''}" for f in paper.files]
    return hashlib.sha256(f"{model}\x00{SCHEME}\x00{chr(0).join(parts)}".encode()).hexdigest()[:32]


def page_windows(text: ExtractedText, file: int = 0) -> list[Window]:
    """The windows of one file's text, page by page."""
    if text.status != "ok":
        return []
    found: list[Window] = []
    for number, page in enumerate(text.pages, start=1):
        cut = len(page)
        if text.references_start is not None and text.references_start[0] == number:
            cut = max(0, min(len(page), text.references_start[1]))
        for start, end in ((0, cut), (cut, len(page))):
            if end > start:
                reference = text.in_references(number, start)
                found += _windows(page, start, end, file, number, reference)
    return found


def paper_windows(root: Path, paper: Paper) -> list[Window]:
    """The windows of every attached file of a paper whose text is cached (at most MAX_WINDOWS)."""
    found: list[Window] = []
    for number, entry in enumerate(paper.files):
        text = load_text(root, str(entry.get("sha256") or ""))
        if text is not None:
            found += page_windows(text, number)
        if len(found) >= MAX_WINDOWS:
            return found[:MAX_WINDOWS]
    return found


def _windows(page: str, begin: int, finish: int, file: int, number: int, reference: bool) -> list[Window]:
    """Whole sentences of page[begin:finish] packed into windows of at most WINDOW words."""
    pieces: list[tuple[int, int, int]] = []  # (start, end, words) of each sentence (or piece of one)
    position = begin
    for sentence in _SENTENCE_END.split(page[begin:finish]):
        at = page.find(sentence, position, finish) if sentence else -1
        if at < 0:
            continue
        spans = [(m.start() + at, m.end() + at) for m in _WORD.finditer(sentence)]
        position = at + len(sentence)
        for i in range(0, len(spans), WINDOW):
            run = spans[i : i + WINDOW]
            pieces.append((run[0][0], run[-1][1], len(run)))
    found: list[Window] = []
    start = end = count = 0
    for piece_start, piece_end, words in pieces:
        if count and count + words > WINDOW:
            found.append(_window(page, start, end, file, number, reference))
            count = 0
        if not count:
            start = piece_start
        end, count = piece_end, count + words
    if count:
        found.append(_window(page, start, end, file, number, reference))
    return found


def _window(page: str, start: int, end: int, file: int, number: int, reference: bool) -> Window:
    return Window(file, number, start, end, reference, " ".join(page[start:end].split()))
