"""Passages: what the embedder reads for a paper.

all-MiniLM-L6-v2 reads 256 word pieces (about 180 words); most abstracts are longer. A paper is embedded
as its title and abstract (passage 0, cut by the model where it must), plus, for an abstract of more than
WINDOW words, overlapping windows of WINDOW words every STRIDE words from word STRIDE on, each with the
title in front. A paper matches a query by its best passage; its own vector is the mean of its passages.
"""

from __future__ import annotations

from .models import Paper

WINDOW = 150
STRIDE = 100
SCHEME = f"passages-w{WINDOW}-s{STRIDE}"


def passages(paper: Paper) -> list[str]:
    texts = [paper.embedded_text()]
    words = (paper.abstract or "").split()
    if len(words) <= WINDOW:
        return texts
    start = STRIDE
    while start < len(words):
        texts.append(f"{paper.title}\n\n{' '.join(words[start : start + WINDOW])}")
        if start + WINDOW >= len(words):
            break
        start += STRIDE
    return texts
