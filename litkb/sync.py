"""Keeping records in step with a library the user keeps in another program (Zotero).

A paper from such a library carries its identity there in `extra.zotero` (`library`: `user` or
`group/<id>`, and the item `key`); two keys are two papers. On import each paper is matched first by that
identity, then as any input is (DOI, arXiv id, title: `litkb.identity`), never to a record that already
stands for another item of the library; a record matched that way lists both sources.

Each record remembers a digest of what the library last gave it (`extra.zotero.digest`): a paper whose
digest is unchanged is not touched (so a second import of an unchanged library writes nothing). A changed
one is updated: a record that came from the library alone takes the library's fields as they now are (a
value deleted there is deleted here); one that other inputs also gave is merged as any input is. Either
way the owner's own tags (those the library did not give: `extra.zotero.tags` remembers which it did),
their notes outside the library's block, reading status and rating stay.

An item that is gone from the library (deleted, or in its trash) removes its record only when the record
came from the library alone; a record that other inputs also gave loses the library's source and
identity and stays. Only records of the same database (`extra.zotero.account`) and of the libraries it
holds are considered, so two Zotero databases can feed one knowledge base.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import RecordError
from .fulltext.library import LibraryFiles, given_pdfs, refused
from .identity import INPUT_FIELDS, Catalog, merge
from .models import Paper, replace_zotero_notes
from .parsers import LibraryState

KEY = "zotero"  # the field of `extra` that holds a paper's identity in the library


def identity(paper: Paper) -> tuple[str, str] | None:
    """(library, key) of the library item a paper stands for, or None."""
    info = paper.extra.get(KEY)
    if isinstance(info, dict) and info.get("library") and info.get("key"):
        return str(info["library"]), str(info["key"])
    return None


def digest(paper: Paper) -> str:
    """What the library gave for a paper, hashed (every field as the parser made it, in its order; the
    parser builds them the same way each time)."""
    return hashlib.sha256(repr(paper.to_row()).encode()).hexdigest()[:24]


@dataclass
class Outcome:
    """What keeping in step did: records added, updated (and which fields changed), left as they were,
    removed (their ids) and kept without the library's source."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_fields: list[list[str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    removed_titles: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # papers not saved (invalid, or an unreadable file)


class LibrarySync:
    """Matches and merges the papers of libraries into the records of a catalog."""

    def __init__(
        self, catalog: Catalog, exists: Callable[[str], bool], files: LibraryFiles | None = None
    ) -> None:
        self.catalog = catalog
        self.exists = exists  # whether a record file is there (one the catalog lacks cannot be read)
        self.files = files  # the library's PDFs attached to the records (None: left as they are)
        self.by_identity: dict[tuple[str, str], str] = {}
        for paper in catalog.by_id.values():
            if (ident := identity(paper)) is not None:
                self.by_identity.setdefault(ident, paper.id)
        self.outcome = Outcome()

    def save(self, paper: Paper, changed: dict[str, Paper]) -> Paper | None:
        """Put one library paper into the catalog (and `changed` when it is new or different); the paper
        as saved, or None when its record was already as the library has it."""
        ident = identity(paper)
        assert ident is not None
        given = digest(paper)
        record_id = self.by_identity.get(ident)
        record = self.catalog.by_id.get(record_id) if record_id else None
        if record is None:
            candidate = self.catalog.match(paper)
            if candidate is not None and identity(candidate) is None:
                record = candidate
        if record is None:
            paper.id = self.catalog.new_id(paper)
            if self.exists(paper.id):  # there, but unreadable: never overwrite it
                self.outcome.unreadable.append(
                    f"{paper.id}.yaml cannot be read, so '{paper.title[:60]}' was not saved; fix or remove it"
                )
                return None
            paper.extra[KEY] = {**paper.extra[KEY], "fields": _fields(paper)}
            _remember(paper, paper.tags, given)
            if not self._valid(paper):
                return None
            paper.files = self._files(paper, paper)
            self._put(paper, changed)
            self.outcome.imported += 1
            return paper
        info = record.extra.get(KEY)
        if isinstance(info, dict) and info.get("digest") == given and identity(record) == ident:
            files = self._files(record, paper)
            if files == record.files:
                if record.id not in changed:
                    self.outcome.unchanged += 1
                return None
            # The item as it was, its files changed on disk (or to be copied now).
            if record.id not in changed:
                self.outcome.updated += 1
            self.outcome.changed_fields.append(["files"])
            updated = dataclasses.replace(record, files=files)
            self._put(updated, changed)
            return updated
        updated = _update(record, paper)
        _remember(updated, paper.tags, given)
        updated.files = self._files(record, paper)
        before, after = record.to_dict(), updated.to_dict()
        if before == after:
            self.outcome.unchanged += 1
            return None
        if not self._valid(updated):
            return None
        if record.id not in changed:
            self.outcome.updated += 1
        self.outcome.changed_fields.append(_changes(before, after))
        self._put(updated, changed)
        return updated

    def _files(self, record: Paper, incoming: Paper) -> list[dict[str, Any]]:
        """The record's files with the library's as `incoming` lists them (the record's id, its files and
        the PDFs its owner detached are the record's)."""
        if self.files is None:
            return list(record.files)
        return self.files.entries(record.id, record.files, incoming, refused(record))

    def _valid(self, paper: Paper) -> bool:
        """Whether a paper to be written is a record that loads back (else a warning, and it is skipped)."""
        try:
            Paper.from_dict(paper.to_dict(), paper.sources[0].file if paper.sources else "zotero")
        except RecordError as exc:
            self.outcome.unreadable.append(f"skipped '{paper.title[:60]}': {exc}")
            return False
        return True

    def _put(self, paper: Paper, changed: dict[str, Paper]) -> None:
        self.catalog.put(paper)
        changed[paper.id] = paper
        if (ident := identity(paper)) is not None:
            self.by_identity[ident] = paper.id

    def gone(self, state: LibraryState, changed: dict[str, Paper]) -> list[str]:
        """Records of the library `state` describes whose item is no longer there: the ids to remove
        (records from the library alone); records other inputs also gave lose the library's source and
        go into `changed`."""
        remove: list[str] = []
        for ident, record_id in sorted(self.by_identity.items()):
            record = changed.get(record_id) or self.catalog.by_id.get(record_id)
            if record is None or identity(record) != ident or ident in state.live:
                continue
            info = record.extra.get(KEY) or {}
            if ident[0] not in state.libraries or info.get("account", "") != state.account:
                continue  # another database's item
            others = [s for s in record.sources if s.format != state.format]
            if not others:
                if self.files is not None:
                    self.files.dropped += record.files  # copies of its files no other record names go
                remove.append(record.id)
                self.outcome.removed_titles.append(record.title[:60])
                changed.pop(record.id, None)
                continue
            kept = dataclasses.replace(record, sources=others, extra=dict(record.extra))
            del kept.extra[KEY]
            kept.notes = replace_zotero_notes(record.notes, None)
            if self.files is not None:
                kept.files = self.files.drop(record.files)
            changed[kept.id] = kept
            self.catalog.put(kept)
            self.outcome.detached.append(kept.title[:60])
        for record_id in remove:
            self.by_identity = {k: v for k, v in self.by_identity.items() if v != record_id}
        self.outcome.removed += remove
        return remove


