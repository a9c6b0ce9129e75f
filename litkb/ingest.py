"""Ingesting: input files parsed into papers (every file read before anything is written), then matched
against the records (the same paper is updated, a new one gets a record)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, RecordError, UsageError
from .fulltext.library import LibraryFiles
from .identity import Catalog, merge
from .models import Paper, drop_control_characters, make_id
from .parsers import LibraryState, ParseOptions, detect_parser, get_parser, path_parser, read_input
from .store import RecordStore
from .sync import LibrarySync, changed_counts, identity, summary
from .text import lone_surrogate
from .wording import shorten


@dataclass
class IngestReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)  # field -> how many updated records it changed in
    assumed: list[str] = field(default_factory=list)  # what the parsers assumed (a year, the columns read)
    # Files that gave no paper while others did (each one line, naming the file): the others' papers are
    # written, and the command fails.
    failed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # ids of records removed (their library dropped them)
    library: list[str] = field(default_factory=list)  # what keeping in step with a library did, a line each

    def summary(self) -> str:
        text = (
            f"imported {self.imported}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}"
        )
        if self.removed:
            text += f", removed {len(self.removed)}"
        if self.changed:
            text += " (changed: " + ", ".join(f"{name} in {n}" for name, n in self.changed.items()) + ")"
        return "; ".join([text, *self.assumed, *self.library])


def parse_inputs(
    paths: Sequence[str],
    report: IngestReport,
    format: str | None = None,
    year: int | None = None,
    stdin: Callable[[], bytes] | None = None,
    encoding: str | None = None,
    collection: str | None = None,
    libraries: list[LibraryState] | None = None,
) -> list[Paper]:
    """Every paper the files give. A file that cannot be read or holds no paper is named in
    `report.failed` when other files gave papers; when nothing gave a paper it is an error. A library read
    whole (a Zotero database) is described in `libraries`, for `save_parsed` to keep its records in step."""
    if not paths:
        raise InputError("no input file given; e.g. `litkb ingest data/hf-daily-papers-2025-11-18.txt`")
    parsed: list[Paper] = []
    failures: list[InputError] = []
    for path in paths:
        try:
            parser = path_parser(path, format)
            if parser is not None and parser.read is not None:  # a database or a folder, not text
                name = path
                result = parser.read(Path(path), ParseOptions(path, year, collection))
            else:
                name, text, warnings = read_input(path, stdin, encoding)
                parser = get_parser(format) if format else detect_parser(text, name)
                report.warnings.extend(warnings)
                result = parser.parse(text, ParseOptions(source_name=name, year=year))
        except InputError as exc:
            failures.append(exc)
            continue
        if result.library is not None and libraries is not None:
            libraries.append(result.library)
        elif collection is not None:
            raise UsageError(f"--collection reads a Zotero library; {path} is a {parser.description} file")
        report.warnings.extend(result.warnings)
        report.assumed.extend(result.assumed)
        report.skipped += result.skipped
        valid = []
        for paper in result.papers:  # a parser's output must be a record that loads back
            drop_control_characters(paper)
            if (bad := lone_surrogate(paper.to_dict())) is not None:
                title = paper.title[:60].encode("utf-8", "backslashreplace").decode()
                report.warnings.append(
                    f"{name}: skipped '{title}': its text is not valid Unicode (a lone surrogate "
                    f"\\u{ord(bad):04x})"
                )
                report.skipped += 1
                continue
            if identity(paper) is not None:  # checked by `litkb.sync` when it is written (most are not)
                valid.append(paper)
                continue
            try:
                Paper.from_dict({**paper.to_dict(), "id": make_id(paper.title)}, name)
                valid.append(paper)
            except RecordError as exc:
                report.warnings.append(f"skipped '{shorten(paper.title)}': {exc}")
                report.skipped += 1
        result.papers = valid
        if not result.papers:
            failures.append(
                InputError(result.problem or f"{name}: no paper found in it (read as {parser.name})")
            )
        parsed.extend(result.papers)
    if not parsed:
        # Nothing could be read: an error, and nothing is written.
        first = failures[0] if failures else InputError("no paper found in the input")
        raise InputError(f"{first}; nothing was written") from None
    report.failed.extend(f"{failure}; the other files were read" for failure in failures)
    return parsed


def save_parsed(
    store: RecordStore,
    parsed: Sequence[Paper],
    report: IngestReport,
    libraries: Sequence[LibraryState] = (),
    files: LibraryFiles | None = None,
) -> None:
    """Match the papers against the records and write what is new or changed (the caller holds the
    write lock); records of the `libraries` read whole are kept in step with them (`litkb.sync`), their
    PDFs attached by `files` (prepared before the lock was taken)."""
    existing, problems = store.load_all()
    report.warnings.extend(problems)
    catalog = Catalog(existing)
    changed: dict[str, Paper] = {}
    imported: set[str] = set()  # ids of the records this run created
    counted: dict[str, set[str]] = {}  # id -> the fields already counted as changed in it
    keeper = LibrarySync(catalog, store.exists, files)
    for paper in parsed:
        if identity(paper) is not None:
            keeper.save(paper, changed)
            continue
        match = catalog.match(paper)
        if match is None:
            paper.id = catalog.new_id(paper)
            if store.exists(paper.id):  # there, but unreadable: never overwrite it
                report.warnings.append(
                    f"{store.path_for(paper.id)}: cannot be read, so '{shorten(paper.title)}' "
                    "was not updated; fix or remove that file"
                )
                report.skipped += 1
                continue
            catalog.put(paper)
            changed[paper.id] = paper
            imported.add(paper.id)
            report.imported += 1
            continue
        merged = merge(match, paper)
        before, after = match.to_dict(), merged.to_dict()
        if before == after:
            if match.id not in changed:
                report.unchanged += 1
            continue
        if match.id not in imported:  # the summary's changes are those of the records already there
            if match.id not in changed:
                report.updated += 1
            seen = counted.setdefault(match.id, set())
            for name in _changed_fields(before, after):
                if name not in seen:
                    seen.add(name)
                    report.changed[name] = report.changed.get(name, 0) + 1
        catalog.put(merged)
        changed[merged.id] = merged
    removed = [pid for state in libraries for pid in keeper.gone(state, changed)]
    outcome = keeper.outcome
    report.imported += outcome.imported
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    report.skipped += len(outcome.unreadable)
    report.warnings += outcome.unreadable
    for name, count in changed_counts(outcome).items():
        report.changed[name] = report.changed.get(name, 0) + count
    report.library += summary(outcome, libraries)
    if files is not None:
        report.warnings += files.problems
        report.library += [line] if (line := files.summary()) else []
    try:
        store.save_many(changed.values())
    except BaseException:
        if files is not None:
            files.undo()
        raise
    for paper_id in removed:
        store.path_for(paper_id).unlink(missing_ok=True)
    report.removed += removed
    if files is not None:
        files.tidy(p for p in catalog.by_id.values() if p.id not in removed)


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields an update changed, a source's listing date or position named as such."""
    names = [name for name in after if after[name] != before[name] and name != "sources"]
    old = {(s["file"], s["format"]): s for s in before["sources"]}
    for source in after["sources"]:
        previous = old.get((source["file"], source["format"]))
        if previous is None:
            names.append("sources")
            continue
        names += [
            f"{key} of {source['file']}"
            for key in ("listing_date", "position")
            if source[key] != previous[key]
        ]
    return list(dict.fromkeys(names))
