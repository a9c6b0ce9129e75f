"""The searcher: hybrid (keywords and meaning fused), semantic and keyword search, and related papers.

Hybrid fusion: the candidates are the top POOL papers by keywords and the top DENSE_POOL by meaning
(`hybrid_candidates`, which the benchmarks call too). Every candidate gets both of its own scores (its
dense score, see `litkb.index.passages.paper_scores`, and its BM25, 0 when it has no query word), scaled
to [0, 1] over the candidates (dense min-max, BM25 divided by the best), and the paper's score is
`KEYWORD_WEIGHT * keyword + (1 - KEYWORD_WEIGHT) * dense`. The weight is one global setting chosen on the
SciFact train queries (see scripts/bench_search.py and the README).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypedDict

from ..errors import (
    IndexDamagedError,
    IndexMissingError,
    InputError,
    LitkbError,
    NotFoundError,
    UsageError,
)
from ..models import Paper
from ..store import RecordStore
from ..wording import count_is, plural
from .keyword import KeywordScores
from .parts import IndexParts
from .snippets import paper_snippet, passage_text

if TYPE_CHECKING:
    import numpy as np

SEARCH_MODES = ("hybrid", "semantic", "keyword")
POOL = 100  # keyword candidates
DENSE_POOL = (
    10  # dense candidates; every candidate gets its exact dense score (10 vs 100: -0.0004 on SciFact)
)
KEYWORD_WEIGHT = 0.35
EXACT_FILTER_LIMIT = 5000  # up to this many allowed papers, a filtered search compares them all exactly
# How close in meaning a paper is to a query (its dense score: the mean cosine of its whole text and its
# closest sentence), in words. Chosen from all-MiniLM-L6-v2's scores on SciFact train (relevant papers
# against the best hit of nonsense queries): see scripts/bench_relevance.py and the README. Another
# model's cosines sit elsewhere: its results carry the similarity but no label.
STRONG = 0.5
FAIR = 0.4
CALIBRATED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

Hits = list[tuple[str, float]]


class SearchResult(TypedDict):
    """One hit of `search` or `related`: exactly the object `--json` prints."""

    rank: int
    id: str
    external_id: str | None
    doi: str | None
    arxiv_id: str | None
    title: str
    year: int | None
    score: float  # what the ranking sorts by: hybrid, the fused score (relative to the other hits)
    similarity: float | None  # the paper's closeness in meaning to the query, comparable across queries
    match: str | None  # similarity in words: strong, fair or weak (see match_label)
    snippet: str


class Searcher:
    """Answers queries from the records and the index's parts (the vector index, the keyword index and
    the encoders); `warn` is told what the caller should hear."""

    def __init__(self, store: RecordStore, parts: IndexParts, warn: Callable[[str], None]) -> None:
        self.store = store
        self.vectors = parts.vectors
        self.keywords = parts.keywords
        self.encoders = parts.encoders
        self.model = parts.vectors.model
        self.warn = warn

    def encode(self, queries: list[str]) -> np.ndarray:
        """The queries' vectors, by the model that embedded the papers (its ONNX export when there is one)."""
        return self.encoders.query.encode(queries)

    def search_many(
        self, queries: Sequence[str], k: int, mode: str, allowed: set[str] | None
    ) -> list[list[SearchResult]]:
        """The `k` best papers for each query (of the `allowed` ones, when given), one encoding pass."""
        missing = self.vectors.unindexed(self.store)
        if missing:
            self.warn(
                f"{count_is(missing, 'paper')} not indexed yet, so no search finds them; run `litkb index`"
            )
        vectors = self.encode(list(queries)) if mode != "keyword" else None
        answers = []
        for i, query in enumerate(queries):
            vector = vectors[i] if vectors is not None else None
            ranking = functools.partial(self.rank, query, vector, mode, allowed)
            results = self.first(k, ranking, query, vector, by_words=mode != "semantic")
            best = max((r["similarity"] for r in results if r["similarity"] is not None), default=None)
            if best is not None and match_label(best, self.model) == "weak":
                self.warn(
                    f"nothing here matches '{query[:60]}' well: the closest paper's similarity is {best:.3f} "
                    f"(weak: below {FAIR})"
                )
            answers.append(results)
        return answers

    def rank(
        self, query: str, vector: np.ndarray | None, mode: str, allowed: set[str] | None, n: int
    ) -> tuple[Hits, dict[str, float]]:
        """The best `n` papers for `query` by `mode` (its `vector`: None for keywords alone), and the dense
        scores of those that have one."""
        if vector is None:
            return self.keywords.scores(query).top(n, allowed), {}
        if mode == "semantic":
            ranked = self.dense(vector, n, allowed)
            return ranked, dict(ranked)
        return self.hybrid(query, vector, n, allowed)

    def first(
        self,
        k: int,
        rank: Callable[[int], tuple[Hits, dict[str, float]]],
        query: str | None,
        vector: np.ndarray | None = None,
        by_words: bool = True,
    ) -> list[SearchResult]:
        """The first `k` hits of `rank(n)` (the best `n` hits, and their dense scores) whose records can be
        read: asked again for more while records removed or broken since the last `litkb index` left
        fewer than `k`."""
        n = k
        while True:
            hits, dense = rank(n)
            results = self.results(hits, query, vector, by_words, dense, limit=k)
            if len(results) >= k or len(hits) < n:
                return results
            n *= 2

    def hybrid_candidates(
        self, query: str, vector: np.ndarray, k: int, allowed: set[str] | None
    ) -> tuple[set[str], dict[str, float], KeywordScores]:
        """What hybrid search fuses: the candidates (the dense and keyword pools), every candidate's exact
        dense score, and the keyword scores."""
        dense = dict(self.dense(vector, max(k, DENSE_POOL), allowed))
        keyword = self.keywords.scores(query)
        candidates = set(dense) | {pid for pid, _ in keyword.top(max(k, POOL), allowed)}
        # Exact dense scores for the keyword candidates that the dense ranking did not reach.
        dense.update(self.vectors.best_scores(vector, sorted(candidates - dense.keys())))
        return candidates, dense, keyword

    def hybrid(
        self, query: str, vector: np.ndarray, k: int, allowed: set[str] | None
    ) -> tuple[Hits, dict[str, float]]:
        """The fused ranking, and every candidate's dense score."""
        candidates, dense, keyword = self.hybrid_candidates(query, vector, k, allowed)
        return fuse(candidates, dense, {pid: keyword.of(pid) for pid in candidates}), dense

    def related(
        self, seeds: Sequence[Paper], k: int, allowed: Callable[[], set[str] | None]
    ) -> list[SearchResult]:
        """The `k` papers nearest the mean of the seeds' own vectors, the seeds excluded (`allowed`: the
        papers a filter lets through, asked once the seeds are found in the index)."""
        import numpy as np

        found, vectors = self.vectors.own_vectors([p.id for p in seeds])
        for paper in seeds:
            if paper.id not in found:
                raise IndexMissingError(f"'{paper.title[:60]}' is not in the index yet; run `litkb index`")
        query = np.mean(vectors, axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        exclude = {p.id for p in seeds}
        permitted = allowed()
        if permitted is not None:
            permitted = permitted - exclude

        def rank(n: int) -> tuple[Hits, dict[str, float]]:
            hits = self.dense(query, n + len(exclude), permitted, whole=True)
            chosen = [hit for hit in hits if hit[0] not in exclude][:n]
            return chosen, dict(chosen)

        return self.first(k, rank, None)

    def dense(self, vector: np.ndarray, n: int, allowed: set[str] | None, whole: bool = False) -> Hits:
        """The `n` papers nearest `vector` (of the `allowed` ones): by their score from all passages, or
        by passage 0 alone (`whole`)."""
        nearest = self.vectors.nearest_whole if whole else self.vectors.query
        if allowed is None:
            hits = nearest(vector, n)
            if not hits and n > 0:
                self._answered_nothing()
            return hits
        if not allowed:
            return []
        if len(allowed) <= EXACT_FILTER_LIMIT:
            within = self.vectors.whole_within if whole else self.vectors.query_within
            return within(vector, sorted(allowed), n)
        wanted = n * 4
        while True:  # a filter that lets most papers through: over-fetch, then keep the allowed ones
            hits = nearest(vector, wanted)
            kept = [hit for hit in hits if hit[0] in allowed]
            if len(kept) >= n or len(hits) < wanted:
                return kept[:n]
            wanted *= 2

    def _answered_nothing(self) -> None:
        """A vector index that holds papers must find some: empty means it is damaged, not that nothing
        matched (dense search always returns the nearest papers)."""
        manifest = self.vectors.read_manifest() or {}
        if int(manifest.get("count") or 0) > 0:
            held = plural(int(manifest["count"]), "paper")
            raise IndexDamagedError(
                f"the vector index holds {held} but found none; run `litkb doctor` "
                "(`litkb doctor --repair` rebuilds it from the records)",
                reason=f"the vector index holds {held} but found none",
            )

    def results(
        self,
        hits: Sequence[tuple[str, float]],
        query: str | None,
        vector: np.ndarray | None = None,
        by_words: bool = True,
        similarity: dict[str, float] | None = None,
        limit: int | None = None,
    ) -> list[SearchResult]:
        """The hits (the first `limit` whose records can be read) as results, each with the snippet that
        shows why it matched: the sentences with the most query words (`by_words`), else the one nearest
        the query's `vector` by meaning. A record broken by hand since the last `litkb index` is left out
        and named to `warn`."""
        chosen: list[tuple[Paper, float]] = []
        for paper_id, score in hits:
            if limit is not None and len(chosen) >= limit:
                break
            try:
                chosen.append((self.store.load(paper_id), score))
            except NotFoundError:
                continue  # removed since the last `litkb index`
            except LitkbError as exc:
                self.warn(str(exc))
        ids = [paper.id for paper, _ in chosen]
        closest = self.vectors.closest_passages(vector, ids) if vector is not None and ids else {}
        results: list[SearchResult] = []
        for paper, score in chosen:
            close = similarity.get(paper.id) if similarity else None
            results.append(
                SearchResult(
                    rank=len(results) + 1,
                    id=paper.id,
                    external_id=paper.external_id,
                    doi=paper.doi,
                    arxiv_id=paper.arxiv_id,
                    title=paper.title,
                    year=paper.year,
                    score=round(score, 4),
                    similarity=round(close, 4) if close is not None else None,
                    match=match_label(close, self.model) if query and close is not None else None,
                    snippet=paper_snippet(
                        (query or "") if by_words else "",
                        paper,
                        closest=passage_text(paper, closest.get(paper.id)),
                    ),
                )
            )
        return results


def check_queries(queries: Sequence[str], mode: str) -> None:
    """An error for an unknown search mode or an empty query."""
    if mode not in SEARCH_MODES:
        raise UsageError(f"unknown search mode '{mode}'; known modes: {', '.join(SEARCH_MODES)}")
    if any(not q.strip() for q in queries):
        raise InputError("empty query: say what to search for")


def fuse(
    candidates: set[str], dense: dict[str, float], keyword: dict[str, float], weight: float = KEYWORD_WEIGHT
) -> Hits:
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