def _remember(paper: Paper, tags: Sequence[str], given: str) -> None:
    info = dict(paper.extra.get(KEY) or {})
    info["tags"] = list(tags)
    info["digest"] = given
    paper.extra[KEY] = info


def _update(record: Paper, incoming: Paper) -> Paper:
    """`record` brought in step with the library's `incoming` version of it."""
    old = record.extra.get(KEY) if isinstance(record.extra.get(KEY), dict) else {}
    from_library = [str(t) for t in (old or {}).get("tags", [])]
    own_tags = [t for t in record.tags if t not in from_library]
    if all(s.format == _format(incoming) for s in record.sources):
        # From the library alone: its fields are the library's as they are now.
        updated = dataclasses.replace(
            record,
            **{name: copy.deepcopy(getattr(incoming, name)) for name in INPUT_FIELDS},
            sources=list(incoming.sources),
        )
        old_keys = set((old or {}).get("fields", []))
        updated.extra = {k: v for k, v in record.extra.items() if k not in old_keys}
        updated.extra.update(copy.deepcopy(incoming.extra))
    else:
        updated = merge(record, incoming)
        for name, value in incoming.extra.items():
            if name == KEY or name in (old or {}).get("fields", []):
                updated.extra[name] = copy.deepcopy(value)
    updated.extra[KEY] = {**copy.deepcopy(incoming.extra[KEY]), "fields": _fields(incoming)}
    if (old or {}).get("detached"):  # the library's PDFs the owner detached: they stay off
        updated.extra[KEY]["detached"] = list((old or {})["detached"])
    kept = [t for t in record.tags if t in own_tags or t in incoming.tags]  # in the record's order
    updated.tags = kept + [t for t in incoming.tags if t not in kept]
    updated.notes = replace_zotero_notes(record.notes, incoming.notes)
    return updated


def _fields(paper: Paper) -> list[str]:
    return sorted(k for k in paper.extra if k != KEY)


def _format(paper: Paper) -> str:
    return paper.sources[0].format if paper.sources else ""


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields an update changed; of `extra`, the library's bookkeeping aside (its PDFs named)."""
    keys = [*after, *(n for n in before if n not in after)]  # `files` is written only when there are some
    names = [n for n in keys if after.get(n) != before.get(n) and n not in ("sources", "extra")]
    old, new = dict(before["extra"]), dict(after["extra"])
    old_info, new_info = old.pop(KEY, None) or {}, new.pop(KEY, None) or {}
    if old != new:
        names.append("extra")
    if old_info.get("pdfs") != new_info.get("pdfs") and "files" not in names:
        names.append("PDFs")
    return names or ["dateModified"]  # touched in Zotero, nothing litkb keeps changed


def summary(outcome: Outcome, states: Sequence[LibraryState]) -> list[str]:
    """What the import says about the libraries kept in step, a line each."""
    lines: list[str] = []
    for state in states:
        lines += [f"{state.format}: {line}" for line in state.lines]
    if outcome.removed:
        lines.append(
            f"removed {len(outcome.removed)} record(s) whose Zotero item was deleted or trashed "
            f"(they came from Zotero alone): "
            + ", ".join(f"'{t}'" for t in outcome.removed_titles[:5])
            + (" ..." if len(outcome.removed) > 5 else "")
        )
    if outcome.detached:
        lines.append(
            f"kept {len(outcome.detached)} record(s) whose Zotero item was deleted or trashed, as other "
            "inputs gave them too (Zotero's source and notes taken off): "
            + ", ".join(f"'{t}'" for t in outcome.detached[:5])
        )
    return lines


def changed_counts(outcome: Outcome) -> dict[str, int]:
    counts: dict[str, int] = {}
    for names in outcome.changed_fields:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return counts


def zotero_pdfs(paper: Paper) -> list[tuple[str, bool]]:
    """The PDFs Zotero has for a paper that were on disk when it was imported, as (absolute path, linked:
    Zotero keeps only the path, not a copy in its storage): what attaching them takes, one call each
    (by reference to Zotero's file, or copied)."""
    return [(given.path, given.linked) for given in given_pdfs(paper)]
