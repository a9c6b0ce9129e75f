"""Snippets: the stretch of a paper's abstract that shows why it matched a query."""

from __future__ import annotations

import re

from ..models import Paper
from ..text import sentences as split_sentences
from ..text import stem
from .keyword import query_terms
from .passages import passages

SNIPPET_CHARS = 220


def matched_terms(query: str, text: str) -> list[str]:
    """The words of `text` that match a query word (the same stem), as they are written in the text."""
    stems = {stem(term) for term in query_terms(query)}
    found: dict[str, None] = {}
    for word in re.findall(r"\w+", text):
        if stem(word.lower()) in stems:
            found.setdefault(word, None)
    return list(found)


def best_snippet(query: str, text: str | None, limit: int = SNIPPET_CHARS, closest: str | None = None) -> str:
    """The stretch of `text` (whole sentences where they fit) with the most query words; where no
    sentence has more than the others, the one holding `closest` (the passage nearest the query by
    meaning, when known), else the first."""
    if not text:
        return ""
    sentences = split_sentences(text)
    if not sentences:
        return ""
    stems = {stem(term) for term in query_terms(query)}
    nearest = next((i for i, s in enumerate(sentences) if closest and closest[:60] in s), 0)

    def hits(sentence: str) -> tuple[int, int]:
        """(distinct query words matched, all matches)."""
        matched = [s for s in map(stem, re.findall(r"\w+", sentence.lower())) if s in stems]
        return len(set(matched)), len(matched)

    best = max(range(len(sentences)), key=lambda i: (hits(sentences[i]), i == nearest, -i))
    chosen = sentences[best]
    following = best + 1
    while following < len(sentences) and len(chosen) + 1 + len(sentences[following]) <= limit:
        chosen += " " + sentences[following]
        following += 1
    prefix = "… " if best > 0 else ""
    if len(chosen) > limit:
        return prefix + chosen[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return prefix + chosen + (" …" if following < len(sentences) else "")


def passage_text(paper: Paper, number: int | None) -> str | None:
    """The text of one of the paper's passages (None when there is no such passage)."""
    texts = passages(paper) if number else []
    return texts[number] if number and number < len(texts) else None
