"""Ranking helpers for search: fusing the dense and keyword rankings, and picking the snippet that matched.

Hybrid fusion: the candidates are the top POOL papers by keywords and the top DENSE_POOL by meaning.
Every candidate gets both of its own scores (its dense score, see `litkb.passages.paper_scores`, and its
BM25, 0 when it has no query word), scaled to [0, 1] over the candidates (dense min-max, BM25 divided by
the best), and the paper's score is
`KEYWORD_WEIGHT * keyword + (1 - KEYWORD_WEIGHT) * dense`. The weight is one global setting chosen on the
SciFact train queries (see scripts/bench_search.py and the README).
"""

from __future__ import annotations

import re

from .keyword import query_terms
from .passages import sentences as split_sentences

POOL = 100  # keyword candidates
DENSE_POOL = (
    10  # dense candidates; every candidate gets its exact dense score (10 vs 100: -0.0004 on SciFact)
)
KEYWORD_WEIGHT = 0.35
SNIPPET_CHARS = 220
# How close in meaning a paper is to a query (its dense score: the mean cosine of its whole text and its
# closest sentence), in words. Chosen from all-MiniLM-L6-v2's scores on SciFact train (relevant papers
# against the best hit of nonsense queries): see scripts/bench_relevance.py and the README. Another
# model's cosines sit elsewhere: its results carry the similarity but no label.
STRONG = 0.5
FAIR = 0.4
CALIBRATED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def fuse(
    candidates: set[str], dense: dict[str, float], keyword: dict[str, float], weight: float = KEYWORD_WEIGHT
) -> list[tuple[str, float]]:
    """One ranking of the candidates from both scores, best first (ties by id). A missing keyword score
    means the paper has no query word (0); a missing dense score (a paper not in the vector index) counts
    as the lowest dense score of the candidates."""
    values = [dense[pid] for pid in candidates if pid in dense]
    low = min(values, default=0.0)
    dense = {pid: dense.get(pid, low) for pid in candidates}
    span = (max(values, default=0.0) - low) or 1.0
    top = max((keyword.get(pid, 0.0) for pid in candidates), default=0.0) or 1.0
    fused = {
        pid: weight * keyword.get(pid, 0.0) / top + (1 - weight) * (dense[pid] - low) / span
        for pid in candidates
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def match_label(similarity: float, model: str) -> str | None:
    """`strong`, `fair` or `weak`: how well a paper of this similarity answers a query (None for a model
    the labels were not chosen for)."""
    if model.lower() not in CALIBRATED:
        return None
    return "strong" if similarity >= STRONG else "fair" if similarity >= FAIR else "weak"


def _stem(word: str) -> str:
    """A crude stem for matching query words in text (`decoding` ~ `decode`, `models` ~ `model`)."""
    return word[:5] if len(word) > 5 else word


def matched_terms(query: str, text: str) -> list[str]:
    """The words of `text` that match a query word (same crude stem), as they are written in the text."""
    stems = {_stem(term) for term in query_terms(query)}
    found: dict[str, None] = {}
    for word in re.findall(r"\w+", text):
        if _stem(word.lower()) in stems:
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
    stems = {_stem(term) for term in query_terms(query)}
    nearest = next((i for i, s in enumerate(sentences) if closest and closest[:60] in s), 0)

    def hits(sentence: str) -> tuple[int, int]:
        """(distinct query words matched, all matches)."""
        matched = [_stem(w) for w in re.findall(r"\w+", sentence.lower()) if _stem(w) in stems]
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
