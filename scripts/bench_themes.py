"""Theme quality and scale benchmark.

Quality: imports a labelled JSON Lines collection (title, abstract, a label field) into a knowledge base,
indexes it with the configured model, and clusters it (litkb's own `litkb.themes.cluster`, on the
vectors `litkb themes` reads) with `-k` set to the number of labels and with the automatic choice; prints
the v-measure of each against the labels, the number of themes and the largest theme's share, beside plain
k-means on the same vectors. `--within FIELD=VALUE` takes only the papers whose FIELD is VALUE (one
archive's papers, say), repeatable; each is reported apart.

    .venv/bin/python scripts/bench_themes.py ../shared/dev-data/arxiv-2007-sample.jsonl --label label_archive
    .venv/bin/python scripts/bench_themes.py ../shared/dev-data/arxiv-2007-sample.jsonl --label label_fine \
        --within label_archive=math --within label_archive=cond-mat --within all

`--ceiling` adds, for each collection, what a classifier *trained on the labels* gets from the same
vectors (10-fold cross-validation: each paper labelled by a model fitted on the other nine tenths; kNN and
logistic regression), scored by v-measure like the themes. A clustering cannot be expected to do much
better, so it says how much room the vectors leave above k-means; it means little where labels hold
only a few papers each (nine tenths of one paper's label is nothing to learn from).

`--unlabelled KB` runs the automatic choice on an indexed knowledge base with no labels (the SciFact corpus
that bench_search.py builds) and prints the number of themes, the largest share and the first ten labels.

Scale (`--scale N`): a knowledge base of N papers whose vectors are stored synthetic ones (the quality
collection's real vectors plus noise, so no N-paper embedding pass is needed), then `litkb themes` run as
a new process, automatic and with -k, reporting wall time and peak memory.

    .venv/bin/python scripts/bench_themes.py ../shared/dev-data/arxiv-2007-sample.jsonl --scale 20000

The knowledge bases are kept in --work (default /tmp/litkb-bench-themes) so reruns skip the embedding.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import v_measure_score

from litkb import KnowledgeBase
from litkb.index.passages import vector_hash

BASELINE_SEEDS = 5


def load_labels(path: Path, field: str) -> dict[str, str]:
    labels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels[str(row.get("id") or row.get("_id"))] = str(row[field])
    return labels


def quality(
    kb: KnowledgeBase,
    labels: dict[str, str],
    rows: dict[str, dict[str, object]],
    within: str,
    ceiling: bool = False,
) -> None:
    """v-measure of litkb's clustering (-k = the labels, and automatic) and of k-means, for the papers
    `within` selects (`FIELD=VALUE`, or `all`)."""
    from sklearn.cluster import KMeans

    from litkb.themes.cluster import cluster

    field, _, value = within.partition("=")
    papers = [p for p in kb.papers() if within == "all" or str(rows[p.external_id or ""].get(field)) == value]
    ids, matrix = kb.vectors.own_vectors([p.id for p in papers])
    external = {p.id: p.external_id or "" for p in papers}
    truth = [labels[external[i]] for i in ids]
    k_true = len(set(truth))
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    # k-means moves by up to 0.05 from one seed to another on a few hundred papers: the mean of five
    baselines = [
        v_measure_score(truth, KMeans(k_true, n_init=10, random_state=seed).fit_predict(unit))
        for seed in range(BASELINE_SEEDS)
    ]
    sizes = sorted(Counter(truth).values())
    print(
        f"{within}: {len(ids)} papers, {k_true} labels ({sizes[0]}-{sizes[-1]} papers each); "
        f"k-means at -k {k_true}: v-measure "
        f"{np.mean(baselines):.3f} (mean of {BASELINE_SEEDS} seeds, "
        f"{min(baselines):.3f}-{max(baselines):.3f})"
    )
    for name, k in ((f"-k {k_true}", k_true), ("automatic", None)):
        start = time.perf_counter()
        found = cluster(matrix, k)
        seconds = time.perf_counter() - start
        share = max(np.bincount(found.labels)) / len(ids)
        score = v_measure_score(truth, found.labels)
        print(
            f"{name:>12}: v-measure {score:.3f}  themes {found.k:3d}  largest {share:.0%}  ({seconds:.1f} s)"
        )
    if ceiling:
        scores = supervised_reference(matrix, truth)
        print(
            f"{'supervised':>12}: v-measure "
            + ", ".join(f"{name} {score:.3f}" for name, score in scores.items())
            + " (10-fold, trained on the labels)"
        )


def supervised_reference(matrix: np.ndarray, truth: list[str]) -> dict[str, float]:
    """v-measure of labels predicted by classifiers fitted on the other folds' true labels, on the vectors
    litkb clusters (centred, unit length)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    from litkb.themes.cluster import centred

    unit = centred(np.asarray(matrix, dtype=np.float32))
    folds = KFold(10, shuffle=True, random_state=0)
    models = {
        "kNN-15": KNeighborsClassifier(15, metric="cosine", weights="distance"),
        "logistic regression": LogisticRegression(C=3.0, max_iter=3000),
    }
    return {
        name: float(v_measure_score(truth, cross_val_predict(model, unit, truth, cv=folds)))
        for name, model in models.items()
    }


