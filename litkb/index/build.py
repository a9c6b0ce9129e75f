"""Bringing the index up to date with the records, and rebuilding it from them.

`IndexBuilder.update` embeds new and changed records (all their passages), removes what is gone, brings
the keyword index up to date, records what the index holds (the manifest) and writes the passage
snapshot. `IndexBuilder.repair` rebuilds the whole index from the records into `index.repair/` and swaps
it in only when it is complete (a crash half-way leaves the old index where it was).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ..errors import IndexDamagedError
from ..fulltext.windows import Window, embeds, paper_windows
from ..models import Paper
from ..store import RecordStore
from ..wording import plural
from .chroma import forget_clients
from .encoder import Embedder
from .manifest import INDEX_SCHEMA
from .parts import IndexParts
from .passages import passages
from .records import IndexRecords
from .snapshot import KeptRows, PassageRows

# Changes of up to this many passages (a few papers) to a local index go to the snapshot at once and to
# Chroma at the next larger run, so that editing a record and indexing it does not cost importing chromadb
# (about 1.3 s of the 1.5 s such a run may take).
DEFER_PASSAGES = 64
PAPER_CHUNK = 512  # papers embedded and written to the index at a time (about 3,200 passages)
FULL_CHUNK = 32  # papers whose full text is embedded and written at a time (about 2,000 passages)
FULL_PAGE_GUESS = 4  # passages a page, for the progress bar's total before the texts are read

Progress = Callable[[int, int], None]


@dataclass
class IndexReport:
    embedded: int = 0
    passages: int = 0
    deleted: int = 0
    unchanged: int = 0
    model: str = ""
    rebuilt: bool = False
    fetched: int = 0  # on a server: papers whose vectors were copied here for fast searches
    full_papers: int = 0  # papers whose full text was embedded
    full_passages: int = 0
    full_deleted: int = 0  # papers whose full-text passages were removed (file detached, record gone)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"embedded {self.embedded} ({plural(self.passages, 'passage')}), deleted {self.deleted}, "
            f"unchanged {self.unchanged} ({self.model})"
        )
        if self.full_papers or self.full_deleted:
            text += f"; full text: embedded {self.full_papers} ({self.full_passages} passages)"
            text += f", deleted {self.full_deleted}" if self.full_deleted else ""
        if self.fetched:
            copied = plural(self.fetched, "paper")
            text += f"; copied the vectors of {copied} from the server for fast searches"
        return f"rebuilt the index: {text}" if self.rebuilt else text


class IndexBuilder:
    """Builds the index in `parts` from the records in `store`; `writing` holds the knowledge base's write
    lock while it writes."""

    def __init__(
        self,
        store: RecordStore,
        parts: IndexParts,
        writing: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self.store = store
        self.parts = parts
        self.writing = writing

    @property
    def server(self) -> bool:
        return self.parts.vectors.url is not None

    def run(
        self,
        records: IndexRecords,
        rebuild: bool = False,
        progress: Progress | None = None,
        prune: bool = False,
    ) -> IndexReport:
        """`update`, and a local index found damaged (say, by a crash in the middle of a write) rebuilt
        from the records, as `litkb doctor --repair` would, with a warning."""
        try:
            return self.update(records, rebuild, progress, prune)
        except IndexDamagedError as exc:
            if rebuild or self.server:
                raise
            report = self.repair(records, progress)
            report.warnings.insert(0, f"rebuilt the index from the records: it was damaged ({exc.reason})")
            return report

    def update(
        self,
        records: IndexRecords,
        rebuild: bool = False,
        progress: Progress | None = None,
        prune: bool = False,
    ) -> IndexReport:
        """Embed new and changed records, drop what is gone (on a server only with `prune`: papers with no
        record here may be another member's), and bring the keyword index, manifest and snapshot up to
        date."""
        vectors, keywords = self.parts.vectors, self.parts.keywords
        model = vectors.model
        report = IndexReport(model=model)
        with self.writing():
            manifest = vectors.read_manifest() if not rebuild else None
            if rebuild or (
                manifest is not None
                and (manifest.get("model") != model or manifest.get("schema") != INDEX_SCHEMA)
            ):
                vectors.drop()
                keywords.drop()
                self.parts.fulltext.drop()
                report.rebuilt = True
            want = records.vector_hashes
            # What the index holds: from the snapshot when it is current (no need to open Chroma), else
            # from every vector's metadata.
            previous = vectors.current_snapshot()
            have = previous.hash_map() if previous is not None else vectors.stored_hashes()
            todo = records.papers([pid for pid in records.ids if have.get(pid) != want[pid]])
            # A record that is there but unreadable keeps its vectors until it is fixed or removed.
            gone = [pid for pid in have if pid not in want and not self.store.exists(pid)]
            if gone and self.server and not prune:
                report.warnings.append(
                    f"{plural(len(gone), 'paper')} in the server's collection "
                    f"{'has' if len(gone) == 1 else 'have'} no record here (another "
                    "member's, or removed here); `litkb index --prune` removes them"
                )
                gone = []
            # A small change to a local index with a current snapshot goes to the snapshot only, and to
            # Chroma at the next larger run (see `VectorIndex.defer`): no chromadb to load for it.
            deferred = (
                not self.server
                and previous is not None
                and not report.rebuilt
                and sum(len(passages(p)) for p in todo) + len(gone) <= DEFER_PASSAGES
            )
            if not deferred:
                vectors.flush_deferred()
            if todo or gone:
                if deferred:
                    vectors.defer(gone + [p.id for p in todo])
                vectors.begin_change()
            if not deferred:
                vectors.chroma.delete(gone + [p.id for p in todo if p.id in have])
            report.deleted = len(gone)
            report.unchanged = len(records) - len(todo)
            keywords.sync(records)
            if todo:  # the exported encoders embed papers on the CPU: made once, first
                warning = self.parts.encoders.export()
                if warning:
                    report.warnings.append(warning)
            # The new vectors are kept for the snapshot when it can be patched, or when they are all of it.
            keep = previous is not None or report.rebuilt or not have
            kept = KeptRows() if keep else None
            added = self._embed(todo, want, progress, kept=kept, store=not deferred)
            report.passages, dim = len(added.owners), added.dim
            report.embedded = len(todo)
            if dim is None:
                dim = (
                    int(manifest["dim"])
                    if manifest and "dim" in manifest
                    else self.parts.encoders.embedder.dim
                )
            changed = bool(todo or gone or report.rebuilt)
            replaced = set(gone) | {p.id for p in todo}
            passages_now = None
            if previous is not None and not report.rebuilt:  # counted from the snapshot: no shard to load
                passages_now = previous.passage_count + len(added.owners)
                passages_now -= sum(previous.count_of(pid) for pid in replaced)
            vectors.write_manifest(model, dim, len(want), changed=changed, passages=passages_now)
            if changed or not vectors.snapshot_ok():
                hashes = {pid: h for pid, h in have.items() if pid not in gone}
                hashes.update((p.id, want[p.id]) for p in todo)
                if previous is not None and not report.rebuilt:  # patch it: no need to read Chroma again
                    vectors.update_snapshot(previous, hashes, replaced, kept.parts() if kept else [])
                elif kept is not None and added.owners and len(added.owners) == vectors.count():
                    vectors.write_snapshot(hashes, kept.parts())  # all the index holds, embedded now
                else:
                    vectors.write_snapshot(hashes)
            if not todo:
                warning = self.parts.encoders.export()  # for searches, even with nothing to embed
                if warning:
                    report.warnings.append(warning)
            self._sync_fulltext(records, report, progress)
            report.fetched = vectors.refresh_mirror()
        return report

    def _embed(
        self,
        papers: Sequence[Paper],
        hashes: dict[str, str],
        progress: Progress | None,
        kept: KeptRows | None = None,
        store: bool = True,
    ) -> PassageRows:
        """Embed every passage of `papers` and store the vectors in Chroma (unless not `store`) and in
        `kept` (when given); the rows embedded. Papers go in groups of PAPER_CHUNK, in their order, so
        that the work (and the time left that the progress bar shows) is even from group to group; the
        encoder sorts each group's passages by length so that batches of like lengths pad least. A
        group's texts are split into passages when it comes (only their number is kept for all)."""
        counts = {p.id: len(passages(p)) for p in papers}
        total = sum(counts.values())
        done = PassageRows([], [])
        if not total:
            return done
        encoder = self.parts.encoders.for_passages(total)
        if progress:
            progress(0, total)
        for start in range(0, len(papers), PAPER_CHUNK):
            chunk = [(p.id, n, text, counts[p.id]) for p in papers[start : start + PAPER_CHUNK]
                     for n, text in enumerate(passages(p))]  # fmt: skip
            vectors = encoder.encode([text for _, _, text, _ in chunk], batch_size=encoder.batch_size)
            done.dim = int(vectors.shape[1])
            owners = [pid for pid, _, _, _ in chunk]
            numbers = [n for _, n, _, _ in chunk]
            if store:
                self.parts.vectors.chroma.add(
                    owners, numbers, [count for _, _, _, count in chunk], vectors,
                    [hashes[pid] for pid in owners],
                )  # fmt: skip
            done.owners += owners
            done.passages += numbers
            if kept is not None:
                kept.add(owners, numbers, vectors)
            if progress:
                progress(len(done.owners), total)
        return done

    def _sync_fulltext(self, records: IndexRecords, report: IndexReport, progress: Progress | None) -> None:
        """Embed the full-text passages of papers whose files changed (new, replaced or detached; see
        `litkb.index.fulltext`), drop those of papers gone or without files, and bring the passages'
        keyword index up to date. Papers go FULL_CHUNK at a time, each group a new segment, so that no
        more than a group's texts and vectors are in memory."""
        full = self.parts.fulltext
        want = records.full_hashes
        have = full.hashes()
        todo_ids = [pid for pid in records.ids if pid in want and have.get(pid) != want[pid]]
        # Gone: changed, without files now, or removed; a record there but unreadable keeps its passages.
        readable = records.vector_hashes
        removed = {
            pid
            for pid in have
            if want.get(pid) != have[pid] and (pid in readable or not self.store.exists(pid))
        }
        report.full_deleted = len([pid for pid in removed if pid not in want and full.count_of(pid)])
        root = full.root
        cache: dict[str, list[Window]] = {}
        if todo_ids:
            papers = records.papers(todo_ids)
            pages = {p.id: sum(int(f.get("pages") or 1) for f in p.files) for p in papers}
            offset = report.passages
            guess = sum(pages.values()) * FULL_PAGE_GUESS
            encoder = self.parts.encoders.for_passages(guess) if guess else None
            segments = []
            done = 0
            for start in range(0, len(papers), FULL_CHUNK):
                group = papers[start : start + FULL_CHUNK]
                found = [(p.id, want[p.id], paper_windows(root, p)) for p in group]
                every = [w for _, _, windows in found for w in windows]
                segments.append(full.write_segment(found, full_vectors(encoder, every)))
                done += len(every)
                report.full_passages += len(every)
                report.full_papers += sum(1 for _, _, windows in found if windows)
                for pid, _, windows in found:
                    cache[pid] = windows
                if len(cache) > 4 * FULL_CHUNK:  # keep a few for the keyword index, not every text
                    cache.clear()
                if progress:
                    left = sum(pages[p.id] for p in papers[start + FULL_CHUNK :]) * FULL_PAGE_GUESS
                    progress(offset + done, offset + done + left)
            full.save(segments, removed)
        elif removed:
            full.save([], removed)

        def texts(paper_ids: Sequence[str]) -> dict[str, list[str]]:
            missing = [pid for pid in paper_ids if pid not in cache]
            found = {pid: [w.text for w in cache[pid]] for pid in paper_ids if pid in cache}
            for paper in records.papers(missing):
                found[paper.id] = [w.text for w in paper_windows(root, paper)]
            return found

        full.sync_keywords(texts)

    def repair(self, records: IndexRecords, progress: Progress | None = None) -> IndexReport:
        """Rebuild the index from the records into a new folder and swap it in when complete. On a Chroma
        server the collection is shared, so it is completed (what is missing or stale embedded again), not
        rebuilt from this copy of the records."""
        if self.server:
            return self.update(records, progress=progress)
        with self.writing():
            live = self.parts.directory
            staging = live.with_name(live.name + ".repair")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            fresh = self.parts.elsewhere(staging)
            with contextlib.suppress(OSError):  # keep a good query encoder: no need to export it again
                if self.parts.encoders.exported() is not None:
                    shutil.copytree(self.parts.encoders.directory, fresh.encoders.directory)
            report = IndexBuilder(self.store, fresh, contextlib.nullcontext).update(
                records, rebuild=True, progress=progress
            )
            self.parts.vectors.forget()
            forget_clients()
            old = live.with_name(f"{live.name}.old-{uuid.uuid4().hex[:8]}")
            if live.exists():
                live.rename(old)
            staging.rename(live)
            shutil.rmtree(old, ignore_errors=True)
        return report


def full_vectors(encoder: Embedder | None, windows: Sequence[Window]) -> Any:
    """The vectors of full-text windows: the prose of the body embedded, the rest left at zero (see
    `litkb.fulltext.windows.embeds`). A reference list is other papers' titles and authors, a table
    numbers and names: their keywords find them (BM25 keeps every window), while their vectors cost a
    quarter of the model's time on the development PDFs (17% the references, 10% tables, contents
    and code) and seldom decided a paper's rank (scripts/bench_fulltext.py)."""
    import numpy as np

    if encoder is None or not windows:
        return []
    body = [i for i, w in enumerate(windows) if embeds(w)]
    vectors = np.zeros((len(windows), encoder.dim), dtype=np.float32)
    if body:
        vectors[body] = encoder.encode([windows[i].text for i in body], batch_size=encoder.batch_size)
    return vectors
