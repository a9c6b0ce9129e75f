"""The passage snapshot: every passage vector of the index as numpy matrices, so a search compares them
without opening Chroma (and, on a Chroma server, without a round trip: see `litkb.index.vectors`).

It is kept in parts (segments), so that one changed abstract writes a few rows, not the whole snapshot:

- `passages.json`, the catalog: the generation it is of, and for each segment its papers (in id order),
  their passage counts and content hashes, and which of them a later segment replaced (`dead`);
- per segment, `passages-NAME.first.npy`: passage 0 of each of its papers, one float32 row each in paper
  order (one block, scored by one matrix product), and `passages-NAME.rest.npy`: each paper's other
  passages, grouped by paper in passage order, stored as float16 (half the size: the sentences of at most
  a few hundred papers are read for a query, and rounding them changes no ranking measurably; see the
  README's Performance section).

A change writes its papers as a new segment and marks their old rows dead; when the segments past the
first hold more than a quarter of the rows, all are merged into one (`compact`); when there are more than
MAX_SEGMENTS, the ones past the first are merged into one beside it (which costs what they hold). The catalog
is tagged with the manifest's generation, so a snapshot out of step with the collection is never used; one
that claims to be current but does not hold what the manifest says is an error (a search must not answer
from it). Files no catalog names any more are removed when the next one is written."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexDamagedError, LitkbError
from ..fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

SNAPSHOT = "passages"  # passages.json (the catalog) and passages-NAME.first.npy / .rest.npy (segments)
SNAPSHOT_LAYOUT = 3  # 3: segments of float32 passage 0 rows and float16 other rows
MAX_SEGMENTS = 8
REST_DTYPE = "float16"


@dataclass
class PassageRows:
    """Passage vectors: row i is passage `passages[i]` of paper `owners[i]`."""

    owners: list[str]
    passages: list[int]
    matrix: Any = None
    dim: int | None = None


class KeptRows:
    """Passage vectors kept in memory for the snapshot at the precision it stores them (passage 0 in
    float32, the others in float16): 124,000 new passages take 110 MB instead of 190 MB. `parts` gives them
    back as PassageRows, about PART_ROWS rows at a time (one new segment each)."""

    PART_ROWS = 32_768

    def __init__(self) -> None:
        self.chunks: list[tuple[list[str], list[int], Any, Any, Any]] = []

    def add(self, owners: list[str], passages: list[int], matrix: Any) -> None:
        import numpy as np

        first = np.asarray(passages) == 0
        self.chunks.append((owners, passages, first, matrix[first].copy(), matrix[~first].astype(REST_DTYPE)))

    def parts(self) -> Iterator[PassageRows]:
        import numpy as np

        group: list[tuple[list[str], list[int], Any, Any, Any]] = []
        for i, chunk in enumerate(self.chunks):
            group.append(chunk)
            if sum(len(c[0]) for c in group) < self.PART_ROWS and i + 1 < len(self.chunks):
                continue
            dim = int(group[0][3].shape[1]) if len(group[0][3]) else int(group[0][4].shape[1])
            matrix = np.empty((sum(len(c[0]) for c in group), dim), dtype=np.float32)
            owners: list[str] = []
            passages: list[int] = []
            for chunk_owners, chunk_passages, first, first_rows, rest_rows in group:
                block = matrix[len(owners) : len(owners) + len(chunk_owners)]
                block[first] = first_rows
                block[~first] = rest_rows
                owners += chunk_owners
                passages += chunk_passages
            yield PassageRows(owners, passages, matrix, dim)
            group = []


class Segment:
    """One part of the snapshot: passage 0 of paper `papers[i]` is row i of `first`; its other
    `counts[i] - 1` passages are rows `start[i]` onwards of `rest`."""

    def __init__(
        self, name: str, papers: list[str], counts: list[int], hashes: list[str], first: Any, rest: Any
    ) -> None:
        import numpy as np

        if len(papers) != len(counts) or len(papers) != len(hashes) or len(first) != len(papers):
            raise LitkbError("a passage snapshot segment does not match its matrix")
        if any(n < 1 for n in counts):
            raise LitkbError("the passage snapshot has a paper without passages")
        others = np.asarray(counts, dtype=np.int64) - 1
        if int(others.sum()) != len(rest):
            raise LitkbError("a passage snapshot segment does not match its matrix")
        self.name = name
        self.papers = papers
        self.counts = counts
        self.hashes = hashes
        self.first = first
        self.rest = rest
        self.start = np.concatenate([[0], np.cumsum(others)[:-1]]).astype(np.int64) if papers else others

    def vectors(self, i: int) -> Any:
        """Every passage vector of paper `papers[i]`, in passage order (float32)."""
        import numpy as np

        first = int(self.start[i])
        rest = np.asarray(self.rest[first : first + self.counts[i] - 1], dtype=np.float32)
        return np.concatenate([np.asarray(self.first[i : i + 1], dtype=np.float32), rest])


class Snapshot:
    """The passage vectors of the index, read from its segments; `papers` lists the papers it holds (in id
    order), each held by exactly one segment (`where`)."""

    def __init__(self, segments: list[Segment], dead: list[list[int]]) -> None:
        import numpy as np

        self.segments = segments
        self.dead = [np.zeros(len(s.papers), dtype=bool) for s in segments]
        for mask, positions in zip(self.dead, dead, strict=True):
            mask[np.asarray(positions, dtype=np.int64)] = True
        self.where: dict[str, tuple[int, int]] = {}
        for s, segment in enumerate(segments):
            for i, pid in enumerate(segment.papers):
                if not self.dead[s][i]:
                    if pid in self.where:
                        raise LitkbError(f"the passage snapshot holds paper {pid} twice")
                    self.where[pid] = (s, i)
        self.papers = sorted(self.where)
        self.passage_count = sum(segments[s].counts[i] for s, i in self.where.values())
        self.dim = next((int(s.first.shape[1]) for s in segments if s.first.ndim == 2), 0)

    def hash_map(self) -> dict[str, str]:
        return {pid: self.segments[s].hashes[i] for pid, (s, i) in self.where.items()}

    def count_of(self, pid: str) -> int:
        """How many passages of paper `pid` the snapshot holds (0 when none)."""
        found = self.where.get(pid)
        return self.segments[found[0]].counts[found[1]] if found is not None else 0

    def first_rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
        """Passage 0 of some papers or of all (in the order of `paper_ids`, or of paper id)."""
        import numpy as np

        chosen = self.papers if paper_ids is None else [pid for pid in paper_ids if pid in self.where]
        if (
            paper_ids is None
            and len(self.segments) == 1
            and not self.dead[0].any()
            and self.segments[0].papers == chosen
        ):
            return list(chosen), np.asarray(self.segments[0].first)
        matrix = np.zeros((len(chosen), self.dim), dtype=np.float32)
        for s, (rows, positions) in self._by_segment(chosen).items():
            matrix[rows] = self.segments[s].first[positions]
        return list(chosen), matrix

    def _by_segment(self, chosen: Sequence[str]) -> dict[int, tuple[Any, Any]]:
        """For each segment, the positions in `chosen` of the papers it holds and their rows there."""
        import numpy as np

        found: dict[int, tuple[list[int], list[int]]] = {}
        for row, pid in enumerate(chosen):
            s, i = self.where[pid]
            rows, positions = found.setdefault(s, ([], []))
            rows.append(row)
            positions.append(i)
        return {
            s: (np.asarray(rows, np.int64), np.asarray(positions, np.int64))
            for s, (rows, positions) in found.items()
        }

    def rows(self, paper_ids: Sequence[str] | None) -> tuple[list[str], list[int], np.ndarray]:
        """(paper id, passage number) of the rows of some papers or of all, and their vectors: grouped by
        paper (in the order of `paper_ids`, or of paper id), in passage order. Gathered a segment at a
        time (one paper at a time took 7 ms of a 40 ms search over 300 candidates)."""
        import numpy as np

        chosen = self.papers if paper_ids is None else [pid for pid in paper_ids if pid in self.where]
        if not chosen:
            return [], [], np.zeros((0, self.dim), np.float32)
        places = [self.where[pid] for pid in chosen]
        counts = np.fromiter((self.segments[s].counts[i] for s, i in places), np.int64, len(places))
        begin = np.concatenate([[0], np.cumsum(counts)[:-1]])
        matrix = np.empty((int(counts.sum()), self.dim), dtype=np.float32)
        for s, (rows, positions) in self._by_segment(chosen).items():
            segment = self.segments[s]
            matrix[begin[rows]] = np.asarray(segment.first)[positions]
            others = counts[rows] - 1
            if int(others.sum()):
                matrix[ranges(begin[rows] + 1, others)] = np.asarray(segment.rest)[
                    ranges(segment.start[positions], others)
                ]
        owners = [pid for pid, n in zip(chosen, counts.tolist(), strict=True) for _ in range(n)]
        passages = (np.arange(len(matrix)) - np.repeat(begin, counts)).tolist()
        return owners, passages, matrix

    def nearest_whole(self, vector: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The papers and cosines of passage 0 for `vector`, over every segment (dead rows at -inf)."""
        import numpy as np

        ids: list[str] = []
        scores = []
        for segment, dead in zip(self.segments, self.dead, strict=True):
            found = np.asarray(segment.first @ vector, dtype=np.float32)
            if dead.any():
                found[dead] = -np.inf
            ids += segment.papers
            scores.append(found)
        return ids, np.concatenate(scores) if scores else np.zeros(0, np.float32)

    def live(self, paper_ids: Sequence[str] | None = None) -> Iterator[tuple[str, str, Any]]:
        """Each paper (of `paper_ids`, in that order; else all, in id order) with its hash and all its
        vectors."""
        for pid in self.papers if paper_ids is None else paper_ids:
            s, i = self.where[pid]
            yield pid, self.segments[s].hashes[i], self.segments[s].vectors(i)


