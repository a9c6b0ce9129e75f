"""The vector index: dense ranking over the passage vectors, deciding in one place whether to read the
passage snapshot (the embedded store's exact copy, see `litkb.index.snapshot`) or Chroma (a server, or no
current snapshot; see `litkb.index.chroma`). The manifest (`litkb.index.manifest`) says what it holds.

A dense search ranks papers by `litkb.index.passages.paper_scores` (whole paper and closest sentence) in
two steps: over the snapshot, the FIRST_POOL papers whose passage 0 is closest, then every passage of
those, exactly; through Chroma, the papers of the nearest passages, scored from those (see `query`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexDamagedError, IndexMismatchError, IndexMissingError, LitkbError
from ..fsutil import atomic_write_text
from . import snapshot as snapshots
from .chroma import READ_PAPERS, ChromaStore
from .manifest import INDEX_SCHEMA, Manifest
from .mirror import ServerMirror
from .passages import paper_scores
from .snapshot import PassageRows, Snapshot, groups

if TYPE_CHECKING:
    import numpy as np

    from ..store import RecordStore

DEFERRED = "deferred.json"  # papers whose vectors reached the snapshot and not yet Chroma
FIRST_POOL = 100  # papers taken by their passage 0 (at least; 3x the papers wanted) before scoring all


class VectorIndex:
    """The passage vectors of a knowledge base: its manifest, its Chroma collection and its snapshot."""

    def __init__(self, directory: Path, collection: str, url: str | None = None, model: str = "") -> None:
        self.directory = directory
        self.url = url  # a Chroma server; None: the embedded store in `directory/chroma`
        self.model = model
        self.manifest = Manifest(directory)
        self.chroma = ChromaStore(directory, collection, url, model)
        self.mirror = ServerMirror(directory, self.chroma) if url is not None else None
        self._snapshot: Snapshot | None = None
        self._unindexed: tuple[tuple[Any, ...], int] | None = None

    @property
    def collection_name(self) -> str:
        return self.chroma.collection_name

    # -- what it holds ---------------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any] | None:
        return self.manifest.read()

    def write_manifest(
        self, model: str, dim: int, count: int, changed: bool = True, passages: int | None = None
    ) -> None:
        """Record what the index holds. `changed` gives it a new generation (the snapshot of an older
        generation is then not used) and counts the passages in the collection again (unless given)."""
        if changed and self.url is not None:
            self.chroma.set_generation(changing=False)
        old = self.manifest.read() or {}
        generation = self.manifest.generation()
        keep = not changed and generation is not None and "passages" in old
        self.manifest.write(
            model,
            dim,
            count,
            old["passages"] if keep else passages if passages is not None else self.count(),
            generation if keep else None,
        )

    def check_usable(self, model: str) -> dict[str, Any]:
        """The manifest of an index that can answer queries for `model`; else an error saying what to do."""
        manifest = self.manifest.read()
        if manifest is None or not self.chroma.exists():
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

    def count(self) -> int:
        """How many passage vectors the index holds (the collection's, and the deferred papers' in the
        snapshot in place of theirs there)."""
        deferred, snapshot = self._deferred_and_snapshot()
        if not deferred or snapshot is None:
            return self.chroma.count()
        stale = self.chroma.count_of(sorted(deferred))
        return self.chroma.count() - stale + sum(snapshot.count_of(pid) for pid in deferred)

    def stored_hashes(self) -> dict[str, str]:
        """Every paper in the index with the content hash of its passages ("" if incomplete): the
        collection's, and the deferred papers' from the snapshot."""
        hashes = self.chroma.stored_hashes()
        deferred, snapshot = self._deferred_and_snapshot()
        if deferred and snapshot is not None:
            held = snapshot.hash_map()
            for pid in deferred:
                if pid in held:
                    hashes[pid] = held[pid]
                else:
                    hashes.pop(pid, None)
        return hashes

    # -- changes held back from Chroma -------------------------------------------------------------

    def deferred(self) -> set[str]:
        """Papers whose vectors in the snapshot are newer than Chroma's (or which Chroma still has and the
        snapshot no longer does): a small `litkb index` writes only the snapshot (see `defer`)."""
        try:
            found = json.loads((self.directory / DEFERRED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        return {str(pid) for pid in found} if isinstance(found, list) else set()

    def _deferred_and_snapshot(self) -> tuple[set[str], Snapshot | None]:
        deferred = self.deferred() if self.url is None else set()
        return deferred, (self.current_snapshot() if deferred else None)

    def defer(self, paper_ids: Sequence[str]) -> None:
        """Note, before the snapshot changes, that these papers' vectors go to the snapshot only for now.
        Chroma gets them at the next `flush_deferred` (the next larger `litkb index`, or a repair). Should
        the snapshot be lost meanwhile, nothing is: Chroma's own hashes for these papers are then out of
        date, so the next `litkb index` embeds them again."""
        atomic_write_text(
            self.directory / DEFERRED, json.dumps(sorted(self.deferred() | set(paper_ids))) + "\n"
        )

    def flush_deferred(self) -> int:
        """Bring Chroma up to date with the deferred papers, from the current snapshot (the caller holds
        the index lock); how many papers it wrote."""
        deferred = self.deferred() if self.url is None else set()
        if not deferred:
            return 0
        snapshot = self.current_snapshot()
        written = 0
        if snapshot is not None:
            ids = sorted(deferred)
            self.chroma.delete(ids)
            held = [pid for pid in ids if pid in snapshot.where]
            hashes = snapshot.hash_map()
            for start in range(0, len(held), READ_PAPERS):
                owners, numbers, matrix = snapshot.rows(held[start : start + READ_PAPERS])
                counts = [snapshot.count_of(pid) for pid in owners]
                self.chroma.add(owners, numbers, counts, matrix, [hashes[pid] for pid in owners])
            written = len(held)
        # (without a current snapshot, Chroma's own hashes say what to embed again)
        (self.directory / DEFERRED).unlink(missing_ok=True)
        return written

    def probe(self) -> bool:
        return self.chroma.probe()

    def unindexed(self, store: RecordStore) -> int:
        """How many of the store's records the index does not hold (as `litkb doctor` counts them): from
        the snapshot when it is current, else (an index run stopped part way) from the vectors' own
        records. Counted again only when the records folder or the index changed (a warm search pays a
        `stat` or two)."""
        manifest = self.manifest.read() or {}
        try:
            key = (os.stat(store.root).st_mtime_ns, manifest.get("generation"), self._store_version())
        except OSError:
            return 0
        if self._unindexed is not None and self._unindexed[0] == key:
            return self._unindexed[1]
        snapshot = self.current_snapshot()
        ids = store.ids()
        if snapshot is not None:
            count = len(ids - set(snapshot.papers))
        else:
            try:
                count = len(ids - self.stored_hashes().keys())
            except LitkbError:  # a store that cannot be read now: by the manifest's count
                count = max(0, len(ids) - int(manifest.get("count") or 0))
        self._unindexed = (key, count)
        return count

    def _store_version(self) -> tuple[int, ...]:
        """When the embedded store's database last changed (nothing on a server): the papers in it change
        while an index run goes on, or was stopped, with the manifest as it was."""
        if self.url is not None:
            return ()
        found = []
        for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
            with contextlib.suppress(OSError):
                found.append(os.stat(self.chroma.path / name).st_mtime_ns)
        return tuple(found)

    # -- changing it -----------------------------------------------------------------------------

    def begin_change(self) -> None:
        """Say, before the collection is changed, that the snapshot no longer matches it (a crash before
        `write_manifest` then leaves a snapshot that is not used)."""
        self.manifest.begin_change()
        self._snapshot = None
        if self.url is not None:
            self.chroma.set_generation(changing=True)  # other members' copies are out of date from now

    def drop(self) -> None:
        """Remove the collection, the snapshot and the manifest (the records are untouched)."""
        self.manifest.remove()
        snapshots.remove(self.directory)
        (self.directory / DEFERRED).unlink(missing_ok=True)
        self._snapshot = None
        if self.mirror is not None:
            self.mirror.remove()
        self.chroma.drop()

    def forget(self) -> None:
        """Forget what was read (the folder now holds another index)."""
        self._snapshot = None
        if self.mirror is not None:
            self.mirror = ServerMirror(self.directory, self.chroma)
        self.chroma.forget()

    def write_snapshot(self, hashes: dict[str, str], rows: Iterable[PassageRows] | None = None) -> None:
        """Save every passage vector as the snapshot of the current generation: `rows` (all of them, in
        parts), else read from Chroma, READ_PAPERS papers at a time. Only for the embedded store: a
        server's collection may change under us (see `litkb.index.mirror` for its local copy)."""
        if self.url is not None:
            return
        self._snapshot = None
        generation = self.manifest.generation()
        if rows is not None:
            snapshots.write(self.directory, generation, hashes, rows)
            return
        self.flush_deferred()  # Chroma must hold what the current snapshot holds before it is read
        stored = self.chroma.count()
        read = 0

        def parts() -> Iterator[PassageRows]:
            nonlocal read
            for rows in self.chroma.rows_in_parts(sorted(hashes)):
                read += len(rows.owners)
                yield rows

        snapshots.save(self.directory, generation, hashes, parts())
        if read != stored:
            snapshots.remove(self.directory)
            raise IndexDamagedError(
                f"the vector index in {self.chroma.path} returned {read} of its "
                f"{stored} passage vectors; run `litkb doctor --repair` to rebuild it from the records",
                reason=f"the vector store returned {read} of its {stored} passage vectors",
            )

    def update_snapshot(
        self, previous: Snapshot, hashes: dict[str, str], replaced: set[str], added: Iterable[PassageRows]
    ) -> None:
        """Save `previous` less the papers in `replaced`, plus `added`, as the snapshot of the current
        generation (writing only the added rows, as a new segment, most of the time)."""
        if self.url is not None:
            return
        self._snapshot = None
        generation = self.manifest.generation()
        snapshots.save(self.directory, generation, hashes, added, previous, replaced)

    # -- the snapshot ----------------------------------------------------------------------------

    def snapshot_hashes(self) -> dict[str, str] | None:
        """The content hash of every indexed paper, from a current snapshot (None without one)."""
        snapshot = self._load_snapshot()
        return None if snapshot is None else snapshot.hash_map()

    def current_snapshot(self) -> Snapshot | None:
        """The snapshot, when it matches the collection (None when it does not, or is damaged: `litkb
        index` then reads Chroma and writes it again)."""
        try:
            return self._load_snapshot()
        except IndexDamagedError:
            return None

    def snapshot_ok(self) -> bool:
        return self.current_snapshot() is not None

    def refresh_mirror(self) -> int:
        """On a server: bring the local copy of its vectors up to date (see `litkb.index.mirror`); how many
        papers' vectors were fetched."""
        return self.mirror.refresh() if self.mirror is not None else 0

    def _load_snapshot(self) -> Snapshot | None:
        """The snapshot of the current generation (on a server: the local copy of its vectors, when it is
        of the collection's generation now), None when there is none."""
        if self.mirror is not None:
            return self.mirror.current()
        if self._snapshot is None:
            try:
                manifest = self.manifest.read() or {}
            except LitkbError:
                return None
            self._snapshot = snapshots.load(self.directory, manifest, self.manifest.generation())
        return self._snapshot

    # -- reading vectors: the snapshot when current, else Chroma -----------------------------------

    def passage_vectors(
        self, paper_ids: Sequence[str] | None = None, snapshot: bool = True
    ) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of each row and the matrix of the stored passage vectors, of some
        papers or of all (rows of a paper together, in passage order)."""
        current = self._load_snapshot() if snapshot else None
        if current is not None:
            return current.rows(paper_ids)
        return self.chroma.passage_rows(paper_ids)

    def own_vectors(self, paper_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Each paper's own vector (passage 0: its title and abstract), of some papers or of all, in the
        order of `paper_ids` (or of paper id); papers not in the index are left out."""
        snapshot = self._load_snapshot()
        if snapshot is not None:
            return snapshot.first_rows(paper_ids)
        return self.chroma.first_rows(paper_ids)

    def own_vectors_if_current(self, paper_ids: Sequence[str]) -> tuple[list[str], np.ndarray] | None:
        """`own_vectors`, when the index holds vectors of the knowledge base's model (else None)."""
        if (self.manifest.read() or {}).get("model") != self.model:
            return None
        return self.own_vectors(paper_ids)

    # -- dense ranking ---------------------------------------------------------------------------

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
        seen: set[str] = set()  # the first `pool` papers to come back
        whole: dict[str, float] = {}
        closest: dict[str, float] = {}
        floor = 1.0
        for pid, number, cosine in self.chroma.nearest(vector, 3 * pool):
            floor = min(floor, cosine)
            if pid not in seen and len(seen) >= pool:
                continue
            seen.add(pid)
            if number == 0:
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
        return top(papers, paper_scores(first, rest), k) if papers else []

    def nearest_whole(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` papers whose passage 0 (title and abstract) is nearest `vector`, with its cosine."""
        import numpy as np

        if k <= 0:
            return []
        snapshot = self._load_snapshot()
        if snapshot is not None:
            if not snapshot.papers:
                return []
            ids, first = snapshot.nearest_whole(vector)  # one product per segment's passage-0 block
            return [(pid, score) for pid, score in top(ids, first, k) if score > -np.inf]
        hits = [(pid, cosine) for pid, _, cosine in self.chroma.nearest(vector, k, first_only=True)]
        return sorted(hits, key=lambda item: (-item[1], item[0]))

    def whole_within(self, vector: np.ndarray, paper_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` papers among `paper_ids` whose passage 0 is nearest `vector`, with its cosine."""
        import numpy as np

        ids, matrix = self.own_vectors(paper_ids)
        return top(ids, np.asarray(matrix) @ vector, k) if ids else []

    def query_within(self, vector: np.ndarray, paper_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """The `k` nearest among `paper_ids` only, scored exactly from all their passages."""
        import numpy as np

        owners, passages, matrix = self.passage_vectors(paper_ids)
        if not owners:
            return []
        order, scores = scores_by_paper(owners, passages, np.asarray(matrix) @ vector)
        return top(order, scores, k)

    def best_scores(self, vector: np.ndarray, paper_ids: Sequence[str]) -> dict[str, float]:
        """Each paper's score for `vector` (see `paper_scores`; papers not in the index are left out)."""
        return dict(self.query_within(vector, paper_ids, len(paper_ids)))

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


def top(papers: Sequence[str], scores: Any, k: int) -> list[tuple[str, float]]:
    """The `k` best-scoring papers, best first (ties by id)."""
    import numpy as np

    chosen = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    return sorted(((papers[i], float(scores[i])) for i in chosen), key=lambda item: (-item[1], item[0]))


def scores_by_paper(owners: Sequence[str], passages: Sequence[int], cosines: Any) -> tuple[list[str], Any]:
    """The papers of rows grouped by paper (passage 0 first) and their scores (`paper_scores`): the
    cosine of passage 0 and of the closest other passage. A paper with one passage scores it twice; one
    whose passage 0 is missing (an interrupted index) scores its best."""
    import numpy as np

    order, starts = groups(owners)
    numbers = np.asarray(passages)
    cosines = np.asarray(cosines, dtype=np.float32)
    best = np.maximum.reduceat(cosines, starts)
    whole = np.where(numbers[starts] == 0, cosines[starts], best)
    closest = np.maximum.reduceat(np.where(numbers == 0, -np.inf, cosines), starts)
    return order, paper_scores(whole, np.where(np.isfinite(closest), closest, whole))
