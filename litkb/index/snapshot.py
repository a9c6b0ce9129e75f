"""The passage snapshot (`index/passages.npy` and `passages.json`): every passage vector of the embedded
index as one matrix, so a search compares them in numpy without opening Chroma. Layout SNAPSHOT_LAYOUT:
the passage 0 of every paper first (one row each, in paper order), then each paper's other passages,
grouped by paper in passage order. Tagged with the manifest's generation, so a snapshot out of step with
the collection is never used; one that claims to be current but does not hold what the manifest says is
an error (a search must not answer from it)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexDamagedError, LitkbError
from ..fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

SNAPSHOT = "passages"  # passages.npy (the matrix) and passages.json (its papers, their counts and hashes)
SNAPSHOT_LAYOUT = 2  # 2: every paper's passage 0 first (one row each, in paper order), then the others


@dataclass
class PassageRows:
    """Passage vectors: row i is passage `passages[i]` of paper `owners[i]`."""

    owners: list[str]
    passages: list[int]
    matrix: Any = None
    dim: int | None = None


class Snapshot:
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


def snapshot_problem(snapshot: Snapshot, manifest: dict[str, Any]) -> str | None:
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


def groups(owners: Sequence[str]) -> tuple[list[str], Any]:
    """The papers of rows grouped by paper, and the first row of each group."""
    import numpy as np

    order: list[str] = []
    starts: list[int] = []
    for row, owner in enumerate(owners):
        if not order or owner != order[-1]:
            order.append(owner)
            starts.append(row)
    return order, np.asarray(starts, dtype=np.int64)


def load(directory: Path, manifest: dict[str, Any], generation: str | None) -> Snapshot | None:
    """The snapshot in `directory` when it is of `generation` (None when there is none, or it is of an
    older one, or was written by an older litkb); an error when it is current but does not hold what
    `manifest` says."""
    import numpy as np

    try:
        info = json.loads((directory / f"{SNAPSHOT}.json").read_text(encoding="utf-8"))
        if not generation or info.get("generation") != generation:
            return None
        if info.get("layout") != SNAPSHOT_LAYOUT:
            return None  # written by an older litkb: the next `litkb index` writes it again
        matrix = np.load(directory / f"{SNAPSHOT}.npy", mmap_mode="r")
        snapshot = Snapshot(info["papers"], info["counts"], info["hashes"], matrix)
    except (OSError, ValueError, KeyError, TypeError, LitkbError):
        return None
    problem = snapshot_problem(snapshot, manifest)
    if problem is not None:
        raise IndexDamagedError(
            f"the passage snapshot {directory / SNAPSHOT}.npy {problem}; run `litkb doctor` "
            "(`litkb doctor --repair` rebuilds the index from the records)",
            reason=f"the passage snapshot {problem}",
        )
    return snapshot


def write(
    directory: Path, generation: str | None, hashes: dict[str, str], owners: Sequence[str], matrix: Any
) -> None:
    """Save passage vectors (rows grouped by paper, in passage order) as the snapshot of `generation`."""
    import numpy as np

    order, starts = groups(owners)
    rest = np.ones(len(owners), dtype=bool)
    rest[starts] = False
    layout = np.concatenate([starts, np.flatnonzero(rest)]).astype(np.int64)
    staging = directory / f"{SNAPSHOT}.tmp.npy"
    np.save(staging, np.asarray(matrix, dtype=np.float32)[layout] if len(owners) else matrix)
    os.replace(staging, directory / f"{SNAPSHOT}.npy")
    counts = np.diff(np.append(starts, len(owners))).tolist() if len(owners) else []
    atomic_write_text(
        directory / f"{SNAPSHOT}.json",
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


def remove(directory: Path) -> None:
    for name in (f"{SNAPSHOT}.npy", f"{SNAPSHOT}.json", f"{SNAPSHOT}.rows.json"):
        (directory / name).unlink(missing_ok=True)
