"""Which local Chroma collection holds each paper's vectors (`index/chroma-shards.json`).

Chroma loads a collection's whole HNSW index into memory at its first use (about 2 KB a passage vector:
1.5 GB for the 740,000 vectors of 120,000 papers), so a local index is kept in collections ("shards") of
at most SHARD_ROWS vectors, and litkb touches one at a time: `litkb index` of new papers loads the shard
they go to, not the whole index. The first shard is the collection named in config.yaml (an index made
before shards is that one shard); the next are `<name>-2`, `<name>-3`, ...

The file says, for each shard, its name and how many vectors were written to it (an upper bound: deleted
ones are not subtracted), and for each paper outside the first shard, its shard. It is written before the
vectors it places, so after a crash it may name a shard that does not hold a paper (harmless: deleting
there finds nothing), never the other way round. A Chroma server keeps one collection (its memory is the
server's): no file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IndexDamagedError
from ..fsutil import atomic_write_text

SHARDS_FILE = "chroma-shards.json"
SHARD_ROWS = 100_000  # passage vectors a shard takes before the next one starts (about 200 MB loaded)


@dataclass
class ShardMap:
    names: list[str]
    rows: list[int]
    papers: dict[str, int] = field(default_factory=dict)  # papers outside shard 0
    path: Path | None = None  # None: a server's one collection, never saved

    @classmethod
    def single(cls, name: str) -> ShardMap:
        return cls([name], [0])

    @classmethod
    def load(cls, directory: Path, name: str, rows: int) -> ShardMap:
        """The shards of the local index in `directory` whose first collection is `name`; without the file,
        that one collection holding `rows` vectors (an index made before shards)."""
        path = directory / SHARDS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls([name], [rows], path=path)
        except (OSError, ValueError) as exc:
            raise damaged(path, str(exc)) from exc
        try:
            names = [str(n) for n in data["names"]]
            counts = [int(n) for n in data["rows"]]
            papers = {str(pid): int(i) for pid, i in data["papers"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise damaged(path, repr(exc)) from exc
        if not names or names[0] != name or len(counts) != len(names):
            raise damaged(path, f"it does not start with the collection '{name}'")
        return cls(names, counts, papers, path)

    def save(self) -> None:
        if self.path is None:
            return
        data = {"names": self.names, "rows": self.rows, "papers": self.papers}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(data, separators=(",", ":")) + "\n")

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def shard_of(self, paper_id: str) -> int:
        return self.papers.get(paper_id, 0)

    def by_shard(self, paper_ids: Iterable[str]) -> list[tuple[int, list[str]]]:
        """The papers grouped by their shard (shards in order, papers in the order given)."""
        found: dict[int, list[str]] = {}
        for pid in paper_ids:
            found.setdefault(self.shard_of(pid), []).append(pid)
        return sorted(found.items())

    def place(self, paper_ids: Sequence[str], rows: Sequence[int]) -> list[tuple[int, list[str]]]:
        """Choose the shard of each paper about to be written (`rows[i]` vectors of `paper_ids[i]`): its
        own when it has one outside the first, else the last shard, a new one once the last is full. The
        papers grouped by shard, as `by_shard`."""
        for pid, count in zip(paper_ids, rows, strict=True):
            shard = self.papers.get(pid)
            if shard is None:
                shard = len(self.names) - 1
                if self.path is not None and self.rows[shard] > 0 and self.rows[shard] + count > SHARD_ROWS:
                    self.names.append(f"{self.names[0]}-{len(self.names) + 1}")
                    self.rows.append(0)
                    shard += 1
                if shard:
                    self.papers[pid] = shard
            self.rows[shard] += count
        return self.by_shard(paper_ids)

    def forget(self, paper_ids: Iterable[str]) -> None:
        for pid in paper_ids:
            self.papers.pop(pid, None)


def damaged(path: Path, why: str) -> IndexDamagedError:
    return IndexDamagedError(
        f"{path}: the list of the index's collections is damaged ({why}); run `litkb doctor --repair`",
        reason=f"the list of the index's collections is damaged ({why})",
    )
