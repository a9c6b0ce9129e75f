"""Snippets: the stretch of a paper's abstract (or a line of its notes) that shows why it matched a query."""

from __future__ import annotations

import re

from ..models import Paper, searchable_notes
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
    best = max(range(len(sentences)), key=lambda i: (_hits(stems, sentences[i]), i == nearest, -i))
    chosen = sentences[best]
    following = best + 1
    while following < len(sentences) and len(chosen) + 1 + len(sentences[following]) <= limit:
        chosen += " " + sentences[following]
        following += 1
    prefix = "… " if best > 0 else ""
    if len(chosen) > limit:
        return prefix + chosen[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return prefix + chosen + (" …" if following < len(sentences) else "")


def _hits(stems: set[str], sentence: str) -> tuple[int, int]:
    """(distinct query words matched, all matches)."""
    matched = [s for s in map(stem, re.findall(r"\w+", sentence.lower())) if s in stems]
    return len(set(matched)), len(matched)


def paper_snippet(query: str, paper: Paper, closest: str | None = None, limit: int = SNIPPET_CHARS) -> str:
    """A result's snippet: from its abstract (see `best_snippet`), or the line of its notes (an
    annotation with its page, a paragraph) that holds more query words than any sentence of the abstract,
    or, where no words match, the one holding the passage nearest by meaning."""
    lines = [line.strip() for line in searchable_notes(paper.notes).splitlines() if line.strip()]
    if not lines:
        return best_snippet(query, paper.abstract, limit, closest)
    stems = {stem(term) for term in query_terms(query)}
    best_line = max(lines, key=lambda line: _hits(stems, line))
    in_abstract = max((_hits(stems, s) for s in split_sentences(paper.abstract or "")), default=(0, 0))
    near = next((line for line in lines if closest and closest[:60] in " ".join(line.split())), None)
    if _hits(stems, best_line) > in_abstract:
        chosen = best_line
    elif (
        in_abstract == (0, 0)
        and near is not None
        and not (closest and paper.abstract and closest[:60] in paper.abstract)
    ):
        chosen = near
    else:
        return best_snippet(query, paper.abstract, limit, closest)
    return chosen if len(chosen) <= limit else chosen[:limit].rsplit(" ", 1)[0] + "…"


def passage_text(paper: Paper, number: int | None) -> str | None:
    """The text of one of the paper's passages (None when there is no such passage)."""
    texts = passages(paper) if number else []
    return texts[number] if number and number < len(texts) else None
