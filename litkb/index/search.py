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
from .fullrank import FULL_POOL, SCOPES, Best, FullView, better, fuse_views, views
from .keyword import KeywordScores
from .parts import IndexParts
from .snippets import best_snippet, paper_snippet, passage_text

if TYPE_CHECKING:
    import numpy as np

SEARCH_MODES = ("hybrid", "semantic", "keyword")
__all__ = ["SCOPES", "SEARCH_MODES", "SearchResult", "Searcher", "fuse", "scaling"]
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
    page: int | None  # a paper with full text: the page (1-based, physical) of its best passage
    quote: str | None  # and the passage's sentences that matched


class Searcher:
    """Answers queries from the records and the index's parts (the vector index, the keyword index and
    the encoders); `warn` is told what the caller should hear."""

    def __init__(self, store: RecordStore, parts: IndexParts, warn: Callable[[str], None]) -> None:
        self.store = store
        self.vectors = parts.vectors
        self.keywords = parts.keywords
        self.encoders = parts.encoders
        self.fulltext = parts.fulltext
        self.model = parts.vectors.model
        self.warn = warn
        self._keyword_scores: KeywordScores | None = None  # the passages' BM25 for the query being answered

    def encode(self, queries: list[str]) -> np.ndarray:
        """The queries' vectors, by the model that embedded the papers (its ONNX export when there is one)."""
        return self.encoders.query.encode(queries)

    def search_many(
        self, queries: Sequence[str], k: int, mode: str, allowed: set[str] | None, scope: str = "all"
    ) -> list[list[SearchResult]]:
        """The `k` best papers for each query (of the `allowed` ones, when given), one encoding pass.
        `scope`: all (abstracts and full text), abstract (as without full text) or full (full text only)."""
        missing = self.vectors.unindexed(self.store)
        if missing:
            self.warn(
                f"{count_is(missing, 'paper')} not indexed yet, so no search finds them; run `litkb index`"
            )
        full = scope != "abstract" and not self.fulltext.empty()
        if scope == "full" and not full:
            self.warn("no paper's full text is in the index: attach PDFs (`litkb attach`), then index")
            return [[] for _ in queries]
        vectors = self.encode(list(queries)) if mode != "keyword" else None
        answers = []
        for i, query in enumerate(queries):
            vector = vectors[i] if vectors is not None else None
            ranking = functools.partial(self.rank, query, vector, mode, allowed, full, scope == "full")
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
        self,
        query: str,
        vector: np.ndarray | None,
        mode: str,
        allowed: set[str] | None,
        full: bool,
        only_full: bool,
        n: int,
    ) -> tuple[Hits, dict[str, float], dict[str, FullView]]:
        """The best `n` papers for `query` by `mode` (its `vector`: None for keywords alone), the dense
        scores of those that have one, and with `full` (full text in the index) each hit's full-text
        view (`only_full`: ranked by their full text alone)."""
        if full:
            ranked, dense, found = self.with_fulltext(query, vector, n, mode, allowed, only_full)
            return ranked, dense, found
        if vector is None:
            return self.keywords.scores(query).top(n, allowed), {}, {}
        if mode == "semantic":
            ranked = self.dense(vector, n, allowed)
            return ranked, dict(ranked), {}
        hits, dense = self.hybrid(query, vector, n, allowed)
        return hits, dense, {}

    def first(
        self,
        k: int,
        rank: Callable[[int], tuple[Hits, dict[str, float], dict[str, FullView]]],
        query: str | None,
        vector: np.ndarray | None = None,
        by_words: bool = True,
    ) -> list[SearchResult]:
        """The first `k` hits of `rank(n)` (the best `n` hits, and their dense scores) whose records can be
        read: asked again for more while records removed or broken since the last `litkb index` left
        fewer than `k`."""
        n = k
        while True:
            hits, dense, found = rank(n)
            results = self.results(hits, query, vector, by_words, dense, limit=k, full=found)
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

    def with_fulltext(
        self, query: str, vector: np.ndarray | None, k: int, mode: str, allowed: set[str] | None, only: bool
    ) -> tuple[Hits, dict[str, float], dict[str, FullView]]:
        """The ranking with the full-text views of papers that have full text (see `litkb.index.fullrank`),
        every candidate's similarity, and the full-text views; `only`: the full-text views alone."""
        full = self.fulltext
        fd = full.dense_best(vector).keep(allowed) if vector is not None else Best.empty()
        self._keyword_scores = full.keyword_scores(query) if mode != "semantic" else None
        fk = full.keyword_best(self._keyword_scores).keep(allowed)
        n = max(k, FULL_POOL)
        picks = set(fd.top(n)) | set(fk.top(n))
        similarity: dict[str, float] = {}
        if mode == "hybrid" and vector is not None:
            if only:
                found = views(fd, fk, picks)
                values = [v.dense for v in found.values() if v.dense is not None]
                low = min(values, default=0.0)
                scores = fuse_views({}, found, low, max(values, default=0.0) - low, KEYWORD_WEIGHT, True)
            else:
                candidates, similarity, keyword = self.hybrid_candidates(query, vector, k, allowed)
                words = {pid: keyword.of(pid) for pid in candidates}
                low, span, top = scaling(candidates, similarity, words)
                abstract = dict(fuse(candidates, similarity, words))
                found = views(fd, fk, picks | {pid for pid in candidates if pid in fd or pid in fk})
                extra = sorted(found.keys() - candidates)
                similarity.update(self.vectors.best_scores(vector, extra))
                for pid in extra:  # their abstract view, scaled as the abstract candidates' were
                    abstract[pid] = KEYWORD_WEIGHT * keyword.of(pid) / top + (1 - KEYWORD_WEIGHT) * (
                        similarity.get(pid, low) - low
                    ) / span
                scores = fuse_views(abstract, found, low, span, KEYWORD_WEIGHT)
        elif mode == "semantic" and vector is not None:
            abstract = {} if only else dict(self.dense(vector, k, allowed))
            found = views(fd, Best.empty(), picks)
            if not only:
                abstract.update(self.vectors.best_scores(vector, sorted(found.keys() - abstract.keys())))
            for view in found.values():
                view.score = view.dense if view.dense is not None else -1.0
            similarity = dict(abstract)
            scores = better(abstract, found, only)
        else:
            keyword_scores = self.keywords.scores(query)
            abstract = {} if only else dict(keyword_scores.top(max(k, POOL), allowed))
            found = views(Best.empty(), fk, picks)
            for pid in found.keys() - abstract.keys() if not only else ():
                abstract[pid] = keyword_scores.of(pid)
            # BM25 of passages and of abstracts, each as a share of the most a document could score
            passages = self._keyword_scores.possible() if self._keyword_scores is not None else 0.0
            scale = keyword_scores.possible() / (passages or 1.0)
            for view in found.values():
                view.score = view.keyword * scale
            scores = better(abstract, found, only)
        for pid, view in found.items():
            if view.won and view.dense is not None:
                similarity[pid] = max(similarity.get(pid, view.dense), view.dense)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return ranked, similarity, found

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

        def rank(n: int) -> tuple[Hits, dict[str, float], dict[str, FullView]]:
            hits = self.dense(query, n + len(exclude), permitted, whole=True)
            chosen = [hit for hit in hits if hit[0] not in exclude][:n]
            return chosen, dict(chosen), {}

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
        full: dict[str, FullView] | None = None,
    ) -> list[SearchResult]:
        """The hits (the first `limit` whose records can be read) as results, each with the snippet that
        shows why it matched: the sentences with the most query words (`by_words`), else the one nearest
        the query's `vector` by meaning; a hit with a full-text view (`full`: a paper with full text) with
        the page and quote of its best passage. A record broken by hand since the last `litkb index` is
        left out and named to `warn`."""
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
            view = (full or {}).get(paper.id)
            page, quote = (None, None)
            if view is not None:  # a paper with full text: where in it the query is best answered
                page, quote = self.quote(paper, view, query or "", vector, by_words)
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
                    page=page,
                    quote=quote,
                )
            )
        return results

    def passages(self, paper: Paper, query: str, k: int = 5) -> list[dict[str, object]]:
        """The `k` passages of a paper's full text that best answer `query` (cosine and BM25 scaled over
        the paper's passages and mixed as in hybrid search), each with its page and quote."""
        import numpy as np

        vector = self.encode([query])[0]
        cosines, bm25 = self.fulltext.passage_scores(paper.id, vector, self.fulltext.keyword_scores(query))
        if not len(cosines):
            return []
        mixed = passage_mix(cosines, bm25)
        found = []
        for number in np.argsort(-mixed, kind="stable")[:k].tolist():
            window = self.fulltext.passage_text(paper.id, number, paper.files)
            if window is not None:
                quote = best_snippet(query, window.text)
                score = round(float(mixed[number]), 4)
                reference = window.reference
                found.append({"page": window.page, "quote": quote, "reference": reference, "score": score})
        return found

    def quote(
        self, paper: Paper, view: FullView, query: str, vector: np.ndarray | None, by_words: bool
    ) -> tuple[int | None, str | None]:
        """The page and quote of a paper's best passage for the query: the passage whose cosine and BM25,
        scaled over the paper's passages and mixed as in hybrid search, are best; the quote its sentences
        with the most query words (by meaning: its first)."""
        import numpy as np

        scores = self._keyword_scores if by_words else None
        cosines, bm25 = self.fulltext.passage_scores(paper.id, vector, scores)
        if not len(cosines):
            return None, None
        mixed = passage_mix(cosines if vector is not None else None, bm25)
        window = self.fulltext.passage_text(paper.id, int(np.argmax(mixed)), paper.files)
        if window is None:
            return None, None
        return window.page, best_snippet(query if by_words else "", window.text)


