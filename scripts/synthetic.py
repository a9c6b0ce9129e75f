"""Knowledge bases at scale for the benchmarks: real records, stored random vectors (no model run)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from litkb import KnowledgeBase
from litkb.index.passages import passages, vector_hash
from litkb.models import Paper


def store_with_random_vectors(kb: KnowledgeBase, papers: Sequence[Paper], dim: int = 384) -> None:
    """Write `papers` as records and give each of their passages (as many as `litkb index` would embed)
    a random unit vector, stored with the content hashes `litkb index` expects, so that a later
    `litkb index` embeds nothing."""
    model = kb.config.model
    rng = np.random.default_rng(0)
    with kb.writing(), kb.indexing():
        kb.store.save_many(papers)
        for start in range(0, len(papers), 2000):
            chunk = papers[start : start + 2000]
            counts = [len(passages(p)) for p in chunk]
            vectors = rng.normal(size=(sum(counts), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            owners = [(p, n) for p, n in zip(chunk, counts, strict=True) for _ in range(n)]
            kb.vectors.chroma.add(
                [p.id for p, _ in owners],
                [k for n in counts for k in range(n)],
                [n for _, n in owners],
                vectors,
                [vector_hash(model, p) for p, _ in owners],
            )
        kb.vectors.write_manifest(model, dim, len(papers))
