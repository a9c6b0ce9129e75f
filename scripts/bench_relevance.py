"""How close in meaning a relevant paper is to its query, against the best hit of a query that nothing
answers: the evidence for the `strong` / `fair` / `weak` match labels (litkb.index.search.STRONG, FAIR).

Runs every judged SciFact query through litkb's own semantic search and collects the similarity of each
judged-relevant paper it finds (top 100), and the similarity of the best hit of nonsense queries (word
salads that no paper answers). Prints percentiles of both and how each label splits them.

    .venv/bin/python scripts/bench_search.py ../shared/dev-data/scifact-train      # builds the KB first
    .venv/bin/python scripts/bench_relevance.py ../shared/dev-data/scifact-train [--also KB_FOLDER ...]

`--also` adds other knowledge bases (their nonsense queries only: they have no judgements), so the
labels can be checked on a collection they were not chosen on.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench_search import read_beir

from litkb import KnowledgeBase
from litkb.config import DEFAULT_MODEL as MODEL
from litkb.index.search import FAIR, STRONG, match_label

NONSENSE = [
    "xylophone quantum banana", "purple elephant tax spoon", "marmalade carburetor symphony",
    "giraffe umbrella accountant", "trombone lasagna orbit", "velvet tractor kangaroo poem",
    "bicycle glacier pudding", "accordion meteor biscuit", "walrus saxophone invoice",
    "pineapple lighthouse tango", "origami dragon plumbing", "cactus violin mortgage",
    "hamster cathedral waffle", "snorkel volcano crossword", "penguin jukebox lettuce",
    "teapot avalanche ballet", "zebra chandelier omelette", "kazoo pyramid spaghetti",
    "llama skateboard opera", "doughnut satellite knitting",
]  # fmt: skip


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "none"
    picks = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.05, 0.25, 0.5, 0.75, 0.95)]
    return "p5 {:.3f}  p25 {:.3f}  median {:.3f}  p75 {:.3f}  p95 {:.3f}".format(*picks)


def labels(values: list[float]) -> str:
    counts = {name: sum(match_label(v, MODEL) == name for v in values) for name in ("strong", "fair", "weak")}
    return "  ".join(f"{name} {n / max(1, len(values)):.0%}" for name, n in counts.items())


def nonsense_best(kb: KnowledgeBase) -> list[float]:
    answers = kb.search_many(NONSENSE, k=1, mode="semantic")
    return [hits[0]["similarity"] for hits in answers if hits and hits[0]["similarity"] is not None]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path, help="a BEIR-style folder, indexed by bench_search.py")
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-search"))
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="other knowledge bases")
    args = parser.parse_args()
    queries, qrels = read_beir(args.collection)
    kb = KnowledgeBase.open(args.work / args.collection.name)
    external = {p.id: p.external_id for p in kb.papers()}
    ids = sorted(queries)
    relevant: list[float] = []
    best_real: list[float] = []
    for query_id, hits in zip(
        ids, kb.search_many([queries[q] for q in ids], k=100, mode="semantic"), strict=True
    ):
        best_real.append(float(hits[0]["similarity"] or 0.0))
        relevant += [
            float(hit["similarity"] or 0.0)
            for hit in hits
            if qrels[query_id].get(external[hit["id"]] or "", 0) > 0
        ]
    nonsense = nonsense_best(kb)
    print(f"labels: strong >= {STRONG}, fair >= {FAIR}, else weak")
    print(f"{args.collection.name}: relevant papers found ({len(relevant)}): {percentiles(relevant)}")
    print(f"    labelled: {labels(relevant)}")
    print(f"{args.collection.name}: best hit of each query ({len(best_real)}): {percentiles(best_real)}")
    print(f"    labelled: {labels(best_real)}")
    print(f"{args.collection.name}: best hit of nonsense queries ({len(nonsense)}): {percentiles(nonsense)}")
    print(
        f"    labelled: {labels(nonsense)}   (max {max(nonsense):.3f}, mean {statistics.fmean(nonsense):.3f})"
    )
    for other in args.also:
        values = nonsense_best(KnowledgeBase.open(other))
        print(f"{other.name}: best hit of nonsense queries ({len(values)}): {percentiles(values)}")
        print(f"    labelled: {labels(values)}")


if __name__ == "__main__":
    main()
