"""The full-text part of the index (`index/fulltext/`): the vectors of every attached file's passages (see
`litkb.fulltext.windows`), where each passage lies (file, page, characters, whether in the references),
and a keyword index (BM25) over the passages.

It is kept beside the abstract index, not inside it, so that a paper without a file is indexed, counted
and ranked exactly as before (the abstract index's BM25 statistics, its snapshot and Chroma collection do
not change when a PDF is attached), and a file added, replaced or removed touches that paper's passages
only. Its content hash per paper (`files_hash`: the files' digests and extractors) decides what is made
again. It is derived, like the rest of `index/`: deleted, the next `litkb index` makes it again from the
records and the text cache (`.cache/text/`). The vectors stay on this machine even when the abstract
vectors are on a Chroma server: the files themselves (`files/`) are not shared by default either.

Layout: `catalog.json` lists segments; each segment `NAME.vectors.npy` (float32, one row a passage,
grouped by paper in id order) and `NAME.meta.npy` (int32: file, page, start, end, reference) with its
papers, their passage counts and hashes, and which of them a later segment replaced (`dead`). A change
writes new segments; when there are more than MAX_SEGMENTS or a quarter of the rows are dead, all are
merged into one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LitkbError
from ..fsutil import atomic_write_text
from ..fulltext.pages import ExtractedText, load_text, text_path
from ..fulltext.windows import Window
from .fullrank import Best
from .keyword import KeywordIndex, KeywordScores, query_terms, tokens

CATALOG = "catalog.json"
LAYOUT = 1
MAX_SEGMENTS = 8
KEYWORD_DIR = "bm25"
# How a passage of the references section is weighed: its cosine (0: it has no vector, see
# `litkb.fulltext.windows.embeds`) lowered by REFERENCE_PENALTY, below a table's, its BM25
# multiplied by REFERENCE_FACTOR (a reference names another paper's claims, not this one's). Chosen with
# scripts/bench_fulltext.py (see the README's "Full-text search").
REFERENCE_PENALTY = 0.1
REFERENCE_FACTOR = 0.5
TEXTS_KEPT = 32  # files' texts kept in memory for quotes
OWNERS = "bm25-owners.npz"  # each keyword row's paper and passage number, for cold searches
SPLIT_ROWS = 20_000  # passages from which a scan runs in a thread a core


@dataclass
class FullPassage:
    """A passage as the keyword index reads it: its id (`paper#number`) and text."""

    id: str
    text: str


def passage_tokens(passage: FullPassage) -> list[str]:
    return tokens(passage.text)


def passage_id(paper_id: str, number: int) -> str:
    return f"{paper_id}#{number}"


class _Segment:
    def __init__(self, entry: dict[str, Any], vectors: Any, meta: Any) -> None:
        import numpy as np

        self.name = str(entry["name"])
        self.papers: list[str] = list(entry["papers"])
        self.counts: list[int] = [int(n) for n in entry["counts"]]
        self.hashes: list[str] = list(entry["hashes"])
        self.dead = np.zeros(len(self.papers), dtype=bool)
        self.dead[np.asarray(entry.get("dead", []), dtype=np.int64)] = True
        if len(self.counts) != len(self.papers) or len(self.hashes) != len(self.papers):
            raise ValueError("a full-text segment does not match its catalog")
        if sum(self.counts) != len(vectors) or len(meta) != len(vectors):
            raise ValueError("a full-text segment does not match its matrix")
        self.vectors = vectors
        self.meta = meta
        counts = np.asarray(self.counts, dtype=np.int64)
        self.start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        # The papers with passages, in row order, and the first row of each (for reduceat).
        self.held = np.flatnonzero((counts > 0) & ~self.dead)
        self.reference = np.asarray(meta[:, 4], dtype=bool) if len(meta) else np.zeros(0, dtype=bool)

    def entry(self) -> dict[str, Any]:
        return {"name": self.name, "papers": self.papers, "counts": self.counts, "hashes": self.hashes,
                "dead": [int(i) for i in self.dead.nonzero()[0]]}  # fmt: skip


class FullTextIndex:
    """The full-text passages of a knowledge base's papers: vectors, places and keyword counts, kept in
    `directory`; texts read from the text cache of the knowledge base at `root`."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = directory
        self.root = root
        self.keywords = KeywordIndex(directory / KEYWORD_DIR, tokenize=passage_tokens)
        self._segments: list[_Segment] | None = None
        self._where: dict[str, tuple[int, int]] | None = None
        self._keyword_owners: tuple[Any, Any, Any] | None = None
        self._paper_names: list[str] = []
        self._paper_index: dict[str, int] = {}
        self._held: tuple[Any, list[str], dict[str, int]] | None = None
        self._texts: dict[str, tuple[int, ExtractedText]] = {}
        self._weights: Any = None

    # -- what it holds ---------------------------------------------------------------------------

    def _catalog(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.directory / CATALOG).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("layout") == LAYOUT else None

    def segments(self) -> list[_Segment]:
        """The segments as saved (none when there is no full-text index, or it cannot be read: the next
        `litkb index` makes it again)."""
        if self._segments is None:
            import numpy as np

            catalog = self._catalog()
            found: list[_Segment] = []
            try:
                for entry in (catalog or {}).get("segments", []):
                    name = str(entry["name"])
                    vectors = np.load(self.directory / f"{name}.vectors.npy", mmap_mode="r")
                    meta = np.load(self.directory / f"{name}.meta.npy", mmap_mode="r")
                    found.append(_Segment(entry, vectors, meta))
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                found = []
            self._segments = found
            self._where = None
            self._keyword_owners = None
        return self._segments

    def where(self) -> dict[str, tuple[int, int]]:
        """Each paper held (with or without passages): its segment and position there."""
        if self._where is None:
            found: dict[str, tuple[int, int]] = {}
            for s, segment in enumerate(self.segments()):
                for i, pid in enumerate(segment.papers):
                    if not segment.dead[i]:
                        found[pid] = (s, i)
            self._where = found
        return self._where

    def hashes(self) -> dict[str, str]:
        """Every paper the full-text index holds, with the hash of its files (`files_hash`)."""
        return {pid: self.segments()[s].hashes[i] for pid, (s, i) in self.where().items()}

    def count_of(self, paper_id: str) -> int:
        found = self.where().get(paper_id)
        return self.segments()[found[0]].counts[found[1]] if found else 0

    def passage_count(self) -> int:
        return sum(self.count_of(pid) for pid in self.where())

    def empty(self) -> bool:
        """Whether no paper has a full-text passage (a search then has nothing to look at here)."""
        return not any(len(s.held) for s in self.segments())

    def _rows(self, paper_id: str) -> tuple[_Segment, slice] | None:
        """The segment that holds a paper's passages and their rows there (None: it holds none)."""
        found = self.where().get(paper_id)
        if found is None:
            return None
        segment = self.segments()[found[0]]
        start = int(segment.start[found[1]])
        return segment, slice(start, start + segment.counts[found[1]])

    def places(self, paper_id: str) -> Any:
        """The (file, page, start, end, reference) rows of a paper's passages, in passage order."""
        import numpy as np

        found = self._rows(paper_id)
        if found is None:
            return np.zeros((0, 5), dtype=np.int32)
        return np.asarray(found[0].meta[found[1]])

    def vectors_of(self, paper_id: str) -> Any:
        import numpy as np

        found = self._rows(paper_id)
        if found is None:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(found[0].vectors[found[1]], dtype=np.float32)

    # -- changing it -----------------------------------------------------------------------------

    def save(self, added: Iterable[dict[str, Any]], removed: set[str]) -> None:
        """Save the segments `added` (written by `write_segment`) and drop the papers in `removed` (and
        those an added segment holds anew); segments merged when they have grown."""
        segments = self.segments()
        new = list(added)
        replaced = set(removed) | {pid for entry in new for pid in entry["papers"]}
        kept = []
        for segment in segments:
            for i, pid in enumerate(segment.papers):
                if pid in replaced:
                    segment.dead[i] = True
            if not segment.dead.all():
                kept.append(segment.entry())
        entries = kept + new
        self._write_catalog(entries)
        rows = [sum(e["counts"]) for e in entries]
        dead = [sum(e["counts"][i] for i in e["dead"]) for e in entries]
        if len(entries) > MAX_SEGMENTS or (len(entries) > 1 and 4 * sum(dead) > max(sum(rows), 1)):
            self.compact()

    def write_segment(self, papers: Sequence[tuple[str, str, list[Window]]], vectors: Any) -> dict[str, Any]:
        """Write one segment: `papers` (id, hash, windows; in any order) and the windows' vectors in the
        same order. Returns its catalog entry (saved by `save`)."""
        import numpy as np

        self.directory.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex[:12]
        order = sorted(range(len(papers)), key=lambda i: papers[i][0])
        offsets = np.concatenate([[0], np.cumsum([len(p[2]) for p in papers])]).astype(np.int64)
        rows: Any = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in order]) if papers else []
        matrix = np.asarray(vectors, dtype=np.float32)[np.asarray(rows, dtype=np.int64)]
        meta = np.asarray(
            [[w.file, w.page, w.start, w.end, int(w.reference)] for i in order for w in papers[i][2]],
            dtype=np.int32,
        ).reshape(-1, 5)
        dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        matrix = matrix.reshape(-1, dim) if dim else np.zeros((0, 0), dtype=np.float32)
        for suffix, array in (("vectors", matrix), ("meta", meta)):
            staging = self.directory / f"{name}.{suffix}.npy.tmp"
            with open(staging, "wb") as handle:
                np.save(handle, array)
            staging.replace(self.directory / f"{name}.{suffix}.npy")
        return {"name": name, "papers": [papers[i][0] for i in order],
                "counts": [len(papers[i][2]) for i in order], "hashes": [papers[i][1] for i in order],
                "dead": []}  # fmt: skip

    def compact(self) -> None:
        """Merge every segment into one (paper by paper: one paper's rows in memory at a time)."""
        import numpy as np

        self._segments = self._where = None
        segments = self.segments()
        where = self.where()
        papers = sorted(where)
        total = sum(self.count_of(pid) for pid in papers)
        dims = [int(s.vectors.shape[1]) for s in segments if s.vectors.ndim == 2 and s.vectors.shape[1]]
        dim = dims[0] if dims else 0
        name = uuid.uuid4().hex[:12]
        paths = [self.directory / f"{name}.{suffix}.npy" for suffix in ("vectors", "meta")]
        staging = [path.with_name(path.name + ".tmp") for path in paths]
        vectors = np.lib.format.open_memmap(staging[0], "w+", np.float32, (total, dim))
        meta = np.lib.format.open_memmap(staging[1], "w+", np.int32, (total, 5))
        row = 0
        counts, hashes = [], []
        for pid in papers:
            s, i = where[pid]
            segment = segments[s]
            start, count = int(segment.start[i]), segment.counts[i]
            vectors[row : row + count] = segment.vectors[start : start + count]
            meta[row : row + count] = segment.meta[start : start + count]
            row += count
            counts.append(count)
            hashes.append(segment.hashes[i])
        vectors.flush()
        meta.flush()
        del vectors, meta
        for path, stage in zip(paths, staging, strict=True):
            stage.replace(path)
        self._write_catalog(
            [{"name": name, "papers": papers, "counts": counts, "hashes": hashes, "dead": []}]
        )

    def _write_catalog(self, entries: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.directory / CATALOG, json.dumps({"layout": LAYOUT, "segments": entries}))
        self._segments = self._where = None
        named = {f"{e['name']}.{suffix}.npy" for e in entries for suffix in ("vectors", "meta")}
        for path in self.directory.glob("*.npy*"):
            if path.name not in named:
                path.unlink(missing_ok=True)

    def drop(self) -> None:
        self._segments = self._where = None
        self.keywords.drop()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.directory)

    def sync_keywords(self, texts: Callable[[Sequence[str]], dict[str, list[str]]]) -> bool:
        """Bring the passages' keyword index up to date with the vectors: `texts(paper_ids)` gives the
        passage texts of papers whose counts must be made (in passage order)."""
        wanted: dict[str, str] = {}
        for pid, (s, i) in self.where().items():
            digest = self.segments()[s].hashes[i]
            for number in range(self.segments()[s].counts[i]):
                wanted[passage_id(pid, number)] = digest
        self._keyword_owners = None
        changed = self.keywords.sync(_PassageRecords(wanted, texts))
        # Written again only when the saved counts were (a change kept beside them, `delta.json`, leaves
        # the file valid: its few rows are parsed at search time); 0.3 s for 156,000 passages.
        if self._read_owners() is None:
            with contextlib.suppress(OSError, LitkbError):  # only a speed-up for cold searches
                self._write_owners(self.keywords.saved_ids())
        return changed

    def _owner_stamp(self) -> list[int]:
        """What the owners file is of: the keyword index's saved counts as they are on disk (a small change
        beside them, `delta.json`, has its few rows' ids read at search time)."""
        stamp = []
        for name in ("state.json",):
            try:
                info = (self.keywords.directory / name).stat()
                stamp += [info.st_mtime_ns, info.st_size]
            except OSError:
                stamp += [0, 0]
        return stamp

    def _write_owners(self, ids: Sequence[str]) -> None:
        """Save each saved keyword row's paper and passage number (a cold search parses no ids)."""
        import numpy as np

        owners, numbers, names = split_ids(ids)
        staging = self.directory / (OWNERS + ".tmp")
        with open(staging, "wb") as handle:
            np.savez(handle, owners=owners, numbers=numbers, names=np.asarray(list(names), dtype=str),
                     stamp=np.asarray(self._owner_stamp(), dtype=np.int64))  # fmt: skip
        staging.replace(self.directory / OWNERS)

    def _read_owners(self) -> tuple[Any, Any, list[str]] | None:
        import numpy as np

        try:
            with np.load(self.directory / OWNERS) as saved:
                if saved["stamp"].tolist() != self._owner_stamp():
                    return None
                return saved["owners"], saved["numbers"], saved["names"].tolist()
        except (OSError, ValueError, KeyError):
            return None

    # -- searching -------------------------------------------------------------------------------

    def dense_best(self, vector: Any) -> Best:
        """Every paper's best passage cosine for `vector` (REFERENCE_PENALTY off for a reference), over
        all passages (one scan a segment)."""
        import numpy as np

        names, parts = self._held_names()
        tops = []
        for segment in self.segments():
            if not len(segment.held):
                continue
            cosines = products(segment.vectors, np.asarray(vector, dtype=np.float32))
            cosines -= REFERENCE_PENALTY * segment.reference
            tops.append(np.maximum.reduceat(cosines, segment.start[segment.held]))
        return Best(names, np.concatenate(tops) if tops else np.zeros(0, np.float32), parts)

    def _held_names(self) -> tuple[list[str], dict[str, int]]:
        """The papers with passages, segment by segment (the order of `dense_best`'s values)."""
        if self._held is None or self._held[0] is not self.segments():
            names = [s.papers[i] for s in self.segments() for i in s.held.tolist()]
            self._held = (self.segments(), names, {pid: i for i, pid in enumerate(names)})
        return self._held[1], self._held[2]

    def keyword_scores(self, query: str) -> KeywordScores | None:
        """Every passage's BM25 for `query` (None when there is no keyword index of the passages)."""
        if not query_terms(query) or not (self.keywords.directory / "state.json").exists():
            return None
        try:
            return self.keywords.scores(query)
        except LitkbError:
            return None

    def keyword_best(self, scores: KeywordScores | None) -> Best:
        """Every paper's best passage BM25 (REFERENCE_FACTOR of it for a reference); papers with no query
        word left out."""
        import numpy as np

        if scores is None:
            return Best.empty()
        owners, _, weights = self._owners(scores.matrix)
        values = np.asarray(scores.values, dtype=np.float32)
        hits = np.flatnonzero(values > 0)
        best = np.full(len(self._paper_names), -np.inf, dtype=np.float32)
        np.maximum.at(best, owners[hits], values[hits] * weights[hits])
        return Best(self._paper_names, best, self._paper_index)

    def _owners(self, matrix: Any) -> tuple[Any, Any, Any]:
        """For each row of the keyword matrix: its paper (a number), passage number and weight."""
        import numpy as np

        if self._keyword_owners is None or self._keyword_owners[0] is not matrix:
            found = self._read_owners()
            if found is None or len(found[0]) > len(matrix.ids):
                owners, numbers, names = split_ids(matrix.ids)
            else:  # the saved rows' from the file, the few changed rows' parsed now
                names = {pid: i for i, pid in enumerate(found[2])}
                tail, tail_numbers, tail_names = split_ids(matrix.ids[len(found[0]) :])
                renumber = np.asarray(
                    [names.setdefault(pid, len(names)) for pid in tail_names], dtype=np.int64
                )
                owners = np.concatenate([found[0], renumber[tail] if len(tail) else tail])
                numbers = np.concatenate([found[1], tail_numbers])
            self._paper_names = list(names)
            self._paper_index = names
            # each paper's reference flags end to end, and where each paper's begin
            flags = [self.places(pid)[:, 4] > 0 for pid in names]
            counts = np.asarray([len(f) for f in flags], dtype=np.int64)
            begin = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
            every = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
            inside = numbers < counts[owners] if len(owners) else np.zeros(0, dtype=bool)
            reference = np.zeros(len(owners), dtype=bool)
            reference[inside] = every[begin[owners[inside]] + numbers[inside]]
            weights = np.where(reference, REFERENCE_FACTOR, 1.0).astype(np.float32)
            self._keyword_owners = (matrix, owners, numbers)
            self._weights = weights
        return self._keyword_owners[1], self._keyword_owners[2], self._weights

    def passage_scores(self, paper_id: str, vector: Any, scores: KeywordScores | None) -> tuple[Any, Any]:
        """The cosine and BM25 of each of a paper's passages (weighed as references where they are)."""
        import numpy as np

        places = self.places(paper_id)
        reference = places[:, 4] > 0 if len(places) else np.zeros(0, dtype=bool)
        if vector is not None and len(places):
            cosines = np.einsum("ij,j->i", self.vectors_of(paper_id), vector) - REFERENCE_PENALTY * reference
        else:
            cosines = np.zeros(len(places), dtype=np.float32)
        bm25 = np.zeros(len(places), dtype=np.float32)
        if scores is not None:
            owners, numbers, _ = self._owners(scores.matrix)
            index = self._paper_index.get(paper_id)
            rows = np.flatnonzero(owners == index) if index is not None else np.zeros(0, dtype=np.int64)
            rows = rows[numbers[rows] < len(places)]  # (a replaced row scores 0: the maximum is the live one)
            np.maximum.at(bm25, numbers[rows], np.asarray(scores.values, dtype=np.float32)[rows])
            bm25 *= np.where(reference, REFERENCE_FACTOR, 1.0)
        return cosines, bm25

    def _text(self, sha256: str) -> ExtractedText | None:
        """A file's cached text, kept for the next searches (a few: each is some 100 KB parsed)."""
        try:
            stamp = text_path(self.root, sha256).stat().st_mtime_ns
        except OSError:
            return None
        found = self._texts.get(sha256)
        if found is None or found[0] != stamp:
            text = load_text(self.root, sha256)
            if text is None:
                return None
            if len(self._texts) >= TEXTS_KEPT:
                self._texts.pop(next(iter(self._texts)))
            found = self._texts[sha256] = (stamp, text)
        return found[1]

    def passage_text(self, paper_id: str, number: int, files: Sequence[dict[str, Any]]) -> Window | None:
        """Passage `number` of a paper, read back from the text cache (None when the cache no longer
        holds it)."""
        places = self.places(paper_id)
        if not 0 <= number < len(places):
            return None
        file, page, start, end, reference = (int(v) for v in places[number])
        if not 0 <= file < len(files):
            return None
        text = self._text(str(files[file].get("sha256") or ""))
        if text is None or not 1 <= page <= len(text.pages):
            return None
        body = text.page(page)[start:end]
        return Window(file, page, start, end, bool(reference), " ".join(body.split()))


