"""The Chroma collection that holds the passage vectors: embedded in `index/chroma/`, or on a Chroma
server. The only module that imports chromadb.

A paper has one vector per passage (see `litkb.index.passages`), with ids `<paper id>#<n>` and metadata
`paper`, `passage`, `count` and `hash` (of what was embedded), so `litkb index` embeds only what changed
and notices a paper whose passages are not all there. A local index may span several collections, one
loaded at a time (see `litkb.index.shards`).
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
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
from .manifest import INDEX_SCHEMA, Manifest
from .shards import SHARDS_FILE, ShardMap

if TYPE_CHECKING:
    import numpy as np

    from .snapshot import PassageRows

CHROMA_DIR = "chroma"
_PAGE = 5000
READ_PAPERS = 2000  # papers whose vectors are read at a time when all are wanted (snapshot, server copy)
GENERATION = "litkb_generation"  # in the collection's metadata: changed by every litkb writer
CHANGING = "changing-"  # the start of the generation while a writer changes the vectors
# Where a server keeps collections that a client made with Chroma's defaults (litkb sets no tenant).
SERVER_COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections/"
SERVER_TIMEOUT = 30.0  # seconds for reading a collection's metadata over HTTP


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
        self._open_name: str | None = None  # the collection `_collection` is

    @property
    def path(self) -> Path:
        return self.directory / CHROMA_DIR

    def exists(self) -> bool:
        """Whether there may be a collection to read (a server always may)."""
        return self.url is not None or self.path.is_dir()

    def shards(self) -> ShardMap:
        """The collections of this index (see `litkb.index.shards`): read again at every call, since
        another process may have written since."""
        if self.url is not None:
            return ShardMap.single(self.collection_name)
        try:
            rows = int((Manifest(self.directory).read() or {}).get("passages") or 0)
        except (LitkbError, TypeError, ValueError):
            rows = 0
        return ShardMap.load(self.directory, self.collection_name, rows)

    def open(self, create: bool, check_model: bool = True, name: str | None = None) -> Any:
        """The collection `name` (the first shard unless named; created when `create`), checked to hold
        vectors of the knowledge base's model. Locally one collection is open at a time: Chroma keeps
        every collection it has touched in memory, so opening another lets the previous one go."""
        name = name or self.collection_name
        if self._collection is not None and self._open_name == name:
            return self._collection
        if self._collection is not None and self.url is None:
            self.forget()
        if not create and not self.exists():
            raise IndexMissingError("the knowledge base has no index yet; run `litkb index`")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._collection = None
        with self.guard("open"):
            if self._client is None:
                self._client = self._connect()
            if create:
                self._collection = self._client.get_or_create_collection(
                    name,
                    embedding_function=None,
                    metadata={"litkb_model": self.model, "litkb_schema": INDEX_SCHEMA},
                    configuration={"hnsw": {"space": "cosine"}},
                )
            else:
                self._collection = self._client.get_collection(name, embedding_function=None)
        self._open_name = name
        problem = self._other_model(name, self._collection.metadata)
        if check_model and problem is not None:
            self._collection = None
            raise problem
        return self._collection

    def _other_model(self, name: str, metadata: dict[str, Any] | None) -> IndexMismatchError | None:
        """The error for a collection (with this metadata) that holds another model's vectors, if it does."""
        stored = (metadata or {}).get("litkb_model")
        if not self.model or not stored or stored == self.model:
            return None
        return IndexMismatchError(
            f"the collection '{name}' holds vectors of model '{stored}' but the knowledge base uses "
            f"'{self.model}'; run `litkb index --rebuild` (or name another collection in config.yaml)"
        )

    def _connect(self) -> Any:
        import chromadb

        if self.url is None:
            return chromadb.PersistentClient(path=str(self.path), settings=chroma_settings(local=True))
        parts = urllib.parse.urlsplit(self.url)
        return chromadb.HttpClient(
            host=str(parts.hostname),
            port=int(parts.port or 8000),
            ssl=parts.scheme == "https",
            settings=chroma_settings(local=False),
        )

    def generation(self) -> str | None:
        """The generation of the collection on a server (see `litkb.index.mirror`; the embedded store keeps
        its own in the manifest): None when there is none, or no collection yet. Read by one plain HTTP
        request, so a search whose local copy is current never imports chromadb (0.6 s of a cold search);
        the collection's model is checked as `open` checks it."""
        if self.url is None:
            return None
        url = self.url.rstrip("/") + SERVER_COLLECTIONS + urllib.parse.quote(self.collection_name, safe="")
        with self.guard("read"):
            try:
                with urllib.request.urlopen(url, timeout=SERVER_TIMEOUT) as response:
                    found = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                raise
            metadata = found.get("metadata") if isinstance(found, dict) else None
            if not isinstance(metadata, dict | None):
                raise ValueError(f"unexpected answer for the collection: {str(found)[:80]}")
        metadata = metadata or {}
        problem = self._other_model(self.collection_name, metadata)
        if problem is not None:
            raise problem
        value = metadata.get(GENERATION)
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
        self._open_name = None
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
        """Remove the collection, all its shards (already gone is fine)."""
        if not self.exists():
            return
        self.open(create=True, check_model=False)
        names = [self.collection_name]
        if self.url is None:  # every shard there is, whatever the list of them says (it may be damaged)
            with contextlib.suppress(Exception):
                shard = re.compile(re.escape(self.collection_name) + r"-[0-9]+")
                names += [c.name for c in self._client.list_collections() if shard.fullmatch(c.name)]
        for name in names:
            with contextlib.suppress(Exception):
                self._client.delete_collection(name)
        self._collection = None
        self._open_name = None
        (self.directory / SHARDS_FILE).unlink(missing_ok=True)

    def pages(
        self, include: list[str], where: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, Any, Any]]:
        """(vector id, metadata, embedding) of every stored vector (matching `where`), page by page,
        shard by shard."""
        for name in self.shards().names:
            yield from self._pages(self.open(create=True, name=name), include, where)

    def _pages(self, collection: Any, include: list[str], where: dict[str, Any] | None) -> Iterator[Any]:
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
        """Whether a search finds a stored vector (its own nearest) in every shard: False means the store
        holds vectors that its search cannot reach."""
        for name in self.shards().names:
            collection = self.open(create=False, name=name)
            with self.guard("read"):
                first = collection.get(limit=1, include=["embeddings"])
                if not first["ids"]:
                    continue
                found = collection.query(query_embeddings=[first["embeddings"][0]], n_results=1, include=[])
            if not (found["ids"] and found["ids"][0]):
                return False
        return True

    def count(self) -> int:
        """How many passage vectors the collection holds (all its shards)."""
        total = 0
        for name in self.shards().names:
            collection = self.open(create=True, name=name)
            with self.guard("read"):
                total += int(collection.count())
        return total

    def count_of(self, paper_ids: Sequence[str]) -> int:
        """How many passage vectors the collection holds of these papers."""
        found = 0
        shards = self.shards()
        for shard, members in shards.by_shard(paper_ids):
            collection = self.open(create=True, name=shards.names[shard])
            for start in range(0, len(members), 500):
                with self.guard("read"):
                    page = collection.get(where={"paper": {"$in": members[start : start + 500]}}, include=[])
                found += len(page["ids"])
        return found

    def max_batch(self) -> int:
        self.open(create=True, name=self._open_name)
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
        embedded from content with hash `hashes[i]`. A paper goes to its own shard, else to the last
        (see `litkb.index.shards`); its old vectors must have been deleted first."""
        rows_of: dict[str, list[int]] = {}
        for i, pid in enumerate(paper_ids):
            rows_of.setdefault(pid, []).append(i)
        shards = self.shards()
        placed = shards.place(list(rows_of), [len(rows) for rows in rows_of.values()])
        shards.save()  # before the vectors: a crash leaves the file naming a shard, never missing one
        for shard, members in placed:
            collection = self.open(create=True, name=shards.names[shard])
            step = self.max_batch()
            rows = [i for pid in members for i in rows_of[pid]]
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                with self.guard("write to"):
                    collection.upsert(
                        ids=[f"{paper_ids[i]}#{passages[i]}" for i in chunk],
                        embeddings=vectors[chunk],
                        metadatas=[
                            {"paper": paper_ids[i], "passage": passages[i], "count": counts[i], "hash": h}
                            for i, h in ((i, hashes[i]) for i in chunk)
                        ],
                    )

    def delete(self, paper_ids: Sequence[str]) -> None:
        """Remove every passage of these papers."""
        if not paper_ids:
            return
        shards = self.shards()
        for shard, members in shards.by_shard(paper_ids):
            collection = self.open(create=True, name=shards.names[shard])
            for start in range(0, len(members), 500):
                with self.guard("write to"):
                    collection.delete(where={"paper": {"$in": members[start : start + 500]}})
        if shards.papers:
            shards.forget(paper_ids)
            shards.save()

    def passage_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of each stored passage vector of some papers or of all, and the
        matrix: rows of a paper together, in passage order (papers in the order of `paper_ids`, or of id)."""
        import numpy as np

        self.open(create=False, name=self._open_name)
        found: list[tuple[str, int, Any]] = []
        if paper_ids is None:
            rows: Iterator[Any] = self.pages(include=["metadatas", "embeddings"])
        else:
            shards = self.shards()
            rows = (
                row
                for shard, members in shards.by_shard(paper_ids)
                for start in range(0, len(members), 500)
                for row in self._pages(
                    self.open(create=False, name=shards.names[shard]),
                    ["metadatas", "embeddings"],
                    {"paper": {"$in": members[start : start + 500]}},
                )
            )
        for _, meta, embedding in rows:
            found.append((str(meta["paper"]), int(meta.get("passage", 0)), embedding))
        if not found:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        order = {pid: i for i, pid in enumerate(paper_ids)} if paper_ids is not None else None
        found.sort(key=lambda row: (order[row[0]] if order else row[0], row[1]))
        matrix = np.asarray([row[2] for row in found], dtype=np.float32)
        return [row[0] for row in found], [row[1] for row in found], matrix

    def rows_in_parts(self, paper_ids: Sequence[str], size: int = READ_PAPERS) -> Iterator[PassageRows]:
        """The passage vectors of `paper_ids`, `size` papers at a time (never all in memory at once), shard
        by shard."""
        from .snapshot import PassageRows

        for _, members in self.shards().by_shard(paper_ids):
            for start in range(0, len(members), size):
                owners, numbers, matrix = self.passage_rows(members[start : start + size])
                yield PassageRows(owners, numbers, matrix)

    def first_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
        """Passage 0 of some papers or of all, in the order of `paper_ids` (or of paper id)."""
        import numpy as np

        self.open(create=False, name=self._open_name)
        found: dict[str, Any] = {}
        shards = self.shards()
        if paper_ids is None:
            for _, meta, embedding in self.pages(include=["metadatas", "embeddings"], where={"passage": 0}):
                found[str(meta["paper"])] = embedding
            order = sorted(found)
        else:
            for shard, members in shards.by_shard(paper_ids):
                collection = self.open(create=False, name=shards.names[shard])
                for start in range(0, len(members), _PAGE):
                    chunk = [f"{pid}#0" for pid in members[start : start + _PAGE]]
                    with self.guard("read"):
                        page = collection.get(ids=chunk, include=["embeddings"])
                    for vid, embedding in zip(page["ids"], page["embeddings"], strict=True):
                        found[vid.rsplit("#", 1)[0]] = embedding
            order = [pid for pid in paper_ids if pid in found]
        if not order:
            return [], np.zeros((0, 0), dtype=np.float32)
        return order, np.asarray([found[pid] for pid in order], dtype=np.float32)

    def nearest(self, vector: np.ndarray, n: int, first_only: bool = False) -> list[tuple[str, int, float]]:
        """(paper, passage number, cosine) of the `n` passage vectors nearest `vector`, nearest first
        (of every shard); `first_only`: passage 0 of each paper only."""
        found: list[tuple[str, int, float]] = []
        for name in self.shards().names:
            collection = self.open(create=False, name=name)
            with self.guard("search"):
                hits = collection.query(
                    query_embeddings=[vector],
                    n_results=n,
                    where={"passage": 0} if first_only else None,
                    include=["metadatas", "distances"],
                )
            found += [
                (str(meta["paper"]), int(meta.get("passage", 0)), 1.0 - float(distance))
                for meta, distance in zip(hits["metadatas"][0], hits["distances"][0], strict=True)
            ]
        return sorted(found, key=lambda hit: -hit[2])[:n]


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
