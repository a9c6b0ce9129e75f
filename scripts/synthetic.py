"""Knowledge bases at scale for the benchmarks: real records, stored random vectors (no model run)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from litkb import KnowledgeBase
from litkb.kb import content_hash
from litkb.models import Paper
from litkb.passages import SCHEME


def store_with_random_vectors(
    kb: KnowledgeBase, papers: Sequence[Paper], dim: int = 384, per_paper: int = 2
) -> None:
    """Write `papers` as records and give each `per_paper` random unit vectors, stored with the content
    hashes `litkb index` expects, so that a later `litkb index` embeds nothing."""
    model = kb.config.model
    rng = np.random.default_rng(0)
    with kb.writing():
        kb.store.save_many(papers)
        for start in range(0, len(papers), 2000):
            chunk = papers[start : start + 2000]
            vectors = rng.normal(size=(per_paper * len(chunk), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            kb.vectors.add(
                [p.id for p in chunk for _ in range(per_paper)],
                [k for _ in chunk for k in range(per_paper)],
                [per_paper] * (per_paper * len(chunk)),
                vectors,
                [
                    content_hash(model, f"{SCHEME}\x00{p.embedded_text()}")
                    for p in chunk
                    for _ in range(per_paper)
                ],
            )
        kb.vectors.write_manifest(model, dim, len(papers))