def unlabelled(path: Path) -> None:
    """The automatic choice on a knowledge base without labels: themes, largest share, first labels."""
    kb = KnowledgeBase.open(path)
    start = time.perf_counter()
    themes = kb.themes(rebuild=True)
    seconds = time.perf_counter() - start
    sizes = [themes.size(t.id) for t in themes.themes]
    print(
        f"{path.name}: {len(themes.assignments)} papers, automatic: {themes.k} themes in "
        f"{len(themes.areas)} areas, largest {max(sizes) / sum(sizes):.0%} ({seconds:.1f} s)"
    )
    for theme in themes.themes[:10]:
        print(f"{'':4}{theme.id:3d} ({themes.size(theme.id):4d}) {theme.label}")
    for area in themes.areas:
        print(f"{'':4}area {area.id} ({len(themes.area_members(area.id)):4d}): {area.label}")


def build_scale_kb(source: KnowledgeBase, target: Path, n: int) -> None:
    """N records copied from the source collection, with stored vectors = real ones plus noise."""
    from litkb.models import Paper

    target.mkdir(parents=True, exist_ok=True)
    (target / "config.yaml").write_text(f"model: '{source.config.model}'\n")
    kb = KnowledgeBase.open(target)
    base = source.papers()
    ids, vectors = source.vectors.own_vectors([p.id for p in base])
    by_id = {p.id: p for p in base}
    rng = np.random.default_rng(0)
    papers, rows, hashes = [], [], []
    for i in range(n):
        src = by_id[ids[i % len(ids)]]
        paper = Paper(title=f"{src.title} [{i}]", abstract=src.abstract, external_id=f"{src.external_id}-{i}")
        paper.id = f"synthetic-{i:06d}"
        papers.append(paper)
        noisy = vectors[i % len(ids)] + rng.normal(0, 0.02, vectors.shape[1]).astype(np.float32)
        rows.append(noisy / np.linalg.norm(noisy))
        hashes.append(vector_hash(kb.config.model, paper))
    with kb.writing():
        kb.store.save_many(papers)
        kb.vectors.chroma.add(
            [p.id for p in papers], [0] * n, [1] * n, np.asarray(rows, dtype=np.float32), hashes
        )
        kb.vectors.write_manifest(kb.config.model, int(vectors.shape[1]), n)


def timed_cli(kb_path: Path, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `litkb --kb PATH themes ...` as a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "litkb", "--kb", str(kb_path), "themes", *args],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="labelled JSON Lines collection")
    parser.add_argument("--label", default="label_archive", help="the field holding each paper's label")
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-themes"))
    parser.add_argument(
        "--scale", type=int, default=0, help="also time themes on a knowledge base of N papers"
    )
    parser.add_argument("--within", action="append", default=[], help="FIELD=VALUE, or all (repeatable)")
    parser.add_argument("--unlabelled", type=Path, help="an indexed knowledge base without labels")
    parser.add_argument(
        "--ceiling", action="store_true", help="also score classifiers trained on the labels (10-fold)"
    )
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    kb = KnowledgeBase.open(args.work / "quality")
    kb.ingest([str(args.data)])
    report = kb.index()
    print(f"collection: {args.data.name}; index: {report.summary()}; labels: {args.label}")
    rows = {
        str(row.get("id") or row.get("_id")): row
        for row in map(json.loads, args.data.read_text(encoding="utf-8").splitlines())
    }
    for within in args.within or ["all"]:
        quality(kb, load_labels(args.data, args.label), rows, within, args.ceiling)
    if args.unlabelled is not None:
        unlabelled(args.unlabelled)

    if args.scale:
        scale_path = args.work / f"scale-{args.scale}"
        if not (scale_path / "records").is_dir():
            build_scale_kb(kb, scale_path, args.scale)
        for label, extra in (("automatic", []), ("-k 18", ["-k", "18"])):
            seconds, peak = timed_cli(scale_path, "--rebuild", *extra)
            print(f"scale {args.scale} papers, themes {label}: {seconds:.1f} s wall, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
