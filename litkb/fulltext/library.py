"""The PDFs a library kept in another program (Zotero) lists for its items, attached to their records.

By reference by default: the entry keeps the absolute path of Zotero's file (`linked: true`) and nothing is
copied; with `copy` the file is copied into `files/<paper-id>/` as `litkb attach` does. No text is
extracted here (the next `litkb index` does it, see `missing.py`), so importing a library stays fast.

Each entry the library gave carries the attachment's key (`zotero`), the size and modification time of
Zotero's file when it was hashed (`mtime_ns`) and, for a copy, that file's path (`original`): a re-import
hashes again only a file whose size or time changed. An entry the library no longer gives (the PDF removed
in Zotero, or gone from disk) is taken off; files the owner attached themselves stay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LitkbError
from ..models import Paper
from .files import copy_in, delete_unused, remove_copies
from .pages import load_text
from .reading import digest

KEY = "zotero"  # the field of an entry (and of `extra`) naming the library's attachment
HASHERS = 4  # files hashed at once (reading is most of it)


@dataclass(frozen=True)
class Given:
    """A PDF the library lists for an item: its attachment key, where it is, and whether Zotero links it."""

    key: str
    path: str
    linked: bool


def given_pdfs(paper: Paper) -> list[Given]:
    """The PDFs the library lists for a paper that were on disk when it was read."""
    info = paper.extra.get(KEY)
    pdfs = info.get("pdfs") if isinstance(info, dict) else None
    return [
        Given(str(pdf.get("key") or pdf["path"]), str(pdf["path"]), bool(pdf.get("linked")))
        for pdf in pdfs or []
        if isinstance(pdf, dict) and pdf.get("path") and not pdf.get("missing")
    ]


def from_library(entry: dict[str, Any]) -> bool:
    """Whether a `files:` entry is one the library gave (not one the owner attached)."""
    return bool(entry.get(KEY))


def refused(paper: Paper) -> set[str]:
    """The keys of the library's PDFs the owner detached from a paper (`extra.zotero.detached`)."""
    info = paper.extra.get(KEY)
    return {str(k) for k in info.get("detached", [])} if isinstance(info, dict) else set()


