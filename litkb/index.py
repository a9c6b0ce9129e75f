"""The vector index: a Chroma collection inside the knowledge base. The only module that imports chromadb.

The index is derived from the records and can always be rebuilt from them. Each vector's id is the
paper's id; its metadata holds the content hash of the text that was embedded, so `litkb index`
embeds only what changed. A manifest beside it records the model, its dimension and the schema.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IndexMismatchError, IndexMissingError, LitkbError, first_line
from .fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

INDEX_SCHEMA = 1
MANIFEST = "manifest.json"
CHROMA_DIR = "chroma"
_PAGE = 5000


class VectorIndex:
    """A Chroma collection in `directory/chroma` and its manifest in `directory/manifest.json`."""

    def __init__(self, directory: Path, collection: str) -> None:
        self.directory = directory
        self.collection_name = collection
        self._client: Any = None
        self._collection: Any = None

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

    def write_manifest(self, model: str, dim: int, count: int) -> None:
        manifest = {"schema": INDEX_SCHEMA, "model": model, "dim": dim, "count": count}
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
        if not (self.directory / CHROMA_DIR).is_dir():
            return
        self._open(create=True)
        with contextlib.suppress(Exception):  # already gone is fine
            self._client.delete_collection(self.collection_name)
        self._collection = None

    def stored_hashes(self) -> dict[str, str]:
        """Every indexed id with the content hash it was embedded from."""
        collection = self._open(create=True)
        hashes: dict[str, str] = {}
        offset = 0
        while True:
            page = collection.get(limit=_PAGE, offset=offset, include=["metadatas"])
            ids = page["ids"]
            for vid, meta in zip(ids, page["metadatas"] or [{}] * len(ids), strict=False):
                hashes[vid] = str((meta or {}).get("hash", ""))
            if len(ids) < _PAGE:
                return hashes
            offset += _PAGE

    def max_batch(self) -> int:
        self._open(create=True)
        return int(self._client.get_max_batch_size())

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str]) -> None:
        collection = self._open(create=True)
        step = self.max_batch()
        for start in range(0, len(ids), step):
            end = start + step
            collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=[{"hash": h} for h in hashes[start:end]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection = self._open(create=True)
        step = self.max_batch()
        for start in range(0, len(ids), step):
            collection.delete(ids=list(ids[start : start + step]))

    def count(self) -> int:
        return int(self._open(create=False).count())

    def vector(self, paper_id: str) -> np.ndarray | None:
        import numpy as np

        got = self._open(create=False).get(ids=[paper_id], include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None or len(embeddings) == 0:
            return None
        return np.asarray(embeddings[0], dtype=np.float32)

    def vectors_for(self, ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Stored vectors of the given ids (or all) as (ids, matrix); ids not in the index are left out."""
        import numpy as np

        collection = self._open(create=False)
        found_ids: list[str] = []
        rows: list[Any] = []
        if ids is None:
            offset = 0
            while True:
                page = collection.get(limit=_PAGE, offset=offset, include=["embeddings"])
                found_ids.extend(page["ids"])
                rows.extend(page["embeddings"] if page["embeddings"] is not None else [])
                if len(page["ids"]) < _PAGE:
                    break
                offset += _PAGE
        else:
            for start in range(0, len(ids), _PAGE):
                page = collection.get(ids=list(ids[start : start + _PAGE]), include=["embeddings"])
                found_ids.extend(page["ids"])
                rows.extend(page["embeddings"] if page["embeddings"] is not None else [])
        if not found_ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        return found_ids, np.asarray(rows, dtype=np.float32)

    def query_within(self, vector: np.ndarray, ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` nearest among `ids` only, exactly (cosine over their stored vectors)."""
        import numpy as np

        found, matrix = self.vectors_for(ids)
        if not found:
            return []
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        scores = unit @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
        order = np.lexsort((np.array(found), -scores))[:k]
        return [(found[i], float(scores[i])) for i in order]

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` nearest ids with their cosine similarity, best first."""
        collection = self._open(create=False)
        total = collection.count()
        if total == 0 or k <= 0:
            return []
        found = collection.query(query_embeddings=[vector], n_results=min(k, total), include=["distances"])
        ids = found["ids"][0]
        distances = found["distances"][0] if found.get("distances") else [1.0] * len(ids)
        return [(vid, 1.0 - float(d)) for vid, d in zip(ids, distances, strict=False)]