def passage_mix(cosines: np.ndarray | None, bm25: np.ndarray) -> np.ndarray:
    """A paper's passages scored for a query: cosine and BM25 scaled over them, mixed as in `fuse`."""
    import numpy as np

    mixed = np.zeros(len(bm25), dtype=np.float32)
    if cosines is not None and len(cosines):
        span = float(cosines.max() - cosines.min()) or 1.0
        mixed += (1 - KEYWORD_WEIGHT) * (cosines - cosines.min()) / span
    if len(bm25) and bm25.max() > 0:
        mixed += KEYWORD_WEIGHT * bm25 / bm25.max()
    return mixed


def scaling(
    candidates: set[str], dense: dict[str, float], keyword: dict[str, float]
) -> tuple[float, float, float]:
    """How `fuse` scales the candidates' scores: the lowest dense score, the dense scores' span, and the
    best keyword score."""
    values = [dense[pid] for pid in candidates if pid in dense]
    low = min(values, default=0.0)
    span = (max(values, default=0.0) - low) or 1.0
    top = max((keyword.get(pid, 0.0) for pid in candidates), default=0.0) or 1.0
    return low, span, top


def check_queries(queries: Sequence[str], mode: str, scope: str = "all") -> None:
    """An error for an unknown search mode or scope (`--in`), or an empty query."""
    if mode not in SEARCH_MODES:
        raise UsageError(f"unknown search mode '{mode}'; known modes: {', '.join(SEARCH_MODES)}")
    if scope not in SCOPES:
        raise UsageError(f"unknown --in '{scope}'; choose one of: {', '.join(SCOPES)}")
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
