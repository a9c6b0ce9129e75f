"""How full-text passages take part in a ranking (`litkb search --in all|full`).

A paper with full text has two views: its abstract view (exactly its score without full text: hybrid,
semantic or keyword as before) and its full-text view, from its best passages: the best passage's cosine
less FULL_OFFSET (a best of some fifty passages sits higher than the abstract view's mean of two cosines
for the same closeness), and the best passage's BM25 over the passages' own keyword index. In hybrid mode
the full-text view is fused like the abstract one, with the abstract candidates' scaling (so the scores
of papers without full text, and their order, are exactly those of a search without it):
`KEYWORD_WEIGHT * bm25 / best bm25 of the full-text candidates + (1 - KEYWORD_WEIGHT) * (cosine -
low) / span`. A paper's score is the better of its two views. The constants were chosen with
scripts/bench_fulltext.py (known-item queries from the body of real papers) and scripts/bench_search.py
with synthetic full texts (see the README's "Full-text search").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SCOPES = ("all", "abstract", "full")
FULL_POOL = 50  # full-text candidates taken by their best passage's cosine, and as many by BM25
FULL_OFFSET = 0.05


@dataclass
class FullView:
    """A paper's full-text view for one query: its best passages by meaning and by keywords."""

    dense: float | None = None  # best passage cosine, FULL_OFFSET off
    keyword: float = 0.0  # best passage BM25 (references weighed down)
    keyword_passage: int | None = None
    score: float = 0.0  # the view's score in the ranking
    won: bool = False  # whether the paper ranks where it does through its full text


class Best:
    """Each paper's best full-text passage score for a query (see `litkb.index.fulltext`), as arrays:
    `names[i]` scores `values[i]`; a paper with none (a value of -inf) is left out."""

    def __init__(self, names: list[str], values: Any, index: dict[str, int] | None = None) -> None:
        import numpy as np

        self.names = names
        self.values = np.asarray(values, dtype=np.float32)
        self.index = index if index is not None else {pid: i for i, pid in enumerate(names)}

    @classmethod
    def empty(cls) -> Best:
        return cls([], [], {})

    def keep(self, allowed: set[str] | None) -> Best:
        """Only the `allowed` papers (all for None)."""
        import numpy as np

        if allowed is None:
            return self
        mask = np.fromiter((pid in allowed for pid in self.names), dtype=bool, count=len(self.names))
        return Best(self.names, np.where(mask, self.values, -np.inf), self.index)

    def get(self, pid: str) -> float | None:
        i = self.index.get(pid)
        if i is None:
            return None
        value = float(self.values[i])
        return value if value > -math.inf else None

    def __contains__(self, pid: object) -> bool:
        return isinstance(pid, str) and self.get(pid) is not None

    def top(self, n: int) -> list[str]:
        """The `n` best papers (ties by id)."""
        import numpy as np

        live = np.flatnonzero(self.values > -np.inf)
        if len(live) > n:
            live = live[np.argpartition(-self.values[live], n - 1)[:n]]
        chosen = [(-float(self.values[i]), self.names[i]) for i in live.tolist()]
        return [pid for _, pid in sorted(chosen)]


def views(dense: Best, keyword: Best, ids: Iterable[str]) -> dict[str, FullView]:
    """The full-text views of `ids` (papers with no full-text passage are left out)."""
    found = {}
    for pid in ids:
        cosine, best = dense.get(pid), keyword.get(pid)
        if cosine is None and best is None:
            continue
        found[pid] = FullView(cosine - FULL_OFFSET if cosine is not None else None, best or 0.0, None)
    return found


def fuse_views(
    abstract: dict[str, float],
    full: dict[str, FullView],
    low: float,
    span: float,
    weight: float,
    only_full: bool = False,
) -> dict[str, float]:
    """Every paper's score: the better of its abstract score (`abstract`, already fused) and its
    full-text view's, fused with the given dense scaling (`low`, `span`) and keyword weight; with
    `only_full`, the full-text view's alone."""
    top = max((view.keyword for view in full.values()), default=0.0) or 1.0
    scores = {} if only_full else dict(abstract)
    for pid, view in full.items():
        dense = view.dense if view.dense is not None else low
        view.score = weight * view.keyword / top + (1 - weight) * (dense - low) / (span or 1.0)
        before = scores.get(pid)
        if before is None or view.score > before:
            scores[pid] = view.score
            view.won = True
    return scores


def better(
    abstract: dict[str, float], full: dict[str, FullView], only_full: bool = False
) -> dict[str, float]:
    """Semantic and keyword modes: each paper's better view (`view.score` set by the caller)."""
    scores = {} if only_full else dict(abstract)
    for pid, view in full.items():
        before = scores.get(pid)
        if before is None or view.score > before:
            scores[pid] = view.score
            view.won = True
    return scores
