"""The Chroma collection that holds the passage vectors: embedded in `index/chroma/`, or on a Chroma
server. The only module that imports chromadb.

A paper has one vector per passage (see `litkb.index.passages`), with ids `<paper id>#<n>` and metadata
`paper`, `passage`, `count` and `hash` (of what was embedded), so `litkb index` embeds only what changed
and notices a paper whose passages are not all there.
"""

from __future__ import annotations

import contextlib
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
    LitkbError,
    ServerError,
    first_line,
)
from .manifest import INDEX_SCHEMA

if TYPE_CHECKING:
    import numpy as np

    from .snapshot import PassageRows

CHROMA_DIR = "chroma"
_PAGE = 5000
READ_PAPERS = 2000  # papers whose vectors are read at a time when all are wanted (snapshot, server copy)
GENERATION = "litkb_generation"  # in the collection's metadata: changed by every litkb writer
CHANGING = "changing-"  # the start of the generation while a writer changes the vectors


def is_changing(generation: str) -> bool:
    return generation.startswith(CHANGING)


class ChromaStore:
    """The collection `collection` in `directory/chroma`, or on the server at `url`."""

    def __init__(self, directory: Path, collection: str, url: str | None = None, model: str = "") -> None:
        self.directory = directory
        self.collection_name = collection
        self.url = url
        self.model = model
        self._client: Any = None
        self._collection: Any = None

    @property
    def path(self) -> Path:
        return self.directory / CHROMA_DIR

    def exists(self) -> bool:
        """Whether there may be a collection to read (a server always may)."""
        return self.url is not None or self.path.is_dir()

    def open(self, create: bool, check_model: bool = True) -> Any:
        """The collection (created when `create`), checked to hold vectors of the knowledge base's model."""
        if self._collection is not None:
            return self._collection
        import chromadb

        if not create and not self.exists():
            raise IndexMissingError("the knowledge base has no index yet; run `litkb index`")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.guard("open"):
            if self.url is None:
                self._client = chromadb.PersistentClient(
                    path=str(self.path), settings=chroma_settings(local=True)
                )
            else:
                parts = urllib.parse.urlsplit(self.url)
                self._client = chromadb.HttpClient(
                    host=str(parts.hostname),
                    port=int(parts.port or 8000),
                    ssl=parts.scheme == "https",
                    settings=chroma_settings(local=False),
                )
            if create:
                self._collection = self._client.get_or_create_collection(
                    self.collection_name,
                    embedding_function=None,
                    metadata={"litkb_model": self.model, "litkb_schema": INDEX_SCHEMA},
                    configuration={"hnsw": {"space": "cosine"}},
                )
            else:
                self._collection = self._client.get_collection(self.collection_name, embedding_function=None)
        stored = (self._collection.metadata or {}).get("litkb_model")
        if check_model and self.model and stored and stored != self.model:
            self._collection = None
            raise IndexMismatchError(
                f"the collection '{self.collection_name}' holds vectors of model '{stored}' but the "
                f"knowledge base uses '{self.model}'; run `litkb index --rebuild` (or name another "
                "collection in config.yaml)"
            )
        return self._collection

    def generation(self) -> str | None:
        """The collection's generation (see `litkb.index.mirror`): one round trip to read its metadata;
        None when there is none (or no collection yet)."""
        if self._client is None:
            try:
                self.open(create=False)
            except LitkbError as exc:
                if isinstance(exc.__cause__, chroma_not_found()):
                    return None
                raise
        with self.guard("read"):
            try:
                collection = self._client.get_collection(self.collection_name, embedding_function=None)
            except chroma_not_found():
                return None
        value = (collection.metadata or {}).get(GENERATION)
        return str(value) if value else None

    def set_generation(self, changing: bool) -> None:
        """Give the collection a new generation: `changing-...` before its vectors change, a plain one
        after."""
        collection = self.open(create=True)
        metadata = {k: v for k, v in (collection.metadata or {}).items() if k.startswith("litkb_")}
        metadata[GENERATION] = (CHANGING if changing else "") + uuid.uuid4().hex
        with self.guard("write to"):
            collection.modify(metadata=metadata)

    def forget(self) -> None:
        """Drop the open client (the folder now holds another store)."""
        self._client = None
        self._collection = None
        forget_clients()

    @contextlib.contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn a failure inside Chroma into a message that says where and what to do."""
        try:
            yield
        except LitkbError:
            raise
        except Exception as exc:
            if self.url is not None:
                raise ServerError(
                    f"cannot {action} the collection '{self.collection_name}' on the Chroma server at "
                    f"{self.url}: {first_line(exc)}; check that the server is running, then run the command "
                    "again (`litkb index` completes what is missing)"
                ) from exc
            if isinstance(exc, chroma_not_found()):
                raise IndexMissingError("the knowledge base has no index yet; run `litkb index`") from exc
            raise IndexDamagedError(
                f"cannot {action} the vector index in {self.path}: {first_line(exc)}; "
                "run `litkb doctor` (and `litkb doctor --repair` to rebuild it from the records)",
                reason=f"cannot {action} the vector index: {first_line(exc)}",
            ) from exc

    def drop(self) -> None:
        """Remove the collection (already gone is fine)."""
        if not self.exists():
            return
        self.open(create=True, check_model=False)
        with contextlib.suppress(Exception):
            self._client.delete_collection(self.collection_name)
        self._collection = None

    def pages(
        self, include: list[str], where: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, Any, Any]]:
        """(vector id, metadata, embedding) of every stored vector (matching `where`), page by page."""
        collection = self.open(create=True)
        offset = 0
        while True:
            with self.guard("read"):
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

    def stored_hashes(self) -> dict[str, str]:
        """Every indexed paper with the content hash its passages were embedded from; "" for a paper whose
        passages are not all there (an interrupted `litkb index`), so it is embedded again."""
        seen: dict[str, list[Any]] = {}
        for _, meta, _ in self.pages(include=["metadatas"]):
            if meta and "paper" in meta:
                entry = seen.setdefault(str(meta["paper"]), [set(), 0, int(meta.get("count", 1))])
                entry[0].add(str(meta.get("hash", "")))
                entry[1] += 1
        return {
            pid: (next(iter(h)) if len(h) == 1 and n == count else "") for pid, (h, n, count) in seen.items()
        }

    def probe(self) -> bool:
        """Whether a search finds a stored vector (its own nearest): False means the store holds vectors
        that its search cannot reach."""
        collection = self.open(create=False)
        with self.guard("read"):
            first = collection.get(limit=1, include=["embeddings"])
            if not first["ids"]:
                return True
            found = collection.query(query_embeddings=[first["embeddings"][0]], n_results=1, include=[])
        return bool(found["ids"] and found["ids"][0])

    def count(self) -> int:
        """How many passage vectors the collection holds."""
        collection = self.open(create=True)
        with self.guard("read"):
            return int(collection.count())

    def count_of(self, paper_ids: Sequence[str]) -> int:
        """How many passage vectors the collection holds of these papers."""
        collection = self.open(create=True)
        found = 0
        for start in range(0, len(paper_ids), 500):
            with self.guard("read"):
                page = collection.get(
                    where={"paper": {"$in": list(paper_ids[start : start + 500])}}, include=[]
                )
            found += len(page["ids"])
        return found

    def max_batch(self) -> int:
        self.open(create=True)
        with self.guard("open"):
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
        collection = self.open(create=True)
        step = self.max_batch()
        rows = list(zip(paper_ids, passages, counts, hashes, strict=True))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            with self.guard("write to"):
                collection.upsert(
                    ids=[f"{pid}#{n}" for pid, n, _, _ in chunk],
                    embeddings=vectors[start : start + step],
                    metadatas=[{"paper": pid, "passage": n, "count": c, "hash": h} for pid, n, c, h in chunk],
                )

    def delete(self, paper_ids: Sequence[str]) -> None:
        """Remove every passage of these papers."""
        if not paper_ids:
            return
        collection = self.open(create=True)
        for start in range(0, len(paper_ids), 500):
            with self.guard("write to"):
                collection.delete(where={"paper": {"$in": list(paper_ids[start : start + 500])}})

    def passage_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of each stored passage vector of some papers or of all, and the
        matrix: rows of a paper together, in passage order (papers in the order of `paper_ids`, or of id)."""
        import numpy as np

        self.open(create=False)
        found: list[tuple[str, int, Any]] = []
        chunks = (
            [None]
            if paper_ids is None
            else [list(paper_ids[i : i + 500]) for i in range(0, len(paper_ids), 500)]
        )
        for chunk in chunks:
            where = None if chunk is None else {"paper": {"$in": chunk}}
            for _, meta, embedding in self.pages(include=["metadatas", "embeddings"], where=where):
                found.append((str(meta["paper"]), int(meta.get("passage", 0)), embedding))
        if not found:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        order = {pid: i for i, pid in enumerate(paper_ids)} if paper_ids is not None else None
        found.sort(key=lambda row: (order[row[0]] if order else row[0], row[1]))
        matrix = np.asarray([row[2] for row in found], dtype=np.float32)
        return [row[0] for row in found], [row[1] for row in found], matrix

    def rows_in_parts(self, paper_ids: Sequence[str], size: int = READ_PAPERS) -> Iterator[PassageRows]:
        """The passage vectors of `paper_ids`, `size` papers at a time (never all in memory at once)."""
        from .snapshot import PassageRows

        for start in range(0, len(paper_ids), size):
            owners, numbers, matrix = self.passage_rows(paper_ids[start : start + size])
            yield PassageRows(owners, numbers, matrix)

    def first_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
        """Passage 0 of some papers or of all, in the order of `paper_ids` (or of paper id)."""
        import numpy as np

        collection = self.open(create=False)
        found: dict[str, Any] = {}
        if paper_ids is None:
            for _, meta, embedding in self.pages(include=["metadatas", "embeddings"], where={"passage": 0}):
                found[str(meta["paper"])] = embedding
            order = sorted(found)
        else:
            for start in range(0, len(paper_ids), _PAGE):
                chunk = [f"{pid}#0" for pid in paper_ids[start : start + _PAGE]]
                with self.guard("read"):
                    page = collection.get(ids=chunk, include=["embeddings"])
                for vid, embedding in zip(page["ids"], page["embeddings"], strict=True):
                    found[vid.rsplit("#", 1)[0]] = embedding
            order = [pid for pid in paper_ids if pid in found]
        if not order:
            return [], np.zeros((0, 0), dtype=np.float32)
        return order, np.asarray([found[pid] for pid in order], dtype=np.float32)

    def nearest(self, vector: np.ndarray, n: int, first_only: bool = False) -> list[tuple[str, int, float]]:
        """(paper, passage number, cosine) of the `n` passage vectors nearest `vector`, nearest first;
        `first_only`: passage 0 of each paper only."""
        collection = self.open(create=False)
        with self.guard("search"):
            found = collection.query(
                query_embeddings=[vector],
                n_results=n,
                where={"passage": 0} if first_only else None,
                include=["metadatas", "distances"],
            )
        return [
            (str(meta["paper"]), int(meta.get("passage", 0)), 1.0 - float(distance))
            for meta, distance in zip(found["metadatas"][0], found["distances"][0], strict=True)
        ]


def chroma_not_found() -> type[Exception]:
    from chromadb.errors import NotFoundError as ChromaNotFound

    return ChromaNotFound


def chroma_settings(local: bool) -> Any:
    """Chroma's settings, built from litkb's values and Chroma's defaults only: Chroma would otherwise
    read them from CHROMA_* variables and from a `.env` file in the working directory (which could send
    a local index to a server, turn telemetry on, or load an auth provider)."""
    from chromadb.config import Settings

    return Settings.model_construct(  # model_construct: no environment, no .env
        chroma_api_impl="chromadb.api.rust.RustBindingsAPI" if local else "chromadb.api.fastapi.FastAPI",
        anonymized_telemetry=False,
        allow_reset=True,
    )


def forget_clients() -> None:
    """Chroma keeps one system per path in a process; after a swap the path holds another store."""
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
