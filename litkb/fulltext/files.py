"""Attached files on disk: copied into the knowledge base (`files/<paper-id>/<name>.pdf`) or linked (the
absolute path kept), and the record's `files:` entries that describe them.

A file is known by its sha256: the same file twice is one attachment, and a stored file that several
records name (a merged duplicate, the same PDF attached twice) is deleted only when none names it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import LitkbError, NotFoundError
from ..fsutil import TEMP_SUFFIX
from ..models import Paper
from .reading import digest

FILES_DIR = "files"
MAX_NAME = 80


def safe_name(name: str) -> str:
    """A file name that is safe on every platform: letters, digits, `.`, `-`, `_`; ending in .pdf."""
    stem = Path(name).stem if name.lower().endswith(".pdf") else Path(name).name
    stem = re.sub(r"[^\w.-]+", "-", stem, flags=re.ASCII).strip(".-_")[:MAX_NAME] or "paper"
    return f"{stem}.pdf"


def stored_path(root: Path, entry: dict[str, Any]) -> Path:
    """Where an entry's file is: under the knowledge base for a copy, the path itself for a link."""
    path = Path(str(entry["path"]))
    return path if path.is_absolute() else root / path


def remove_copies(paths: Iterable[Path]) -> None:
    """Remove files copied in by a change that could not be saved, and their folders left empty."""
    for path in paths:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def copy_in(
    root: Path, paper_id: str, source: Path, sha256: str, name: str | None = None
) -> tuple[str, bool]:
    """Copy `source` to `files/<paper_id>/<name>.pdf` (atomically: a reader never sees half a file).
    The path relative to `root`, and whether a file was written (False: that file was there already)."""
    folder = root / FILES_DIR / paper_id
    folder.mkdir(parents=True, exist_ok=True)
    base = safe_name(name or source.name)
    target = folder / base
    counter = 1
    while target.exists():
        if digest(target)[0] == sha256:
            return target.relative_to(root).as_posix(), False
        counter += 1
        target = folder / f"{Path(base).stem}-{counter}.pdf"
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as handle:
            shutil.copyfileobj(handle, out, 2**20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise LitkbError(
            f"cannot copy {source} into {folder}: {exc.strerror or exc}; nothing was attached"
        ) from exc
    return target.relative_to(root).as_posix(), True


def make_entry(path: str, sha256: str, size: int, pages: int, extractor: str, linked: bool) -> dict[str, Any]:
    """A `files:` entry (`linked` only for a linked file)."""
    entry: dict[str, Any] = {
        "path": path,
        "sha256": sha256,
        "size": size,
        "pages": pages,
        "extractor": extractor,
    }
    if linked:
        entry["linked"] = True
    return entry


def holder(papers: Iterable[Paper], sha256: str) -> Paper | None:
    """The first paper that has this file attached."""
    return next((p for p in papers if any(f.get("sha256") == sha256 for f in p.files)), None)


def choose(paper: Paper, which: str | None) -> list[dict[str, Any]]:
    """The entries of a paper's files that `which` names (its file name, its path, the start of its
    sha256, or its number from 1); all of them when `which` is None."""
    if not paper.files:
        raise NotFoundError(
            f"{paper.id} has no file attached; attach one with `litkb attach {paper.id} FILE.pdf`"
        )
    if which is None:
        return list(paper.files)
    if which.isdigit() and 1 <= int(which) <= len(paper.files):
        return [paper.files[int(which) - 1]]
    found = [
        f
        for f in paper.files
        if which in (str(f["path"]), Path(str(f["path"])).name) or str(f["sha256"]).startswith(which.lower())
    ]
    if not found:
        names = ", ".join(Path(str(f["path"])).name for f in paper.files)
        raise NotFoundError(f"{paper.id} has no file '{which}'; its files: {names}")
    return found


def delete_unused(root: Path, entries: Sequence[dict[str, Any]], papers: Iterable[Paper]) -> list[str]:
    """Delete the copied files of `entries` that none of `papers` names any more (linked files are the
    owner's and never deleted); their folder goes when it is empty. The paths deleted."""
    named = {str(f.get("path")) for p in papers for f in p.files}
    deleted = []
    for entry in entries:
        path = str(entry["path"])
        if entry.get("linked") or Path(path).is_absolute() or path in named:
            continue
        target = root / path
        if not target.resolve().is_relative_to((root / FILES_DIR).resolve()):
            continue  # an entry edited by hand to point elsewhere: not ours to delete
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            deleted.append(path)
        with contextlib.suppress(OSError):
            target.parent.rmdir()  # only when empty
    return deleted
