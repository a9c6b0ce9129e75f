"""The text the cache lacks, extracted before `litkb index` builds the index.

The text cache (`.cache/text/<sha256>.json`) is derived: every attached file whose text is not there (a
PDF attached from Zotero, whose text is never read at import; a cache deleted) is read again, in the
worker processes with their limits. A file that cannot be read is one line, and what it failed with is
cached too (status `failed`), so the next run does not spend its time limit on it again; deleting the
cache tries it again. An entry without `pages` gains the page count and the extractor when its text is
read (a record write, under the write lock).

Only the records whose files changed since the last check are looked at (`.cache/text/checked.json` keeps
each record file's key, as the index's own cache does), so a run with little to do reads no record; with
that file gone (the cache deleted) every record is looked at.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KnowledgeBaseBusy
from ..fsutil import atomic_write_text
from ..models import Paper
from ..store import RecordStore
from .extract import extractor_name
from .files import stored_path
from .pages import ExtractedText, save_text, text_path
from .reading import read_files
from .workers import Limits

FAILED = "failed"  # the status of a cached text whose file could not be read
CHECKED = "checked.json"  # in .cache/text/: each record file's key when its files were last looked at


@dataclass
class Extraction:
    """What extracting the missing text did: files read, and a line for each that failed."""

    extracted: int = 0
    failed: list[str] = field(default_factory=list)
    recorded: int = 0  # records whose file entries gained their page count


@dataclass
class _Wanted:
    sha256: str
    path: Path
    papers: list[str]


def wanted(root: Path, papers: list[Paper], extraction: Extraction) -> list[_Wanted]:
    """The files attached to `papers` whose text the cache lacks, one per digest (a file that is not
    where its entry says is a failed line)."""
    out: dict[str, _Wanted] = {}
    gone: dict[str, tuple[str, Path]] = {}
    for paper in papers:
        for entry in paper.files:
            sha = str(entry.get("sha256") or "")
            if not sha or text_path(root, sha).is_file():
                continue
            if sha in out:
                out[sha].papers.append(paper.id)
                continue
            path = stored_path(root, entry)
            if path.is_file():
                out[sha] = _Wanted(sha, path, [paper.id])
                gone.pop(sha, None)
            else:
                gone.setdefault(sha, (paper.id, path))
    for sha, (paper_id, path) in gone.items():
        if sha not in out:
            extraction.failed.append(
                f"{path}: missing, so the text of {paper_id}'s file cannot be read; attach it again "
                f"or `litkb detach {paper_id}`"
            )
    return list(out.values())


def _checked_path(root: Path) -> Path:
    return text_path(root, "x").parent / CHECKED


def _checked(root: Path) -> dict[str, Any]:
    try:
        data = json.loads(_checked_path(root).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def extract_missing(
    root: Path,
    store: RecordStore,
    writing: Callable[[], AbstractContextManager[None]],
    papers_of: Callable[[Sequence[str]], list[Paper]],
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
    keys: dict[str, list[int]] | None = None,
) -> Extraction:
    """Read into the cache the text of every attached file the cache lacks, of the records whose files
    changed since the last check (`papers_of` gives the records of ids; `keys` the record files' keys,
    when already listed: 0.13 s for 20,000 records); see the module's text."""
    extraction = Extraction()
    keys = store.file_keys() if keys is None else keys
    seen = _checked(root)
    papers = papers_of([pid for pid, key in keys.items() if seen.get(pid) != key])
    todo = wanted(root, papers, extraction)
    if todo:
        _extract(root, store, writing, papers, todo, extraction, limits, progress)
    if seen != keys:
        path = _checked_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(keys))
    return extraction


def _extract(
    root: Path,
    store: RecordStore,
    writing: Callable[[], AbstractContextManager[None]],
    papers: list[Paper],
    todo: list[_Wanted],
    extraction: Extraction,
    limits: Limits | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    read = read_files(root, [w.path for w in todo], limits, progress)
    pages: dict[str, ExtractedText] = {}
    for want, item in zip(todo, read, strict=True):
        whose = ", ".join(want.papers[:3]) + (" ..." if len(want.papers) > 3 else "")
        if item.problem is not None or item.text is None:
            extraction.failed.append(f"{want.path} ({whose}): {item.problem}; its text is not searchable")
            if item.sha256 == want.sha256:
                save_text(root, _failure(want.sha256, str(item.problem)))
        elif item.sha256 != want.sha256:
            extraction.failed.append(
                f"{want.path} ({whose}): changed since it was attached, so its text is not searchable; "
                "attach it again (a Zotero PDF: ingest the Zotero library again)"
            )
        else:
            extraction.extracted += 1
            pages[want.sha256] = item.text
    if pages:
        _record_pages(store, writing, papers, pages, extraction)


def _failure(sha256: str, problem: str) -> ExtractedText:
    return ExtractedText(sha256, extractor_name(), [], status=FAILED, meta={"problem": problem})


def _record_pages(
    store: RecordStore,
    writing: Callable[[], AbstractContextManager[None]],
    papers: list[Paper],
    texts: dict[str, ExtractedText],
    extraction: Extraction,
) -> None:
    """Give the entries of the files just read that have no page count theirs (and the extractor)."""
    ids = [p.id for p in papers if any("pages" not in f and f.get("sha256") in texts for f in p.files)]
    if not ids:
        return
    try:
        with writing():
            changed = []
            for paper_id in ids:
                if not store.exists(paper_id):
                    continue
                paper = store.load(paper_id)  # as it is now
                files = [_counted(f, texts) for f in paper.files]
                if files != paper.files:
                    changed.append(dataclasses.replace(paper, files=files))
            store.save_many(changed)
            extraction.recorded = len(changed)
    except KnowledgeBaseBusy as exc:
        extraction.failed.append(f"{exc}; the page counts of the files read are written at the next index")


def _counted(entry: dict[str, Any], texts: dict[str, ExtractedText]) -> dict[str, Any]:
    text = texts.get(str(entry.get("sha256")))
    if text is None or "pages" in entry:
        return entry
    return {**entry, "pages": text.page_count, "extractor": text.extractor}
