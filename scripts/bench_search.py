"""Search quality and speed benchmark.

Quality: imports a BEIR-style collection (corpus.jsonl with _id/title/text, queries.jsonl with _id/text,
qrels/*.tsv) into a knowledge base with the configured model, runs every judged query through litkb's own
search (`KnowledgeBase.search_many`) in each mode, and prints nDCG@10 and recall@100.

    .venv/bin/python scripts/bench_search.py ../shared/dev-data/scifact-train

Speed (`--scale N`): a knowledge base of N papers (abstracts from the collection, repeated) with stored
synthetic vectors (random unit vectors, one per passage) and the real keyword index, then the median
time of a warm search through the Python API, semantic against hybrid, in the same run.

    .venv/bin/python scripts/bench_search.py ../shared/dev-data/scifact-train --scale 20000

Knowledge bases are kept in --work (default /tmp/litkb-bench-search), so reruns skip the embedding.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

from synthetic import store_with_random_vectors

from litkb import KnowledgeBase
from litkb.index.search import SEARCH_MODES
from litkb.models import Paper


def read_beir(folder: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    for tsv in sorted((folder / "qrels").glob("*.tsv")):
        for line in tsv.read_text(encoding="utf-8").splitlines()[1:]:
            query_id, doc_id, score = line.split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return {q: t for q, t in queries.items() if q in qrels}, qrels


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_100(ranked: list[str], relevant: dict[str, int]) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:100])) / len(wanted) if wanted else 0.0


def quality(kb: KnowledgeBase, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> None:
    external = {p.id: p.external_id for p in kb.papers()}
    ids = sorted(queries)
    for mode in SEARCH_MODES:
        start = time.perf_counter()
        answers = kb.search_many([queries[q] for q in ids], k=100, mode=mode)
        seconds = time.perf_counter() - start
        runs = {q: [external[hit["id"]] or "" for hit in hits] for q, hits in zip(ids, answers, strict=True)}
        ndcg = statistics.fmean(ndcg_at_10(runs[q], qrels[q]) for q in ids)
        recall = statistics.fmean(recall_at_100(runs[q], qrels[q]) for q in ids)
        print(
            f"{mode:>9}: nDCG@10 {ndcg:.4f}  recall@100 {recall:.4f}  ({len(ids)} queries, {seconds:.1f} s)"
        )


def build_scale_kb(corpus: Path, target: Path, n: int, model: str, dim: int) -> KnowledgeBase:
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.yaml").write_text(f"model: '{model}'\n")
    kb = KnowledgeBase.open(target)
    papers = []
    for i in range(n):
        row = rows[i % len(rows)]
        paper = Paper(title=f"{row['title']} ({i})", abstract=row["text"], external_id=f"{row['_id']}-{i}")
        paper.id = f"scale-{i:06d}"
        papers.append(paper)
    store_with_random_vectors(kb, papers, dim)
    kb.index()  # builds the keyword index; the vectors are already there
    return kb


def speed(kb: KnowledgeBase, queries: list[str], repeats: int) -> None:
    kb.search(queries[0], k=10, mode="hybrid")  # load the model and open the indexes
    timings: dict[str, list[float]] = {mode: [] for mode in ("semantic", "hybrid")}
    for _ in range(repeats):
        for query in queries:
            for mode in timings:
                start = time.perf_counter()
                kb.search(query, k=10, mode=mode)
                timings[mode].append(time.perf_counter() - start)
    semantic = statistics.median(timings["semantic"]) * 1000
    hybrid = statistics.median(timings["hybrid"]) * 1000
    print(
        f"warm search, median of {len(timings['hybrid'])}: semantic {semantic:.1f} ms, hybrid {hybrid:.1f} ms"
    )
    print(f"hybrid / semantic = {hybrid / semantic:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path, help="a BEIR-style folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-search"))
    parser.add_argument("--scale", type=int, default=0, help="also time warm searches on N papers")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    queries, qrels = read_beir(args.collection)
    if not args.skip_quality:
        kb = KnowledgeBase.open(args.work / args.collection.name)
        kb.ingest([str(args.collection / "corpus.jsonl")])
        print(f"index: {kb.index().summary()}")
        quality(kb, queries, qrels)
    if args.scale:
        path = args.work / f"scale-{args.scale}"
        model = KnowledgeBase.open(args.work / args.collection.name).config.model
        kb = (
            KnowledgeBase.open(path)
            if (path / "records").is_dir()
            else build_scale_kb(args.collection / "corpus.jsonl", path, args.scale, model, 384)
        )
        print(f"scale: {args.scale} papers")
        speed(kb, list(queries.values())[:50], repeats=3)


if __name__ == "__main__":
    main()
