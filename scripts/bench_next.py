"""How well `litkb next` recovers hidden papers of a field from a few liked ones, against `related`.

For each archive of a labelled collection with at least 20 papers: its first N papers (by id) are "liked",
the rest of that archive is hidden among everything else, and the top 10 of `next` (the SVM over the
papers' vectors) and of `related` from the same seeds (closeness to all of them) are scored by precision@10.

    .venv/bin/python scripts/bench_next.py ../shared/dev-data/arxiv-2007-sample.jsonl --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path

from litkb import KnowledgeBase
from litkb.personal import rank_next


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path)
    parser.add_argument("--label", default="label_archive")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-themes/quality"))
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    kb = KnowledgeBase.open(args.work)
    kb.ingest([str(args.data)])
    kb.index()
    labels = {}
    for line in args.data.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels[str(row.get("id") or row.get("_id"))] = str(row[args.label])
    papers = kb.papers()
    field = {p.id: labels[p.external_id or ""] for p in papers}
    ids, matrix = kb.vectors.own_vectors(sorted(field))
    archives = sorted({a for a in field.values() if sum(1 for v in field.values() if v == a) >= 20})
    for seeds in args.seeds:
        scores: dict[str, list[float]] = {"next": [], "related": []}
        for archive in archives:
            members = sorted(pid for pid, a in field.items() if a == archive)
            liked = set(members[:seeds])
            candidates = set(field) - liked
            suggested = [s.id for s in rank_next(ids, matrix, liked, set(), candidates, 10)]
            nearby = [hit["id"] for hit in kb.related(sorted(liked), k=10)]
            for name, found in (("next", suggested), ("related", nearby)):
                scores[name].append(sum(1 for pid in found if field[pid] == archive) / 10)
        print(
            f"{seeds} liked paper(s), {len(archives)} archives: precision@10 "
            f"next {statistics.fmean(scores['next']):.3f}, related {statistics.fmean(scores['related']):.3f}"
        )


if __name__ == "__main__":
    main()
