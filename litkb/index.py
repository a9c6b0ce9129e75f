"""The vector index: a Chroma collection inside the knowledge base. The only module that imports chromadb.

The index is derived from the records and can always be rebuilt from them. A paper has one vector per
passage (see `litkb.passages`), with ids `<paper id>#<n>` and metadata `paper`, `passage`, `count` and
`hash` (of what was embedded), so `litkb index` embeds only what changed and notices a paper whose
passages are not all there. A manifest beside it records the model, its dimension and the schema.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IndexMismatchError, IndexMissingError, LitkbError, first_line
from .fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

INDEX_SCHEMA = 2  # 2: several passage vectors per paper
MANIFEST = "manifest.json"
PASSAGE_COUNTS = "passages.json"
SNAPSHOT = "passages"
CHROMA_DIR = "chroma"
_PAGE = 5000
PASSAGE_POOL = 3  # passages fetched per paper wanted, before keeping each paper's best


class VectorIndex:
    """A Chroma collection in `directory/chroma` and its manifest in `directory/manifest.json`."""

    def __init__(self, directory: Path, collection: str) -> None:
        self.directory = directory
        self.collection_name = collection
        self._client: Any = None
        self._collection: Any = None
        self._counts: dict[str, int] | None = None
        self._total: int | None = None
        self._snapshot: tuple[dict[str, list[int]], Any] | None = None

    # -- manifest -------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LitkbError(
                f"{self.manifest_path}: the index manifest is damaged ({exc}); run `litkb index --rebuild`"
            ) from exc
        return data if isinstance(data, dict) else None

    def write_manifest(self, model: str, dim: int, count: int, passages: int, changed: bool = True) -> None:
        """Record what the index holds. `changed` gives it a new generation (the matrix snapshot of an
        older generation is then not used)."""
        old = self.read_manifest() or {}
        generation = uuid.uuid4().hex if changed or "generation" not in old else old["generation"]
        manifest = {
            "schema": INDEX_SCHEMA,
            "model": model,
            "dim": dim,
            "count": count,
            "passages": passages,
            "generation": generation,
        }
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")

    def check_usable(self, model: str) -> dict[str, Any]:
        """The manifest of an index that can answer queries for `model`; else an error saying what to do."""
        manifest = self.read_manifest()
        if manifest is None or not (self.directory / CHROMA_DIR).is_dir():
            raise IndexMissingError("the knowledge base has no index yet; run `litkb index`")
        if manifest.get("schema") != INDEX_SCHEMA:
            raise IndexMismatchError(
                f"the index has schema {manifest.get('schema')!r}, this litkb reads {INDEX_SCHEMA}; "
                "run `litkb index --rebuild`"
            )
        if manifest.get("model") != model:
            raise IndexMismatchError(
                f"the index was built with model '{manifest.get('model')}' but the knowledge base uses "
                f"'{model}'; run `litkb index` to re-index"
            )
        return manifest

    # -- collection -----------------------------------------------------------------------------

    def _open(self, create: bool) -> Any:
        if self._collection is not None:
            return self._collection
        import chromadb
        from chromadb.config import Settings

        if not create and not (self.directory / CHROMA_DIR).is_dir():
            raise IndexMissingError("the knowledge base has no index yet; run `litkb index`")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._client = chromadb.PersistentClient(
                path=str(self.directory / CHROMA_DIR),
                settings=Settings(anonymized_telemetry=False, allow_reset=True),
            )
            if create:
                self._collection = self._client.get_or_create_collection(
                    self.collection_name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            else:
                self._collection = self._client.get_collection(self.collection_name, embedding_function=None)
        except LitkbError:
            raise
        except Exception as exc:
            raise LitkbError(
                f"cannot open the index in {self.directory}: {first_line(exc)}; run `litkb index --rebuild`"
            ) from exc
        return self._collection

    def drop(self) -> None:
        """Remove the collection and the manifest (the records are untouched)."""
        self.manifest_path.unlink(missing_ok=True)
        for name in (PASSAGE_COUNTS, f"{SNAPSHOT}.npy", f"{SNAPSHOT}.rows.json"):
            (self.directory / name).unlink(missing_ok=True)
        self._counts = None
        self._total = None
        self._snapshot = None
        if not (self.directory / CHROMA_DIR).is_dir():
            return
        self._open(create=True)
        with contextlib.suppress(Exception):  # already gone is fine
            self._client.delete_collection(self.collection_name)
        self._collection = None

    def stored_hashes(self) -> dict[str, str]:
        """Every indexed paper with the content hash its passages were embedded from; "" for a paper whose
        passages are not all there (an interrupted `litkb index`), so it is embedded again."""
        seen: dict[str, list[Any]] = {}
        for _, meta, _ in self._pages(include=["metadatas"]):
            if meta and "paper" in meta:
                entry = seen.setdefault(str(meta["paper"]), [set(), 0, int(meta.get("count", 1))])
                entry[0].add(str(meta.get("hash", "")))
                entry[1] += 1
        return {
            pid: (next(iter(h)) if len(h) == 1 and n == count else "") for pid, (h, n, count) in seen.items()
        }

    def _pages(self, include: list[str], where: dict[str, Any] | None = None) -> Any:
        """(vector id, metadata, embedding) of every stored vector (matching `where`), page by page."""
        collection = self._open(create=True)
        offset = 0
        while True:
            page = collection.get(limit=_PAGE, offset=offset, include=include, where=where)
            ids = page["ids"]
            metas = page.get("metadatas") or [None] * len(ids)
            embeddings = page.get("embeddings")
            if embeddings is None:
                embeddings = [None] * len(ids)
            yield from zip(ids, metas, embeddings, strict=False)
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    def max_batch(self) -> int:
        self._open(create=True)
        return int(self._client.get_max_batch_size())

    def add(
        self,
        paper_ids: Sequence[str],
        passages: Sequence[int],
        counts: Sequence[int],
        vectors: np.ndarray,
        hashes: Sequence[str],
    ) -> None:
        """Store passage vectors: row i is passage `passages[i]` of `counts[i]` of paper `paper_ids[i]`,
        embedded from content with hash `hashes[i]`."""
        collection = self._open(create=True)
        step = self.max_batch()
        rows = list(zip(paper_ids, passages, counts, hashes, strict=True))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            collection.upsert(
                ids=[f"{pid}#{n}" for pid, n, _, _ in chunk],
                embeddings=vectors[start : start + step],
                metadatas=[{"paper": pid, "passage": n, "count": c, "hash": h} for pid, n, c, h in chunk],
            )

    def delete(self, paper_ids: Sequence[str]) -> None:
        """Remove every passage of these papers."""
        if not paper_ids:
            return
        collection = self._open(create=True)
        for start in range(0, len(paper_ids), 500):
            collection.delete(where={"paper": {"$in": list(paper_ids[start : start + 500])}})

    def passage_vectors(self, paper_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """(paper id of each row, matrix) of the stored passage vectors, of some papers or of all."""
        import numpy as np

        self._open(create=False)
        owners: list[str] = []
        rows: list[Any] = []
        chunks = (
            [None]
            if paper_ids is None
            else [list(paper_ids[i : i + 500]) for i in range(0, len(paper_ids), 500)]
        )
        for chunk in chunks:
            where = None if chunk is None else {"paper": {"$in": chunk}}
            for _, meta, embedding in self._pages(include=["metadatas", "embeddings"], where=where):
                owners.append(str(meta["paper"]))
                rows.append(embedding)
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return owners, np.asarray(rows, dtype=np.float32)

    def vectors_for(self, paper_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """One unit vector per paper (the mean of its passages), of some papers or of all; papers not in
        the index are left out. Rows follow the order of `paper_ids` (or of paper id)."""
        import numpy as np

        owners, matrix = self.passage_vectors(paper_ids)
        if not owners:
            return [], matrix
        rows: dict[str, list[int]] = {}
        for row, owner in enumerate(owners):
            rows.setdefault(owner, []).append(row)
        order = [pid for pid in (paper_ids if paper_ids is not None else sorted(rows)) if pid in rows]
        means = np.stack([matrix[rows[pid]].mean(axis=0) for pid in order])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return order, means

    def own_vectors(self, paper_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Each paper's own vector (passage 0: its title and abstract), of some papers or of all, in the
        order of `paper_ids` (or of paper id); papers not in the index are left out."""
        import numpy as np

        collection = self._open(create=False)
        found: dict[str, Any] = {}
        if paper_ids is None:
            for _, meta, embedding in self._pages(include=["metadatas", "embeddings"], where={"passage": 0}):
                found[str(meta["paper"])] = embedding
            order = sorted(found)
        else:
            for start in range(0, len(paper_ids), _PAGE):
                chunk = [f"{pid}#0" for pid in paper_ids[start : start + _PAGE]]
                page = collection.get(ids=chunk, include=["embeddings"])
                for vid, embedding in zip(page["ids"], page["embeddings"], strict=True):
                    found[vid.rsplit("#", 1)[0]] = embedding
            order = [pid for pid in paper_ids if pid in found]
        if not order:
            return [], np.zeros((0, 0), dtype=np.float32)
        return order, np.asarray([found[pid] for pid in order], dtype=np.float32)

    def vector(self, paper_id: str) -> np.ndarray | None:
        found, matrix = self.vectors_for([paper_id])
        return matrix[0] if found else None

    def query_within(self, vector: np.ndarray, paper_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` nearest among `paper_ids` only, exactly: a paper scores its best passage's cosine."""
        import numpy as np

        owners, matrix = self.passage_vectors(paper_ids)
        if not owners:
            return []
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return _best_per_paper(owners, (unit @ vector).tolist(), k)

    def write_passage_counts(self, counts: dict[str, int]) -> None:
        """How many passages each paper has, so a paper's vectors can be fetched by id."""
        atomic_write_text(self.directory / PASSAGE_COUNTS, json.dumps(counts))
        self._counts = counts

    def _passage_counts(self) -> dict[str, int]:
        if self._counts is None:
            try:
                self._counts = json.loads((self.directory / PASSAGE_COUNTS).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._counts = {}
        return self._counts

    def write_snapshot(self) -> None:
        """Save every passage vector as one matrix (`passages.npy`, rows named in `passages.rows.json`), for
        scoring given papers without a round trip to Chroma. Tagged with the manifest's generation, so a
        snapshot that is out of step with the collection is never used."""
        import numpy as np

        owners, matrix = self.passage_vectors(None)
        generation = (self.read_manifest() or {}).get("generation")
        staging = self.directory / f"{SNAPSHOT}.tmp.npy"
        np.save(staging, matrix.astype(np.float32))
        os.replace(staging, self.directory / f"{SNAPSHOT}.npy")
        atomic_write_text(
            self.directory / f"{SNAPSHOT}.rows.json", json.dumps({"generation": generation, "rows": owners})
        )
        self._snapshot = None

    def snapshot_ok(self) -> bool:
        return self._load_snapshot() is not None

    def _load_snapshot(self) -> tuple[dict[str, list[int]], np.ndarray] | None:
        if self._snapshot is None:
            import numpy as np

            try:
                rows = json.loads((self.directory / f"{SNAPSHOT}.rows.json").read_text(encoding="utf-8"))
                if rows.get("generation") != (self.read_manifest() or {}).get("generation"):
                    return None
                matrix = np.load(self.directory / f"{SNAPSHOT}.npy", mmap_mode="r")
            except (OSError, ValueError):
                return None
            by_paper: dict[str, list[int]] = {}
            for row, owner in enumerate(rows["rows"]):
                by_paper.setdefault(owner, []).append(row)
            self._snapshot = (by_paper, matrix)
        return self._snapshot

    def best_scores(self, vector: np.ndarray, paper_ids: Sequence[str]) -> dict[str, float]:
        """Each paper's best passage cosine with `vector` (papers not in the index are left out)."""
        import numpy as np

        snapshot = self._load_snapshot()
        if snapshot is not None:
            by_paper, matrix = snapshot
            present = [pid for pid in paper_ids if pid in by_paper]
            if not present:
                return {}
            rows = [row for pid in present for row in by_paper[pid]]
            scores = (np.asarray(matrix[rows]) @ vector).tolist()
            owners = [pid for pid in present for _ in by_paper[pid]]
            return dict(_best_per_paper(owners, scores, len(present)))
        counts = self._passage_counts()
        wanted = [f"{pid}#{n}" for pid in paper_ids for n in range(counts.get(pid, 1))]
        if not wanted:
            return {}
        found = self._open(create=False).get(ids=wanted, include=["embeddings"])
        if not found["ids"]:
            return {}
        matrix = np.asarray(found["embeddings"], dtype=np.float32)
        scores = matrix @ vector / np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
        owners = [vid.rsplit("#", 1)[0] for vid in found["ids"]]
        return dict(_best_per_paper(owners, scores.tolist(), len(paper_ids)))

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` nearest papers with the cosine similarity of their best passage, best first."""
        collection = self._open(create=False)
        if self._total is None:  # passages in the collection: the manifest says, or ask Chroma once
            self._total = int((self.read_manifest() or {}).get("passages") or collection.count())
        total = self._total
        if total == 0 or k <= 0:
            return []
        wanted = min(total, k * PASSAGE_POOL)
        while True:
            found = collection.query(
                query_embeddings=[vector], n_results=wanted, include=["distances", "metadatas"]
            )
            owners = [str(m["paper"]) for m in found["metadatas"][0]]
            scores = [1.0 - float(d) for d in found["distances"][0]]
            best = _best_per_paper(owners, scores, k)
            if len(best) >= k or wanted >= total or len(owners) < wanted:
                return best
            wanted = min(total, wanted * 2)


def _best_per_paper(owners: Sequence[str], scores: Sequence[float], k: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for owner, score in zip(owners, scores, strict=True):
        if score > best.get(owner, -2.0):
            best[owner] = score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
