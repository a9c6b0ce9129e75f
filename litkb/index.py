"""The vector index: a Chroma collection inside the knowledge base. The only module that imports chromadb.

The index is derived from the records and can always be rebuilt from them. A paper has one vector per
passage (see `litkb.passages`), with ids `<paper id>#<n>` and metadata `paper`, `passage`, `count` and
`hash` (of what was embedded), so `litkb index` embeds only what changed and notices a paper whose
passages are not all there. A manifest beside it records the model, its dimension and the schema.

A dense search ranks papers by `litkb.passages.paper_scores` (whole paper and closest sentence) in two
steps: over the snapshot, the FIRST_POOL papers whose passage 0 is closest, then every passage of those,
exactly; through Chroma, the papers of the nearest passages, scored from those (see `query`).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
    LitkbError,
    ServerError,
    first_line,
)
from .fsutil import atomic_write_text
from .passages import paper_scores

if TYPE_CHECKING:
    import numpy as np

INDEX_SCHEMA = 2  # 2: several passage vectors per paper
MANIFEST = "manifest.json"
SNAPSHOT = "passages"  # passages.npy (the matrix) and passages.json (its papers, their counts and hashes)
CHANGING = "changing"  # the manifest's generation while the collection is being changed
CHROMA_DIR = "chroma"
_PAGE = 5000
FIRST_POOL = 100  # papers taken by their passage 0 (at least; 3x the papers wanted) before scoring all
SNAPSHOT_LAYOUT = 2  # 2: every paper's passage 0 first (one row each, in paper order), then the others


class VectorIndex:
    """A Chroma collection in `directory/chroma` and its manifest in `directory/manifest.json`."""

    def __init__(self, directory: Path, collection: str, url: str | None = None, model: str = "") -> None:
        self.directory = directory
        self.collection_name = collection
        self.url = url  # a Chroma server; None: the embedded store in `directory/chroma`
        self.model = model
        self._client: Any = None
        self._collection: Any = None
        self._snapshot: _Snapshot | None = None

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
            raise IndexDamagedError(
                f"{self.manifest_path}: the index manifest is damaged ({exc}); run `litkb doctor --repair`",
                reason=f"the index manifest is damaged ({exc})",
            ) from exc
        return data if isinstance(data, dict) else None

    def write_manifest(self, model: str, dim: int, count: int, changed: bool = True) -> None:
        """Record what the index holds. `changed` gives it a new generation (the snapshot of an older
        generation is then not used) and counts the passages in the collection again."""
        old = self.read_manifest() or {}
        keep = not changed and old.get("generation") not in (None, CHANGING) and "passages" in old
        manifest = {
            "schema": INDEX_SCHEMA,
            "model": model,
            "dim": dim,
            "count": count,
            "passages": old["passages"] if keep else self.count(),
            "generation": old["generation"] if keep else uuid.uuid4().hex,
        }
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")

    def check_usable(self, model: str) -> dict[str, Any]:
        """The manifest of an index that can answer queries for `model`; else an error saying what to do."""
        manifest = self.read_manifest()
        if manifest is None or (self.url is None and not (self.directory / CHROMA_DIR).is_dir()):
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

    def _open(self, create: bool, check_model: bool = True) -> Any:
        if self._collection is not None:
            return self._collection
        import chromadb

        if self.url is None and not create and not (self.directory / CHROMA_DIR).is_dir():
            raise IndexMissingError("the knowledge base has no index yet; run `litkb index`")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.guard("open"):
            if self.url is None:
                self._client = chromadb.PersistentClient(
                    path=str(self.directory / CHROMA_DIR), settings=chroma_settings(local=True)
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
                f"cannot {action} the vector index in {self.directory / CHROMA_DIR}: {first_line(exc)}; "
                "run `litkb doctor` (and `litkb doctor --repair` to rebuild it from the records)",
                reason=f"cannot {action} the vector index: {first_line(exc)}",
            ) from exc

    def drop(self) -> None:
        """Remove the collection and the manifest (the records are untouched)."""
        self.manifest_path.unlink(missing_ok=True)
        for name in (f"{SNAPSHOT}.npy", f"{SNAPSHOT}.json", f"{SNAPSHOT}.rows.json"):
            (self.directory / name).unlink(missing_ok=True)
        self._snapshot = None
        if self.url is None and not (self.directory / CHROMA_DIR).is_dir():
            return
        self._open(create=True, check_model=False)
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

    def probe(self) -> bool:
        """Whether a search through Chroma finds a stored vector (its own nearest): False means the
        store holds vectors that its search cannot reach."""
        collection = self._open(create=False)
        with self.guard("read"):
            first = collection.get(limit=1, include=["embeddings"])
            if not first["ids"]:
                return True
            found = collection.query(query_embeddings=[first["embeddings"][0]], n_results=1, include=[])
        return bool(found["ids"] and found["ids"][0])

    def count(self) -> int:
        """How many passage vectors the collection holds."""
        collection = self._open(create=True)
        with self.guard("read"):
            return int(collection.count())

    def max_batch(self) -> int:
        self._open(create=True)
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
        collection = self._open(create=True)
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
        collection = self._open(create=True)
        for start in range(0, len(paper_ids), 500):
            with self.guard("write to"):
                collection.delete(where={"paper": {"$in": list(paper_ids[start : start + 500])}})

    def passage_vectors(
        self, paper_ids: Sequence[str] | None = None, snapshot: bool = True
    ) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of each row and the matrix of the stored passage vectors, of some
        papers or of all (rows of a paper together, in passage order). Read from the snapshot when it
        is current (and `snapshot`), else from Chroma."""
        import numpy as np

        current = self._load_snapshot() if snapshot else None
        if current is not None:
            return current.rows(paper_ids)
        self._open(create=False)
        found: list[tuple[str, int, Any]] = []
        chunks = (
            [None]
            if paper_ids is None
            else [list(paper_ids[i : i + 500]) for i in range(0, len(paper_ids), 500)]
        )
        for chunk in chunks:
            where = None if chunk is None else {"paper": {"$in": chunk}}
            for _, meta, embedding in self._pages(include=["metadatas", "embeddings"], where=where):
                found.append((str(meta["paper"]), int(meta.get("passage", 0)), embedding))
        if not found:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        order = {pid: i for i, pid in enumerate(paper_ids)} if paper_ids is not None else None
        found.sort(key=lambda row: (order[row[0]] if order else row[0], row[1]))
        matrix = np.asarray([row[2] for row in found], dtype=np.float32)
        return [row[0] for row in found], [row[1] for row in found], matrix

    def own_vectors(self, paper_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Each paper's own vector (passage 0: its title and abstract), of some papers or of all, in the
        order of `paper_ids` (or of paper id); papers not in the index are left out."""
        import numpy as np

        snapshot = self._load_snapshot()
        if snapshot is not None:
            return snapshot.first_rows(paper_ids)
        collection = self._open(create=False)
        found: dict[str, Any] = {}
        if paper_ids is None:
            for _, meta, embedding in self._pages(include=["metadatas", "embeddings"], where={"passage": 0}):
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

    def closest_passages(self, vector: np.ndarray, paper_ids: Sequence[str]) -> dict[str, int]:
        """For each paper with passages beyond passage 0, the number of the one nearest `vector`."""
        import numpy as np

        owners, passages, matrix = self.passage_vectors(paper_ids)
        if not owners:
            return {}
        found: dict[str, tuple[float, int]] = {}
        cosines = (np.asarray(matrix) @ vector).tolist()
        for owner, number, cosine in zip(owners, passages, cosines, strict=True):
            if number > 0 and cosine > found.get(owner, (-2.0, 0))[0]:
                found[owner] = (cosine, number)
        return {pid: number for pid, (_, number) in found.items()}

    def best_scores(self, vector: np.ndarray, paper_ids: Sequence[str]) -> dict[str, float]:
        """Each paper's score for `vector` (see `paper_scores`; papers not in the index are left out)."""
        return dict(self.query_within(vector, paper_ids, len(paper_ids)))

    def query_within(self, vector: np.ndarray, paper_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` nearest among `paper_ids` only, scored exactly from all their passages."""
        import numpy as np

        owners, passages, matrix = self.passage_vectors(paper_ids)
        if not owners:
            return []
        order, scores = _paper_scores(owners, passages, np.asarray(matrix) @ vector)
        return _top(order, scores, k)

    # -- snapshot -------------------------------------------------------------------------------

    def begin_change(self) -> None:
        """Say, before the collection is changed, that the snapshot no longer matches it (a crash before
        `write_manifest` then leaves a snapshot that is not used)."""
        manifest = self.read_manifest()
        if manifest is not None and manifest.get("generation") != CHANGING:
            manifest["generation"] = CHANGING
            atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")
        self._snapshot = None

    def write_snapshot(self, hashes: dict[str, str], rows: PassageRows | None = None) -> None:
        """Save every passage vector as one matrix (`passages.npy`: the passage 0 of every paper, in paper
        order, then each paper's other passages, grouped by paper in passage order; papers, their counts
        and content hashes in `passages.json`), for exact search in numpy without loading Chroma. Tagged
        with the manifest's generation, so a snapshot out of step with the collection is never used. Only
        for the embedded store: a server's collection may change under us."""
        import numpy as np

        if self.url is not None:
            return
        self._snapshot = None
        if rows is None:
            owners, _, matrix = self.passage_vectors(None, snapshot=False)
            stored = self.count()
            if len(owners) != stored:
                raise IndexDamagedError(
                    f"the vector index in {self.directory / CHROMA_DIR} returned {len(owners)} of its "
                    f"{stored} passage vectors; run `litkb doctor --repair` to rebuild it from the records",
                    reason=f"the vector store returned {len(owners)} of its {stored} passage vectors",
                )
        else:
            owners, matrix = rows.owners, rows.matrix
        order, starts = _groups(owners)
        generation = (self.read_manifest() or {}).get("generation")
        rest = np.ones(len(owners), dtype=bool)
        rest[starts] = False
        layout = np.concatenate([starts, np.flatnonzero(rest)]).astype(np.int64)
        staging = self.directory / f"{SNAPSHOT}.tmp.npy"
        np.save(staging, np.asarray(matrix, dtype=np.float32)[layout] if owners else matrix)
        os.replace(staging, self.directory / f"{SNAPSHOT}.npy")
        counts = np.diff(np.append(starts, len(owners))).tolist() if owners else []
        atomic_write_text(
            self.directory / f"{SNAPSHOT}.json",
            json.dumps(
                {
                    "generation": generation,
                    "layout": SNAPSHOT_LAYOUT,
                    "papers": order,
                    "counts": counts,
                    "hashes": [hashes.get(pid, "") for pid in order],
                }
            ),
        )

    def snapshot_hashes(self) -> dict[str, str] | None:
        """The content hash of every indexed paper, from a current snapshot (None without one)."""
        snapshot = self._load_snapshot()
        return None if snapshot is None else snapshot.hash_map()

    def current_snapshot(self) -> _Snapshot | None:
        """The snapshot, when it matches the collection (None when it does not, or is damaged: `litkb
        index` then reads Chroma and writes it again)."""
        try:
            return self._load_snapshot()
        except IndexDamagedError:
            return None

    def snapshot_ok(self) -> bool:
        return self.current_snapshot() is not None

    def _load_snapshot(self) -> _Snapshot | None:
        """The snapshot of the current generation, None when there is none (or it is of an older one).
        One that claims to be current but does not hold what the manifest says (an interrupted write, a
        store that answered empty) is an error: a search must not answer from it."""
        if self._snapshot is None and self.url is None:
            import numpy as np

            try:
                info = json.loads((self.directory / f"{SNAPSHOT}.json").read_text(encoding="utf-8"))
                manifest = self.read_manifest() or {}
                generation = manifest.get("generation")
                if not generation or generation == CHANGING or info.get("generation") != generation:
                    return None
                if info.get("layout") != SNAPSHOT_LAYOUT:
                    return None  # written by an older litkb: the next `litkb index` writes it again
                matrix = np.load(self.directory / f"{SNAPSHOT}.npy", mmap_mode="r")
                snapshot = _Snapshot(info["papers"], info["counts"], info["hashes"], matrix)
            except (OSError, ValueError, KeyError, TypeError, LitkbError):
                return None
            problem = _snapshot_problem(snapshot, manifest)
            if problem is not None:
                raise IndexDamagedError(
                    f"the passage snapshot {self.directory / SNAPSHOT}.npy {problem}; run `litkb doctor` "
                    "(`litkb doctor --repair` rebuilds the index from the records)",
                    reason=f"the passage snapshot {problem}",
                )
            self._snapshot = snapshot
        return self._snapshot

    # -- queries --------------------------------------------------------------------------------

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` nearest papers and their scores, best first. Over the snapshot (when current): the
        papers whose passage 0 is closest, then scored exactly from all their passages. Through Chroma
        (a server, or no current snapshot): the papers of the nearest passages, scored from the passages
        that came back (passage 0 fetched where it did not; a sentence that did not come back counts as
        close as the farthest one that did), so a search asks Chroma twice and moves no sentence vectors."""
        import numpy as np

        if k <= 0:
            return []
        pool = max(FIRST_POOL, 3 * k)
        if self._load_snapshot() is not None:
            return self.query_within(vector, [pid for pid, _ in self.nearest_whole(vector, pool)], k)
        collection = self._open(create=False)
        with self.guard("search"):
            found = collection.query(
                query_embeddings=[vector], n_results=3 * pool, include=["metadatas", "distances"]
            )
        seen: set[str] = set()  # the first `pool` papers to come back
        whole: dict[str, float] = {}
        closest: dict[str, float] = {}
        floor = 1.0
        for meta, distance in zip(found["metadatas"][0], found["distances"][0], strict=True):
            pid, cosine = str(meta["paper"]), 1.0 - float(distance)
            floor = min(floor, cosine)
            if pid not in seen and len(seen) >= pool:
                continue
            seen.add(pid)
            if int(meta.get("passage", 0)) == 0:
                whole[pid] = cosine
            else:
                closest.setdefault(pid, cosine)  # rows come nearest first
        papers = sorted(seen)
        missing = [pid for pid in papers if pid not in whole]
        if missing:
            ids, matrix = self.own_vectors(missing)
            whole.update(zip(ids, (np.asarray(matrix) @ vector).tolist(), strict=True))
        papers = [pid for pid in papers if pid in whole]
        first = np.asarray([whole[pid] for pid in papers], dtype=np.float32)
        rest = np.asarray([closest.get(pid, min(floor, whole[pid])) for pid in papers], dtype=np.float32)
        return _top(papers, paper_scores(first, rest), k) if papers else []

    def nearest_whole(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` papers whose passage 0 (title and abstract) is nearest `vector`, with its cosine."""
        if k <= 0:
            return []
        snapshot = self._load_snapshot()
        if snapshot is not None:
            if not snapshot.papers:
                return []
            first = snapshot.matrix[: len(snapshot.papers)] @ vector  # contiguous: passage 0 of each paper
            return _top(snapshot.papers, first, k)
        collection = self._open(create=False)
        with self.guard("search"):
            found = collection.query(
                query_embeddings=[vector],
                n_results=k,
                where={"passage": 0},
                include=["metadatas", "distances"],
            )
        hits = [
            (str(m["paper"]), 1.0 - float(d))
            for m, d in zip(found["metadatas"][0], found["distances"][0], strict=True)
        ]
        return sorted(hits, key=lambda item: (-item[1], item[0]))

    def whole_within(self, vector: np.ndarray, paper_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` papers among `paper_ids` whose passage 0 is nearest `vector`, with its cosine."""
        import numpy as np

        ids, matrix = self.own_vectors(paper_ids)
        return _top(ids, np.asarray(matrix) @ vector, k) if ids else []


@dataclass
class PassageRows:
    """Passage vectors: row i is passage `passages[i]` of paper `owners[i]`."""

    owners: list[str]
    passages: list[int]
    matrix: Any = None
    dim: int | None = None


class _Snapshot:
    """The passage matrix of the embedded index (layout SNAPSHOT_LAYOUT): row i is passage 0 of paper
    `papers[i]`; its other `counts[i] - 1` passages are rows `rest[i]` onwards, in passage order."""

    def __init__(self, papers: list[str], counts: list[int], hashes: list[str], matrix: np.ndarray) -> None:
        import numpy as np

        if len(papers) != len(counts) or len(papers) != len(hashes) or sum(counts) != len(matrix):
            raise LitkbError("the passage snapshot does not match its matrix")
        if any(n < 1 for n in counts):
            raise LitkbError("the passage snapshot has a paper without passages")
        self.papers = papers
        self.counts = counts
        self.hashes = hashes
        self.matrix = matrix
        others = np.asarray(counts, dtype=np.int64) - 1
        self.rest = len(papers) + np.concatenate([[0], np.cumsum(others)[:-1]]).astype(np.int64)
        self._position: dict[str, int] | None = None

    def hash_map(self) -> dict[str, str]:
        return dict(zip(self.papers, self.hashes, strict=True))

    def first_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
        """Passage 0 of some papers or of all (in the order of `paper_ids`, or of paper id)."""
        import numpy as np

        if paper_ids is None:
            return list(self.papers), np.asarray(self.matrix[: len(self.papers)])
        chosen = self.positions(paper_ids)
        return [self.papers[i] for i in chosen], np.asarray(self.matrix[chosen])

    def positions(self, paper_ids: Sequence[str]) -> list[int]:
        """The positions in `papers` of those of `paper_ids` the snapshot holds, in their order."""
        if self._position is None:
            self._position = {pid: i for i, pid in enumerate(self.papers)}
        return [i for i in (self._position.get(pid) for pid in paper_ids) if i is not None]

    def rows_of(self, i: int) -> list[int]:
        """The rows of paper `papers[i]`, in passage order."""
        first = int(self.rest[i])
        return [i, *range(first, first + self.counts[i] - 1)]

    def patched(self, replaced: set[str], added: PassageRows) -> PassageRows:
        """All rows, grouped by paper in id order: this snapshot's, less the papers in `replaced`, plus
        `added` (whose matrix must be there)."""
        import numpy as np

        chosen: list[tuple[str, list[int]]] = [
            (pid, self.rows_of(i)) for i, pid in enumerate(self.papers) if pid not in replaced
        ]
        offset = len(self.matrix)
        order = sorted(range(len(added.owners)), key=lambda i: (added.owners[i], added.passages[i]))
        new_rows: dict[str, list[int]] = {}
        for i in order:
            new_rows.setdefault(added.owners[i], []).append(offset + i)
        chosen += list(new_rows.items())
        chosen.sort(key=lambda block: block[0])
        stacked = (
            np.concatenate([np.asarray(self.matrix), added.matrix]) if len(added.owners) else self.matrix
        )
        index = [row for _, rows in chosen for row in rows]
        owners = [pid for pid, rows in chosen for _ in rows]
        passages = [n for _, rows in chosen for n in range(len(rows))]
        matrix = np.asarray(stacked)[index] if index else np.zeros((0, self.matrix.shape[1]), np.float32)
        return PassageRows(owners, passages, matrix)

    def rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of the rows of some papers or of all, and their vectors: grouped by
        paper (in the order of `paper_ids`, or of paper id), in passage order."""
        import numpy as np

        chosen = range(len(self.papers)) if paper_ids is None else self.positions(paper_ids)
        owners: list[str] = []
        passages: list[int] = []
        rows: list[int] = []
        for i in chosen:
            found = self.rows_of(i)
            owners += [self.papers[i]] * len(found)
            passages += range(len(found))
            rows += found
        if not rows:
            return [], [], np.zeros((0, self.matrix.shape[1] if self.matrix.ndim == 2 else 0), np.float32)
        return owners, passages, np.asarray(self.matrix[rows])


def _snapshot_problem(snapshot: _Snapshot, manifest: dict[str, Any]) -> str | None:
    """What is wrong with a snapshot of the current generation, measured against the manifest."""
    rows = len(snapshot.matrix)
    if snapshot.matrix.ndim != 2:
        return "is not a matrix"
    if rows and snapshot.matrix.shape[1] != manifest.get("dim"):
        return f"has vectors of {snapshot.matrix.shape[1]} dimensions, the index {manifest.get('dim')}"
    expected = manifest.get("passages")
    if isinstance(expected, int) and expected != rows:
        return f"holds {rows} passage vectors, the index {expected}"
    return None


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


def _groups(owners: Sequence[str]) -> tuple[list[str], Any]:
    """The papers of rows grouped by paper, and the first row of each group."""
    import numpy as np

    order: list[str] = []
    starts: list[int] = []
    for row, owner in enumerate(owners):
        if not order or owner != order[-1]:
            order.append(owner)
            starts.append(row)
    return order, np.asarray(starts, dtype=np.int64)


def _top(papers: Sequence[str], scores: Any, k: int) -> list[tuple[str, float]]:
    """The `k` best-scoring papers, best first (ties by id)."""
    import numpy as np

    chosen = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    return sorted(((papers[i], float(scores[i])) for i in chosen), key=lambda item: (-item[1], item[0]))


def _paper_scores(owners: Sequence[str], passages: Sequence[int], cosines: Any) -> tuple[list[str], Any]:
    """The papers of rows grouped by paper (passage 0 first) and their scores (`paper_scores`): the
    cosine of passage 0 and of the closest other passage. A paper with one passage scores it twice; one
    whose passage 0 is missing (an interrupted index) scores its best."""
    import numpy as np

    order, starts = _groups(owners)
    numbers = np.asarray(passages)
    cosines = np.asarray(cosines, dtype=np.float32)
    best = np.maximum.reduceat(cosines, starts)
    whole = np.where(numbers[starts] == 0, cosines[starts], best)
    closest = np.maximum.reduceat(np.where(numbers == 0, -np.inf, cosines), starts)
    return order, paper_scores(whole, np.where(np.isfinite(closest), closest, whole))
