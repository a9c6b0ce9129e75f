"""Zotero's notes (HTML) as readable text, and a paper's notes and PDF annotations as one block of its
record's notes (between the markers of `litkb.models.ZOTERO_NOTES_START` and `ZOTERO_NOTES_END`)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ...models import ZOTERO_NOTES_END, ZOTERO_NOTES_START

_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr", "table", "ul", "ol",
    "section", "article", "header", "footer", "hr", "dt", "dd", "figure", "figcaption",
}  # fmt: skip
_SKIPPED = {"script", "style", "head", "title", "template", "noscript"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")

# Zotero's annotation types (Zotero.Annotations.ANNOTATION_TYPE_*).
HIGHLIGHT, NOTE, IMAGE, INK, UNDERLINE, TEXT = 1, 2, 3, 4, 5, 6


class _Text(HTMLParser):
    """Collects a note's text: one line per block, `- ` before list items, links as `[text](url)`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current = ""
        self.skipping = 0
        self.links: list[tuple[str, int]] = []  # (href, where its text starts in `current`)

    def _break(self) -> None:
        line = _SPACES.sub(" ", self.current).strip()
        if line:
            self.lines.append(line)
        self.current = ""
        self.links = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self._break()
        elif tag in _BLOCKS:
            self._break()
            if tag == "li":
                self.current = "- "
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len(self.current)))
        elif tag == "img":
            self.current += " [image] "

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self._break()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = self.current[start:].strip()
            if href.startswith(("http://", "https://", "mailto:", "doi:", "zotero:")):
                if not text or text == href:
                    self.current = self.current[:start] + href
                else:
                    self.current = self.current[:start] + f"[{text}]({href})"

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.current += data.replace("\n", " ")

    def text(self) -> str:
        self._break()
        return "\n".join(self.lines)


def note_text(html: str) -> str:
    """A Zotero note (HTML) as plain text: blocks on lines of their own, links kept as `[text](url)`,
    scripts and styles dropped, entities decoded."""
    if "<" not in html:
        lines = (_SPACES.sub(" ", line).strip() for line in html.splitlines())
        return "\n".join(line for line in lines if line)
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser's own limits: keep what it read
        pass
    return parser.text()


def annotation_line(kind: int, text: str, comment: str, page: str) -> str | None:
    """One annotation as a line: `p. 4: “highlighted text” — comment`; None for one with no words (an
    image or a drawing without a comment)."""
    text = " ".join(text.split())
    comment = " ".join(note_text(comment).split()) if comment else ""
    where = f"p. {' '.join(page.split())}: " if page.strip() else ""
    if kind in (HIGHLIGHT, UNDERLINE) and text:
        return f"{where}“{text}”" + (f" — {comment}" if comment else "")
    if comment:
        label = {IMAGE: "(image) ", INK: "(drawing) "}.get(kind, "")
        return f"{where}{label}{comment}"
    return None


def zotero_block(notes: list[str], annotations: list[tuple[str, list[str]]]) -> str | None:
    """The record's Zotero part of its notes: each child note, then each PDF's annotations under the
    file's name; None when there is nothing."""
    parts = [f"Note:\n{text}" for text in notes if text.strip()]
    parts += [f"Annotations ({label}):\n" + "\n".join(lines) for label, lines in annotations if lines]
    if not parts:
        return None
    return "\n\n".join([ZOTERO_NOTES_START, *parts, ZOTERO_NOTES_END])
