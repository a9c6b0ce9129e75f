"""A local copy of a Chroma server's passage vectors (`index/server-copy/`), so that searches on a shared
knowledge base run in numpy like the embedded store's, with one round trip to the server per search.

The copy is a passage snapshot (see `litkb.index.snapshot`) tagged with the collection's generation, a
value every litkb writer changes in the collection's metadata: to `changing-...` before it touches the
vectors and to a new one when it is done. A search asks the server for the generation (at most once every
RECHECK seconds) and reads the copy only when its tag is that generation; else it asks the server, as it
would without a copy. `litkb index` brings the copy up to date: it reads the generation, every paper's hash,
the vectors of the papers whose hash differs from the copy's, and the generation again; only when the two
readings agree (no writer came in between) is the copy tagged with it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from ..errors import IndexDamagedError
from . import snapshot as snapshots
from .chroma import ChromaStore, is_changing
from .snapshot import Snapshot

MIRROR_DIR = "server-copy"
RECHECK = 0.5  # seconds a generation read from the server is trusted (one round trip per search at most)


class ServerMirror:
    """The local copy of the collection in `chroma` (a server's), in `directory/server-copy`."""

    def __init__(self, directory: Path, chroma: ChromaStore) -> None:
        self.path = directory / MIRROR_DIR
        self.chroma = chroma
        self._checked: tuple[float, str | None] | None = None
        self._snapshot: tuple[str, Snapshot] | None = None

    def generation(self, fresh: bool = False) -> str | None:
        """The collection's generation on the server (read again after RECHECK seconds, or when `fresh`)."""
        now = time.monotonic()
        if fresh or self._checked is None or now - self._checked[0] > RECHECK:
            self._checked = (now, self.chroma.generation())
        return self._checked[1]

    def current(self) -> Snapshot | None:
        """The copy, when it is of the collection's generation now; else None (ask the server)."""
        generation = self.generation()
        if generation is None or is_changing(generation):
            return None
        if self._snapshot is not None and self._snapshot[0] == generation:
            return self._snapshot[1]
        try:
            found = snapshots.load(self.path, None, generation)
        except IndexDamagedError:
            found = None  # a damaged copy is only slower: the next `litkb index` writes it again
        self._snapshot = (generation, found) if found is not None else None
        return found

    def refresh(self) -> int:
        """Bring the copy up to the collection's generation; how many papers' vectors were fetched."""
        first = self.generation(fresh=True)
        if first is None or is_changing(first):
            return 0
        catalog = snapshots.read_catalog(self.path)
        if catalog is not None and catalog.get("generation") == first and self.current() is not None:
            return 0
        server = self.chroma.stored_hashes()
        previous = self._any()
        have = previous.hash_map() if previous is not None else {}
        stale = sorted(pid for pid, value in server.items() if value and have.get(pid) != value)
        gone = {pid for pid in have if not server.get(pid)}

        self.path.mkdir(parents=True, exist_ok=True)
        if not stale and not gone and previous is not None:
            snapshots.retag(self.path, first)
        else:
            snapshots.save(self.path, first, server, self.chroma.rows_in_parts(stale), previous, gone)
        if self.generation(fresh=True) != first:
            snapshots.retag(self.path, None)  # a writer came in between: not a copy of any generation
        self._snapshot = None
        return len(stale)

    def _any(self) -> Snapshot | None:
        """The copy as it is, whatever generation it was made at (to fetch only what changed since)."""
        catalog = snapshots.read_catalog(self.path)
        if catalog is None:
            return None
        try:
            return snapshots.load(self.path, None, None, any_generation=True)
        except IndexDamagedError:
            shutil.rmtree(self.path, ignore_errors=True)
            return None

    def remove(self) -> None:
        self._snapshot = None
        shutil.rmtree(self.path, ignore_errors=True)