def refuse(extra: dict[str, Any], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A record's `extra` remembering that the library entries among `entries` were detached by the owner
    (so that the next import does not attach them again)."""
    keys = [str(e[KEY]) for e in entries if from_library(e)]
    info = extra.get(KEY)
    if not keys or not isinstance(info, dict):
        return extra
    detached = sorted({*info.get("detached", []), *keys})
    return {**extra, KEY: {**info, "detached": detached}}


def _original(entry: dict[str, Any]) -> str:
    return str(entry.get("original") or entry["path"])


@dataclass
class _State:
    sha256: str
    size: int
    mtime_ns: int


@dataclass
class LibraryFiles:
    """Keeps the library-given entries of records in step with the files the library lists."""

    root: Path
    copy: bool = False
    states: dict[str, _State] = field(default_factory=dict)  # Zotero's path -> its digest now
    problems: list[str] = field(default_factory=list)
    created: list[Path] = field(default_factory=list)  # copies made now (removed if the write fails)
    dropped: list[dict[str, Any]] = field(default_factory=list)  # entries taken off records
    hashed: int = 0  # files read to their end now (the others' size and time were unchanged)
    attached: int = 0  # entries added now
    taken_off: int = 0  # entries taken off, the library no longer listing their file

    def prepare(self, papers: Iterable[Paper], records: Callable[[], Iterable[Paper]]) -> None:
        """The digest of every PDF the library's `papers` list: from the entry the `records` hold for it
        when its size and modification time are unchanged, else read (several at once). Done before the
        write lock is taken; a file that cannot be read is a problem line, and is not attached."""
        wanted = {g.path for paper in papers if paper.extra.get(KEY) for g in given_pdfs(paper)}
        if not wanted:
            return
        known = {
            _original(f): f
            for record in records()
            for f in record.files
            if from_library(f) and "mtime_ns" in f
        }
        todo: list[tuple[str, int, int]] = []
        for path in sorted(wanted):
            try:
                stat = os.stat(path)
            except OSError as exc:
                self.problems.append(f"{path}: cannot be read ({exc.strerror or exc}); not attached")
                continue
            entry = known.get(path)
            if entry is not None and (entry.get("size"), entry.get("mtime_ns")) == (
                stat.st_size,
                stat.st_mtime_ns,
            ):
                self.states[path] = _State(str(entry["sha256"]), stat.st_size, stat.st_mtime_ns)
            else:
                todo.append((path, stat.st_size, stat.st_mtime_ns))
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=min(HASHERS, len(todo))) as pool:
            for (path, _size, mtime), result in zip(
                todo, pool.map(_digest, [t[0] for t in todo]), strict=True
            ):
                if isinstance(result, str):
                    self.problems.append(f"{path}: cannot be read ({result}); not attached")
                    continue
                self.states[path] = _State(result[0], result[1], mtime)
                self.hashed += 1

    def entries(
        self,
        paper_id: str,
        files: Sequence[dict[str, Any]],
        incoming: Paper,
        refused: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """A record's `files` with the library's PDFs for it as `incoming` lists them now: the owner's own
        entries as they are (and in their place), the library's replaced, added or taken off; those the
        owner detached (their keys `refused`) left off."""
        skip = set(refused)
        given = {g.key: g for g in given_pdfs(incoming) if g.key not in skip}
        held = {str(f.get("sha256")) for f in files if not from_library(f)}
        out: list[dict[str, Any]] = []
        done: set[str] = set()
        for entry in files:
            if not from_library(entry):
                out.append(entry)
                continue
            key = str(entry[KEY])
            new = self._entry(paper_id, given[key], entry, held) if key in given and key not in done else None
            done.add(key)
            if new is None or new is not entry:
                self.dropped.append(entry)
            self.taken_off += new is None
            if new is not None:
                out.append(new)
                held.add(str(new["sha256"]))
        for key, pdf in given.items():
            if key not in done and (new := self._entry(paper_id, pdf, None, held)) is not None:
                out.append(new)
                self.attached += 1
                held.add(str(new["sha256"]))
        return out

    def _entry(
        self, paper_id: str, pdf: Given, old: dict[str, Any] | None, held: set[str]
    ) -> dict[str, Any] | None:
        state = self.states.get(pdf.path)
        if state is None or state.sha256 in held:
            return None  # unreadable (said), or the same file attached already
        copied = self.copy or (old is not None and not old.get("linked"))  # a copy stays a copy
        same = old is not None and old["sha256"] == state.sha256 and _original(old) == pdf.path
        if old is not None and same and bool(old.get("linked")) != copied:
            if (old.get("size"), old.get("mtime_ns")) == (state.size, state.mtime_ns):
                return old
            return {**old, "size": state.size, "mtime_ns": state.mtime_ns}  # touched, not changed
        entry: dict[str, Any] = {"path": pdf.path, "sha256": state.sha256, "size": state.size}
        if copied:
            try:
                path, made = copy_in(self.root, paper_id, Path(pdf.path), state.sha256)
            except LitkbError as exc:
                self.problems.append(str(exc))
                return old
            if made:
                self.created.append(self.root / path)
            entry = {"path": path, "sha256": state.sha256, "size": state.size, "original": pdf.path}
        cached = load_text(self.root, state.sha256)
        if cached is not None and cached.status == "ok":
            entry["pages"] = cached.page_count
            entry["extractor"] = cached.extractor
        if not copied:
            entry["linked"] = True
        entry[KEY] = pdf.key
        entry["mtime_ns"] = state.mtime_ns
        return entry

    def drop(self, files: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`files` without the library's entries (a record that no longer stands for a library item)."""
        gone = [f for f in files if from_library(f)]
        self.dropped += gone
        self.taken_off += len(gone)
        return [f for f in files if not from_library(f)]

    def summary(self) -> str | None:
        """What was done to the files, in a line (None: nothing)."""
        if not (self.attached or self.taken_off):
            return None
        how = "copied into files/" if self.copy else "by reference, nothing copied"
        parts = [
            f"{self.attached} PDF(s) attached ({how}; their text is extracted by the next `litkb index`)"
        ]
        if self.taken_off:
            parts.append(f"{self.taken_off} taken off (no longer in the library)")
        return ", ".join(parts)

    def undo(self) -> None:
        """Remove the copies made now (their records could not be written)."""
        remove_copies(self.created)

    def tidy(self, papers: Iterable[Paper]) -> list[str]:
        """Delete the copies of entries taken off that none of `papers` (the records now) names."""
        return delete_unused(self.root, self.dropped, papers) if self.dropped else []


def _digest(path: str) -> tuple[str, int] | str:
    try:
        return digest(Path(path))
    except OSError as exc:
        return exc.strerror or str(exc)
