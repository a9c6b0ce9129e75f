"""Does full text harm topical search? SciFact train with synthetic "full texts", for tuning the
full-text view's weight (`litkb.index.fullrank.FULL_OFFSET`) against scripts/bench_fulltext.py.

SciFact's documents are abstracts. A random --papers of them get a synthetic full text, pages of
ExtractedText cached as `litkb attach` leaves them: page 1 the paper's title and abstract, page 2 its
abstract's sentences in another order followed by the abstracts of its three nearest papers (by their
own vectors: "related work", on the same topic but another paper's claims), page 3 the abstracts of two
random papers, page 4 a references section of ten random titles. The SciFact queries are then asked
with `--in abstract` (exactly the abstract-only ranking) and `--in all`, and nDCG@10 compared: a gain
where a paper's own text is found again, a loss where another paper's related-work passage outranks the
paper the query is about. Needs the knowledge base that scripts/bench_search.py builds (copied, not
changed).

    .venv/bin/python scripts/bench_search.py ../shared/dev-data/scifact-train --skip-quality  # or a full run
    .venv/bin/python scripts/bench_fulltext_scifact.py ../shared/dev-data/scifact-train --grid
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import time
from pathlib import Path

import numpy as np
from bench_search import ndcg_at_10, read_beir, recall_at_100

from litkb import KnowledgeBase
from litkb.fulltext.pages import ExtractedText, save_text
from litkb.index import fullrank
from litkb.text import sentences

SEED = 31


def synthesize(kb: KnowledgeBase, n: int) -> int:
    """Give `n` random papers a synthetic full text (see the module's docstring); how many passages."""
    rng = random.Random(SEED)
    papers = {p.id: p for p in kb.papers()}
    ids = sorted(papers)
    chosen = rng.sample(ids, min(n, len(ids)))
    owned, matrix = kb.vectors.own_vectors(ids)
    row = {pid: i for i, pid in enumerate(owned)}
    changed = []
    for pid in chosen:
        paper = papers[pid]
        near = np.argsort(-(matrix @ matrix[row[pid]]))[1:4]
        own = sentences(paper.abstract or "")
        rng.shuffle(own)
        related = [papers[owned[int(i)]].abstract or "" for i in near]
        noise = [papers[other].abstract or "" for other in rng.sample(ids, 2)]
        references = "References\n" + "\n".join(
            f"[{i}] {papers[o].title}." for i, o in enumerate(rng.sample(ids, 10))
        )
        pages = [f"{paper.title}\n{paper.abstract or ''}", " ".join(own) + "\n" + "\n".join(related),
                 "\n".join(noise), references]  # fmt: skip
        digest = hashlib.sha256("\f".join(pages).encode()).hexdigest()
        save_text(kb.root, ExtractedText(digest, "synthetic 1", pages, references_start=(4, 0)))
        paper.files = [{"path": f"files/{pid}/synthetic.pdf", "sha256": digest, "size": 1, "pages": 4,
                        "extractor": "synthetic 1", "linked": False}]  # fmt: skip
        changed.append(paper)
    kb.store.save_many(changed)
    return len(changed)


def quality(
    kb: KnowledgeBase, queries: dict[str, str], qrels: dict[str, dict[str, int]], scope: str
) -> tuple[float, float]:
    ids = sorted(queries)
    answers = kb.search_many([queries[q] for q in ids], k=100, scope=scope)
    ranked = [[h["id"] for h in hits] for hits in answers]
    by_external = {p.id: p.external_id or p.id for p in kb.papers()}
    ndcg = [ndcg_at_10([by_external[i] for i in r], qrels[q]) for q, r in zip(ids, ranked, strict=True)]
    recall = [recall_at_100([by_external[i] for i in r], qrels[q]) for q, r in zip(ids, ranked, strict=True)]
    return float(np.mean(ndcg)), float(np.mean(recall))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path)
    parser.add_argument("--source", type=Path, default=Path("/tmp/litkb-bench-search"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-fulltext-scifact"))
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    queries, qrels = read_beir(args.collection)
    target = args.work / args.collection.name
    if not (target / "records").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(args.source / args.collection.name, target, symlinks=True)
        kb = KnowledgeBase.open(target)
        print(f"{synthesize(kb, args.papers)} papers given a synthetic full text")
    kb = KnowledgeBase.open(target)
    started = time.perf_counter()
    print(f"index: {kb.index().summary()} ({time.perf_counter() - started:.0f} s)")
    base = quality(kb, queries, qrels, "abstract")
    print(f"{len(queries)} queries; --in abstract: nDCG@10 {base[0]:.4f}  recall@100 {base[1]:.4f}")
    offsets = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15) if args.grid else (fullrank.FULL_OFFSET,)
    default = fullrank.FULL_OFFSET
    for offset in offsets:
        fullrank.FULL_OFFSET = offset
        found = quality(kb, queries, qrels, "all")
        mark = " (litkb's)" if offset == default else ""
        print(f"--in all, offset {offset}{mark}: nDCG@10 {found[0]:.4f}  recall@100 {found[1]:.4f}")
    fullrank.FULL_OFFSET = default


if __name__ == "__main__":
    main()
