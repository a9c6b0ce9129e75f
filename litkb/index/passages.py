"""Passages: what the embedder reads for a paper, and how a paper scores from them.

A paper is embedded as its title and abstract together (passage 0, cut by the model where it must: it
reads 256 word pieces, about 180 words) and as each sentence of its abstract on its own (passages 1 on;
a sentence of more than WINDOW words is cut into pieces of WINDOW words), so no part of a long abstract
goes unread. The owner's notes (and the notes and PDF annotations a Zotero import keeps there) follow, a
passage a line (cut as sentences are), so a highlight or a comment is found by its meaning too (a paper
without notes is embedded exactly as before). A paper's closeness to a query is the mean of two views: the
whole paper (passage 0) and its closest sentence. Either alone ranks worse: on SciFact train, nDCG@10 of
the dense ranking is 0.660 for passage 0 alone, 0.658 for the best sentence alone, 0.691 for their mean
(scripts/bench_search.py and the README).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ..models import Paper, searchable_notes
from ..text import sentences

if TYPE_CHECKING:
    import numpy as np

WINDOW = 150
# At most this many passages a paper (passage 0 and the first 63 sentence pieces): a pasted book or a
# 10 MB "abstract" must not take an index for hours while every other write waits. The keyword index
# still reads the whole text. Passage 0 reads at most WHOLE_CHARS characters (the model reads fewer).
MAX_PASSAGES = 64
WHOLE_CHARS = 20_000
WHOLE_WEIGHT = 0.5  # the whole paper's share of its score; its closest sentence has the rest
SCHEME = f"passages-sentences-w{WINDOW}"


def vector_hash(model: str, paper: Paper) -> str:
    """What decides whether a paper's passages must be embedded again: the model, the passage scheme and
    the exact text (the index keeps it with every vector; `litkb index` and the doctor compare it)."""
    text = f"{model}\x00{SCHEME}\x00{paper.embedded_text()}"
    if notes := searchable_notes(paper.notes):  # a paper without notes keeps the hash it always had
        text += f"\x00notes\x00{notes}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def passages(paper: Paper) -> list[str]:
    """What is embedded for a paper: its whole text, then its sentences, then its notes (at most
    MAX_PASSAGES in all)."""
    texts = [paper.embedded_text()[:WHOLE_CHARS]]
    for sentence in sentences(paper.abstract or ""):
        words = sentence.split()
        texts += [" ".join(words[i : i + WINDOW]) for i in range(0, len(words), WINDOW)]
        if len(texts) >= MAX_PASSAGES:
            return texts[:MAX_PASSAGES]
    texts += note_passages(paper.notes)
    return texts[:MAX_PASSAGES]


def note_passages(notes: str | None) -> list[str]:
    """A paper's notes as passages: a line each (an annotation, a paragraph), as the abstract's
    sentences are, a line of more than WINDOW words cut into pieces of WINDOW words."""
    out: list[str] = []
    for line in searchable_notes(notes).splitlines():
        words = line.split()
        out += [" ".join(words[i : i + WINDOW]) for i in range(0, len(words), WINDOW)]
        if len(out) >= MAX_PASSAGES:
            break
    return out


def paper_scores(whole: np.ndarray, closest: np.ndarray) -> np.ndarray:
    """Papers' scores from the cosine of their passage 0 and of their closest other passage (for a paper
    with no other passage, pass its passage 0's again)."""
    return WHOLE_WEIGHT * whole + (1 - WHOLE_WEIGHT) * closest
