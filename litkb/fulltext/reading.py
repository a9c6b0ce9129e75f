"""Files read into the text cache: digest, cached text or extraction in workers, identification.

What a file gives is kept in the knowledge base's text cache (`.cache/text/<sha256>.json`, see
`pages.py`), with what identifies it under `meta`, so the same file is never extracted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import check_can_hold
from .extract import RawPdf, extractor_name
from .identify import VERSION as IDENTIFY_VERSION
from .identify import Identified, identify
from .pages import ExtractedText, load_text, save_text
from .workers import Limits, extract_files

CHUNK = 2**20


@dataclass
class ReadFile:
    """One file as read: its digest and size, its text (None when it could not be read), what identifies
    it, and what went wrong (None: nothing)."""

    path: Path
    sha256: str = ""
    size: int = 0
    text: ExtractedText | None = None
    identified: Identified = field(default_factory=Identified)
    problem: str | None = None  # the file could not be read at all (nothing can be attached)
    notes: list[str] = field(default_factory=list)  # what the caller should say (a scan, pages left out)

    @property
    def pages(self) -> int:
        return self.text.page_count if self.text else 0


def digest(path: Path) -> tuple[str, int]:
    """The file's sha256 (hex) and size."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def to_text(raw: RawPdf, sha256: str, identified: Identified) -> ExtractedText:
    """What the cache keeps of a read file."""
    return ExtractedText(
        sha256=sha256,
        extractor=extractor_name(),
        pages=raw.pages,
        references_start=raw.references_start,
        status="ok" if raw.problem is None else "no-text",
        meta={
            "page_count": raw.page_count,
            "problem": raw.problem,
            "identified": identified.to_dict(),
            "identify_version": IDENTIFY_VERSION,
            "metadata": raw.metadata,
        },
    )


def _notes(text: ExtractedText) -> list[str]:
    notes = []
    if text.meta.get("problem"):
        notes.append(str(text.meta["problem"]))
    count = text.page_count
    if count > len(text.pages):
        notes.append(f"{count:,} pages: only the first {len(text.pages):,} are searchable")
    return notes


def read_files(
    root: Path,
    paths: Sequence[Path],
    limits: Limits | None = None,
    done: Callable[[int, int], None] | None = None,
) -> list[ReadFile]:
    """Each file's text and identity, from the cache of the knowledge base at `root` where it holds them,
    else extracted in worker processes (and cached). In the order given. A folder that is not a knowledge
    base and cannot become one gets nothing written into it (the error says so)."""
    check_can_hold(root)
    out: list[ReadFile] = []
    todo: dict[str, list[ReadFile]] = {}  # digest -> the files with it (the same file named twice)
    for path in paths:
        item = ReadFile(path=path)
        out.append(item)
        try:
            if path.is_dir():
                item.problem = "is a folder (add --recursive to read the PDFs in it)"
                continue
            if not path.is_file():
                item.problem = "not a regular file" if path.exists() else "no such file"
                continue
            item.sha256, item.size = digest(path)
        except OSError as exc:
            item.problem = f"cannot be read ({exc.strerror or exc})"
            continue
        cached = load_text(root, item.sha256)
        if cached is not None and cached.extractor == extractor_name() and _current(cached):
            _found(item, cached)
        else:
            todo.setdefault(item.sha256, []).append(item)
    first = {same[0].path: same for same in todo.values()}
    for path, result in extract_files(list(first), limits, done=done):
        for item in first[path]:
            if isinstance(result, str):
                item.problem = result
                continue
            text = to_text(result, item.sha256, identify(result, path.name))
            save_text(root, text)
            _found(item, text)
    return out


def _current(text: ExtractedText) -> bool:
    """Whether a cached text's identification is this version's (else the file is read again)."""
    return "identified" in text.meta and text.meta.get("identify_version") == IDENTIFY_VERSION


def _found(item: ReadFile, text: ExtractedText) -> None:
    item.text = text
    item.identified = Identified.from_dict(text.meta.get("identified"))
    item.notes = _notes(text)