def split_ids(ids: Sequence[str]) -> tuple[Any, Any, dict[str, int]]:
    """Each passage id's paper (a number) and passage number, and the papers' numbers."""
    import numpy as np

    names: dict[str, int] = {}
    split = [str(doc).rpartition("#") for doc in ids]
    owners = np.fromiter((names.setdefault(pid, len(names)) for pid, _, _ in split), np.int64, len(split))
    numbers = np.fromiter((int(n) if n.isdigit() else 0 for _, _, n in split), np.int64, len(split))
    return owners, numbers, names


def products(matrix: Any, vector: Any) -> Any:
    """`matrix @ vector` in numpy's own loop, in a thread a core for a large matrix: a BLAS product of this
    size waits for every core it spreads over, which on a busy 2-core machine took 30-90 ms instead of
    0.3 for 2,000 passages; a large scan is bound by memory, and two threads read it faster than one (25
    against 39 ms for 156,000 passages on a busy hour here)."""
    import numpy as np

    workers = min(os.cpu_count() or 1, 4)
    if len(matrix) < SPLIT_ROWS or workers == 1:
        return np.einsum("ij,j->i", matrix, vector)
    step = -(-len(matrix) // workers)
    parts = _pool(workers).map(lambda s: np.einsum("ij,j->i", matrix[s : s + step], vector),
                               range(0, len(matrix), step))  # fmt: skip
    return np.concatenate(list(parts))


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers)


class _PassageRecords:
    """The passages as `KeywordIndex.sync` reads records."""

    def __init__(
        self, wanted: dict[str, str], texts: Callable[[Sequence[str]], dict[str, list[str]]]
    ) -> None:
        self.ids = sorted(wanted)
        self.keyword_hashes = wanted
        self._texts = texts

    def papers(self, ids: Iterable[str]) -> list[FullPassage]:
        wanted = list(ids)
        by_paper: dict[str, list[int]] = {}
        for doc in wanted:
            pid, _, tail = doc.rpartition("#")
            by_paper.setdefault(pid, []).append(int(tail))
        found: dict[str, str] = {}
        for pid, texts in self._texts(sorted(by_paper)).items():
            for number in by_paper.get(pid, []):
                if number < len(texts):
                    found[passage_id(pid, number)] = texts[number]
        return [FullPassage(doc, found[doc]) for doc in wanted if doc in found]
