"""How far can fusing litkb's own ranking signals go? A ceiling for hybrid search.

For every judged query of a BEIR-style collection, the candidates are those litkb's hybrid search fuses
(its keyword pool and a dense pool), each described by the signals litkb has for it: its dense score and
the two cosines it is made of (the whole paper's, passage 0, and its closest sentence's), its BM25 score
(over the query's best, and over the query's largest possible score), and the share of the query's terms
(by idf) it holds. A logistic regression learns one weight per signal from the judgements, and the
benchmark prints the nDCG@10 of that learned ranking, measured on queries it did not learn from (k-fold)
and on those it did (in-sample), beside litkb's default hybrid ranking.

A learned combination is what per-collection tuning at its most thorough would reach, so it bounds what a
better fusion formula of these signals can do on the collection.

    .venv/bin/python scripts/bench_search.py ../shared/dev-data/scifact-train   # builds the knowledge base
    .venv/bin/python scripts/bench_fusion.py ../shared/dev-data/scifact-train
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from bench_search import ndcg_at_10, read_beir

from litkb import KnowledgeBase
from litkb.index.keyword import KeywordIndex, inverse_frequency, query_terms
from litkb.index.passages import paper_scores

SIGNALS = ("dense", "whole paper", "closest sentence", "BM25 / best", "BM25 / possible", "query terms held")


def term_columns(keywords: KeywordIndex, query: str) -> list[tuple[float, set[str]]]:
    """For each query term in the index: its idf and the papers holding it."""
    from litkb.text import stems

    matrix = keywords._load()
    papers = len(matrix.ids)
    columns = []
    for term in dict.fromkeys(stems(query_terms(query))):
        column = matrix.vocabulary.get(term)
        if column is None:
            continue
        start, end = int(matrix.indptr[column]), int(matrix.indptr[column + 1])
        idf = float(inverse_frequency(papers, end - start))
        columns.append((idf, {matrix.ids[int(row)] for row in matrix.indices[start:end]}))
    return columns


def features(kb: KnowledgeBase, query: str, vector: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The hybrid candidates of one query and their signals (one row each, columns as SIGNALS)."""
    found, _, bm25 = kb.searcher.hybrid_candidates(query, vector, 10, None)  # as litkb's hybrid search
    candidates = sorted(found)
    keyword = {pid: bm25.of(pid) for pid in candidates}
    owners, passages, matrix = kb.vectors.passage_vectors(candidates)
    cosines = np.asarray(matrix) @ vector
    whole: dict[str, float] = {}
    closest: dict[str, float] = {}
    for owner, number, cosine in zip(owners, passages, cosines.tolist(), strict=True):
        if number == 0:
            whole[owner] = cosine
        else:
            closest[owner] = max(closest.get(owner, -1.0), cosine)
    columns = term_columns(kb.keywords, query)
    possible = sum(idf for idf, _ in columns) or 1.0
    top = max(keyword.values(), default=0.0) or 1.0
    rows = []
    for pid in candidates:
        score = keyword.get(pid, 0.0)
        held = sum(idf for idf, papers in columns if pid in papers) / possible
        parts = (whole.get(pid, 0.0), closest.get(pid, whole.get(pid, 0.0)))  # as litkb scores them
        rows.append([float(paper_scores(*np.asarray(parts))), *parts, score / top, score / possible, held])
    return candidates, np.asarray(rows, dtype=np.float64)


def learned_ndcg(
    tables: Sequence[tuple[list[str], np.ndarray]],
    labels: Sequence[dict[str, int]],
    external: dict[str, str],
    columns: list[int],
    folds: int,
) -> tuple[float, float, list[float]]:
    """(k-fold nDCG@10, in-sample nDCG@10, the in-sample weights) of a logistic regression on `columns`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def fit(train: Sequence[int]) -> tuple[StandardScaler, LogisticRegression]:
        x = np.concatenate([tables[q][1][:, columns] for q in train])
        y = np.concatenate([[external[pid] in labels[q] for pid in tables[q][0]] for q in train])
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(scaler.transform(x), y)
        return scaler, model

    def ndcg(q: int, scaler: StandardScaler, model: LogisticRegression) -> float:
        ids, table = tables[q]
        scores = model.decision_function(scaler.transform(table[:, columns]))
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))
        return ndcg_at_10([external[ids[i]] for i in order], labels[q])

    everyone = list(range(len(tables)))
    parts = np.array_split(np.random.default_rng(0).permutation(everyone), folds)
    held_out: list[float] = []
    for part in parts:
        kept = set(part.tolist())
        scaler, model = fit([q for q in everyone if q not in kept])
        held_out += [ndcg(q, scaler, model) for q in part.tolist()]
    scaler, model = fit(everyone)
    inside = statistics.fmean(ndcg(q, scaler, model) for q in everyone)
    return statistics.fmean(held_out), inside, model.coef_[0].round(2).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path, help="a BEIR-style folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-search"))
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    kb = KnowledgeBase.open(args.work / args.collection.name)
    if not (kb.root / "records").is_dir():
        raise SystemExit(f"no knowledge base in {kb.root}: run scripts/bench_search.py first")
    queries, qrels = read_beir(args.collection)
    ids = sorted(queries)
    external = {p.id: p.external_id or "" for p in kb.papers()}
    texts = [queries[q] for q in ids]
    labels = [qrels[q] for q in ids]
    hybrid = kb.search_many(texts, k=10)
    default = statistics.fmean(
        ndcg_at_10([external[hit["id"]] for hit in hits], rel)
        for hits, rel in zip(hybrid, labels, strict=True)
    )
    vectors = kb.parts.encoders.query.encode(texts)
    tables = [features(kb, text, vector) for text, vector in zip(texts, vectors, strict=True)]
    print(f"{len(ids)} queries; candidates per query: {statistics.fmean(len(t[0]) for t in tables):.0f}")
    print(f"{'litkb hybrid (default)':<84} nDCG@10 {default:.4f}")
    sets = [[0, 3], [1, 2, 3], [0, 3, 4, 5], list(range(len(SIGNALS)))]
    for columns in sets:
        held_out, inside, weights = learned_ndcg(tables, labels, external, columns, args.folds)
        label = "learned: " + ", ".join(SIGNALS[c] for c in columns)
        print(f"{label:<84} {args.folds}-fold {held_out:.4f}  in-sample {inside:.4f}  weights {weights}")


if __name__ == "__main__":
    main()
