"""Zotero's own database (`zotero.sqlite`, or the data folder that holds it), read without changing it.

`litkb ingest ~/Zotero/zotero.sqlite` (or `litkb ingest --format zotero ~/Zotero`) reads every regular
item of the user's library and of the group libraries synced to this computer, outside the trash; with
`--collection "A/B"` only the items of that collection and its subcollections. Notes, attachments and
annotations are not papers of their own: notes and annotations go into their item's notes, PDFs are listed
with their item (`extra.zotero.pdfs`). Standalone notes and files, items without a title, and PDFs missing
on disk are reported. Keeping records in step with the library (what changed, what was trashed) is
`litkb.sync`'s work; this module only reads.

A paper's `citation_key` is, first found: Zotero's `citationKey` field (Zotero 7 has it for preprints,
datasets and standards, Zotero 8 for every item type), a `Citation Key:` line of extra (Better BibTeX's
pinned keys), or Better BibTeX's own database beside zotero.sqlite (`bbt.py`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError, UsageError
from .. import LibraryState, ParseOptions, Parser, ParseResult, register
from .bbt import read_keys
from .database import TESTED, Tables, looks_like_sqlite, read_tables
from .files import base_directory
from .items import FORMAT, build, collection_paths

DATABASE = "zotero.sqlite"
SHOWN = 5  # missing files and standalone notes named in a warning; the rest counted


def detect(text: str, filename: str) -> float:
    return 0.0  # a database is not text: `detect_path` finds it


def parse(text: str, options: ParseOptions) -> ParseResult:
    """Text is never a Zotero database: no paper, and a warning saying what to give instead."""
    name = options.source_name
    return ParseResult(warnings=[f"{name}: the zotero format reads zotero.sqlite or its folder, not text"])


def detect_path(path: Path) -> float:
    """1 for a Zotero data folder (it holds zotero.sqlite), 0.9 for a SQLite file (any other one gets an
    error saying it is not a Zotero database), else 0."""
    if path.is_dir():
        return 1.0 if (path / DATABASE).is_file() else 0.0
    return 0.9 if path.is_file() and looks_like_sqlite(path) else 0.0


def database_path(path: Path) -> Path:
    """The zotero.sqlite a path names (itself, or the one in the data folder it names)."""
    if path.is_dir():
        found = path / DATABASE
        if not found.is_file():
            raise InputError(
                f"{path}: a folder without {DATABASE}; give Zotero's data folder or its {DATABASE}"
            )
        return found
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not looks_like_sqlite(path):
        raise InputError(f"{path}: not a SQLite database (Zotero's library is the file {DATABASE})")
    return path


def read(path: Path, options: ParseOptions) -> ParseResult:
    """The papers of the Zotero database at `path` (the file or its data folder)."""
    database = database_path(path)
    tables = read_tables(database)
    result = ParseResult()
    if tables.userdata is not None and tables.userdata > TESTED[1]:
        result.warnings.append(
            f"{database}: Zotero schema {tables.userdata} is newer than litkb was tested with "
            f"({TESTED[0]}-{TESTED[1]}); read all the same"
        )
    selected = _selection(tables, options.collection, database) if options.collection else None
    cite_keys, problem = read_keys(database.parent)
    if problem:
        result.warnings.append(problem)
    base, _ = base_directory(database.parent)
    built = build(tables, Path(options.source_file).name, cite_keys, base, selected)
    result.papers = built.papers
    result.warnings += built.warnings
    name = database.name
    if built.untitled:
        result.skipped += len(built.untitled)
        result.warnings.append(f"{name}: skipped {_some(built.untitled)}: no title")
    if built.missing:
        result.warnings.append(
            f"{name}: {len(built.missing)} PDF(s) Zotero lists are not on disk, so not attached: "
            + _some(built.missing)
        )
    lines = []
    if built.trashed:
        lines.append(f"{built.trashed} item(s) in Zotero's trash skipped")
    if built.standalone_notes:
        lines.append(
            f"{len(built.standalone_notes)} standalone note(s) not imported ({_some(built.standalone_notes)})"
        )
    if built.standalone_files:
        lines.append(
            f"{len(built.standalone_files)} PDF(s) without a parent item not imported; "
            f"ingest them as PDFs ({_some(built.standalone_files)})"
        )
    result.library = LibraryState(
        format=FORMAT,
        account=tables.account,
        libraries=set(tables.libraries.values()),
        live=built.live,
        lines=lines,
    )
    return result


def _some(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _selection(tables: Tables, wanted: str, database: Path) -> set[int]:
    """The ids of the collection named `wanted` (its path, `Thesis/Related work`, or its key) and of
    its subcollections."""
    paths = collection_paths(tables)
    target = wanted.strip().strip("/")
    found = [cid for cid, text in paths.items() if text == target or tables.collections[cid][3] == target]
    if not found:
        found = [cid for cid, text in paths.items() if text.casefold() == target.casefold()]
    if not found:
        known = sorted(paths.values())
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "") if known else "none"
        raise UsageError(f"--collection {wanted}: no such collection in {database} (collections: {shown})")
    chosen = set(found)
    changed = True
    while changed:
        changed = False
        for cid, (_, parent, _, _) in tables.collections.items():
            if cid in paths and parent in chosen and cid not in chosen:
                chosen.add(cid)
                changed = True
    return chosen


register(Parser(FORMAT, "Zotero database", detect, parse, detect_path, read))