def snapshot_problem(snapshot: Snapshot, manifest: dict[str, Any]) -> str | None:
    """What is wrong with a snapshot of the current generation, measured against the manifest."""
    rows = snapshot.passage_count
    if any(s.first.ndim != 2 or s.rest.ndim != 2 for s in snapshot.segments):
        return "is not a matrix"  # (np.load gives what the file holds)
    if rows and snapshot.dim != manifest.get("dim"):
        return f"has vectors of {snapshot.dim} dimensions, the index {manifest.get('dim')}"
    expected = manifest.get("passages")
    if isinstance(expected, int) and expected != rows:
        return f"holds {rows} passage vectors, the index {expected}"
    return None


def ranges(starts: Any, lengths: Any) -> Any:
    """The indices start..start+length-1 of each (start, length), end to end."""
    import numpy as np

    total = int(lengths.sum())
    before = np.cumsum(lengths) - lengths
    return np.repeat(starts - before, lengths) + np.arange(total, dtype=np.int64)


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


def _files(directory: Path, name: str) -> tuple[Path, Path]:
    return directory / f"{SNAPSHOT}-{name}.first.npy", directory / f"{SNAPSHOT}-{name}.rest.npy"


def read_catalog(directory: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((directory / f"{SNAPSHOT}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def load(
    directory: Path, manifest: dict[str, Any] | None, generation: str | None, any_generation: bool = False
) -> Snapshot | None:
    """The snapshot in `directory` when it is of `generation` (None when there is none, or it is of an
    older one, or was written by an older litkb); an error when it is current but cannot be read or does
    not hold what `manifest` says (when one is given)."""
    import numpy as np

    info = read_catalog(directory)
    if info is None or (not any_generation and (not generation or info.get("generation") != generation)):
        return None
    if info.get("layout") != SNAPSHOT_LAYOUT:
        return None  # written by an older litkb: the next `litkb index` writes it again
    try:
        segments = []
        dead = []
        for part in info["segments"]:
            first, rest = _files(directory, str(part["name"]))
            segments.append(
                Segment(
                    str(part["name"]),
                    part["papers"],
                    part["counts"],
                    part["hashes"],
                    np.load(first, mmap_mode="r"),
                    np.load(rest, mmap_mode="r"),
                )
            )
            dead.append(part.get("dead", []))
        snapshot = Snapshot(segments, dead)
    except (OSError, ValueError, KeyError, TypeError, IndexError, LitkbError) as exc:
        raise IndexDamagedError(
            f"the passage snapshot in {directory} cannot be read ({exc}); run `litkb doctor` "
            "(`litkb doctor --repair` rebuilds the index from the records)",
            reason=f"the passage snapshot cannot be read ({exc})",
        ) from exc
    problem = snapshot_problem(snapshot, manifest) if manifest is not None else None
    if problem is not None:
        raise IndexDamagedError(
            f"the passage snapshot {directory / SNAPSHOT}.json {problem}; run `litkb doctor` "
            "(`litkb doctor --repair` rebuilds the index from the records)",
            reason=f"the passage snapshot {problem}",
        )
    return snapshot


def by_paper(rows: PassageRows) -> dict[str, list[int]]:
    """The rows of each paper in `rows`, in passage order."""
    found: dict[str, list[tuple[int, int]]] = {}
    for row, (owner, number) in enumerate(zip(rows.owners, rows.passages, strict=True)):
        found.setdefault(owner, []).append((number, row))
    return {pid: [row for _, row in sorted(pairs)] for pid, pairs in found.items()}


class _SegmentWriter:
    """Writes one segment: papers added in id order, straight into memory-mapped files."""

    def __init__(self, directory: Path, papers: int, rest: int, dim: int) -> None:
        import numpy as np

        self.name = uuid.uuid4().hex[:12]
        self.paths = _files(directory, self.name)
        self.staging = [path.with_name(path.name + ".tmp") for path in self.paths]
        shape_first, shape_rest = (papers, dim), (rest, dim)
        self.first = np.lib.format.open_memmap(self.staging[0], "w+", np.float32, shape_first)
        self.rest = np.lib.format.open_memmap(self.staging[1], "w+", REST_DTYPE, shape_rest)
        self.papers: list[str] = []
        self.counts: list[int] = []
        self.hashes: list[str] = []
        self.row = 0

    def add(self, pid: str, hash_: str, vectors: Any) -> None:
        i = len(self.papers)
        self.first[i] = vectors[0]
        self.rest[self.row : self.row + len(vectors) - 1] = vectors[1:]
        self.row += len(vectors) - 1
        self.papers.append(pid)
        self.counts.append(len(vectors))
        self.hashes.append(hash_)

    def finish(self) -> dict[str, Any]:
        for matrix in (self.first, self.rest):
            matrix.flush()
        del self.first, self.rest
        for staging, path in zip(self.staging, self.paths, strict=True):
            os.replace(staging, path)
        return {"name": self.name, "papers": self.papers, "counts": self.counts, "hashes": self.hashes}


def _segment(directory: Path, papers: Iterator[tuple[str, str, Any]], count: int, rest: int, dim: int) -> Any:
    writer = _SegmentWriter(directory, count, rest, dim)
    for pid, hash_, vectors in papers:
        writer.add(pid, hash_, vectors)
    return writer.finish()


def write(
    directory: Path, generation: str | None, hashes: dict[str, str], parts: Iterable[PassageRows]
) -> None:
    """Save passage vectors (of every paper, in any order) as the whole snapshot of `generation`."""
    save(directory, generation, hashes, parts)


def save(
    directory: Path,
    generation: str | None,
    hashes: dict[str, str],
    parts: Iterable[PassageRows],
    previous: Snapshot | None = None,
    dropped: Set[str] = frozenset(),
) -> None:
    """Save `previous` (its segments kept as they are) less the papers in `dropped` and in `parts`, plus
    `parts` (one new segment each: they may come one at a time from a slow source, so that no more than
    one part is ever in memory), as the snapshot of `generation`; its segments merged when they have grown
    (see the module's docstring)."""
    import numpy as np

    written: list[dict[str, Any]] = []
    for rows in parts:
        found = by_paper(rows)
        if not found:
            continue
        papers = sorted(found)
        written.append(
            _segment(
                directory,
                ((pid, hashes.get(pid, ""), np.asarray(rows.matrix[found[pid]])) for pid in papers),
                len(papers),
                len(rows.owners) - len(papers),
                int(rows.matrix.shape[1]),
            )
        )
    replaced = set(dropped) | {pid for part in written for pid in part["papers"]}
    kept: list[dict[str, Any]] = []
    for s, segment in enumerate(previous.segments if previous is not None else []):
        dead = set(np.flatnonzero(previous.dead[s]).tolist()) if previous is not None else set()
        dead.update(i for i, pid in enumerate(segment.papers) if pid in replaced)
        if len(dead) < len(segment.papers):  # a segment all of whose papers are gone is left out
            kept.append(_entry(segment, sorted(dead)))
    segments = kept + written
    _save_catalog(directory, generation, segments)
    live = [sum(part["counts"]) - sum(part["counts"][i] for i in part.get("dead", [])) for part in segments]
    if len(segments) > 1 and 4 * sum(live[1:]) > sum(live):
        compact(directory, generation)
    elif len(segments) > MAX_SEGMENTS:
        compact(directory, generation, keep_first=True)


def compact(directory: Path, generation: str | None, keep_first: bool = False) -> None:
    """Merge the segments of the snapshot in `directory` into one, reading one paper at a time;
    `keep_first`: all but the first (the large one a full merge left), which stays as it is, so that
    merging the small segments of a few changes costs what they hold, not the whole snapshot."""
    snapshot = load(directory, None, generation)
    if snapshot is None:
        return
    kept: list[dict[str, Any]] = []
    papers = snapshot.papers
    if keep_first and len(snapshot.segments) > 1:
        kept = [_entry(snapshot.segments[0], snapshot.dead[0].nonzero()[0].tolist())]
        papers = [pid for pid in papers if snapshot.where[pid][0] > 0]
    rest = sum(snapshot.count_of(pid) for pid in papers) - len(papers)
    segment = _segment(directory, snapshot.live(papers), len(papers), rest, snapshot.dim)
    del snapshot  # its files are removed next
    _save_catalog(directory, generation, [*kept, segment])


def _entry(segment: Segment, dead: list[int]) -> dict[str, Any]:
    """A segment as the catalog names it, with the positions of its dead papers."""
    return {"name": segment.name, "papers": segment.papers, "counts": segment.counts,
            "hashes": segment.hashes, "dead": dead}  # fmt: skip


def retag(directory: Path, generation: str | None) -> None:
    """Say that the snapshot in `directory` is of `generation` (None: of none)."""
    catalog = read_catalog(directory)
    if catalog is not None:
        catalog["generation"] = generation
        atomic_write_text(directory / f"{SNAPSHOT}.json", json.dumps(catalog))


def _save_catalog(directory: Path, generation: str | None, segments: list[dict[str, Any]]) -> None:
    catalog = {"generation": generation, "layout": SNAPSHOT_LAYOUT, "segments": segments}
    atomic_write_text(directory / f"{SNAPSHOT}.json", json.dumps(catalog))
    named = {path.name for part in segments for path in _files(directory, str(part["name"]))}
    for path in directory.glob(f"{SNAPSHOT}-*.npy"):  # segments no catalog names any more
        if path.name not in named:
            path.unlink(missing_ok=True)
    for old in (f"{SNAPSHOT}.npy", f"{SNAPSHOT}.rows.json"):  # what older litkb versions wrote
        (directory / old).unlink(missing_ok=True)


def remove(directory: Path) -> None:
    for path in [directory / f"{SNAPSHOT}.json", *directory.glob(f"{SNAPSHOT}-*.npy*")]:
        path.unlink(missing_ok=True)
    for name in (f"{SNAPSHOT}.npy", f"{SNAPSHOT}.rows.json"):
        (directory / name).unlink(missing_ok=True)
