"""Which record a parsed paper belongs to, and how a new sighting merges into an existing record."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import AmbiguousError, NotFoundError, UsageError
from .models import Paper, make_id, normalize_title

if TYPE_CHECKING:
    from .store import RecordStore

# Fields an ingest may set from its input; everything else is the record's own or the user's.
_INPUT_FIELDS = (
    "external_id", "citation_key", "title", "abstract", "authors", "n_authors", "organization", "date",
    "date_raw", "year", "upvotes", "urls", "doi", "arxiv_id",
)  # fmt: skip
INPUT_FIELDS = _INPUT_FIELDS
CLOSE = 0.97
_ARXIV_VERSION = re.compile(r"v\d+$")
_DATED = ("date", "date_raw", "year")  # one source's, together: a year and a date that disagree mislead
# How well an input format knows a paper, best first (`litkb dedup` keeps the best-sourced record):
# 0 a bibliographic service's own record (Crossref, arXiv, the Hugging Face API); 1 a listing or a
# reference manager's export (Daily Papers, BibTeX, CSL JSON); 2 rows typed or pasted into a table.
SOURCE_KINDS: dict[str, tuple[int, str]] = {
    "crossref": (0, "Crossref"),
    "arxiv": (0, "arXiv"),
    "hf-api": (0, "the Hugging Face API"),
    "hf-daily": (1, "a listing"),
    "bibtex": (1, "BibTeX"),
    "csl-json": (1, "CSL JSON"),
    "csv": (2, "CSV rows"),
    "jsonl": (2, "JSON Lines rows"),
}
_OTHER_KIND = (1, "")
_ALIAS_SUFFIX = re.compile(r" \([a-z0-9][a-z0-9-]*\)$")  # "rows.csv (its-id)": a merged record's value


def _doi_key(doi: str | None) -> str | None:
    return doi.strip().lower() if doi and doi.strip() else None


def _arxiv_key(arxiv_id: str | None) -> str | None:
    if not arxiv_id or not arxiv_id.strip():
        return None
    return _ARXIV_VERSION.sub("", arxiv_id.strip().lower().removeprefix("arxiv:"))


def source_of(paper: Paper, name: str) -> str:
    """The input file a field's value came from: its provenance, else the record's first source."""
    if name in paper.provenance:
        return paper.provenance[name]
    return paper.sources[0].file if paper.sources else "record"


def source_rank(paper: Paper) -> tuple[int, int, int]:
    """How well-sourced a record is, smaller first: the best kind of input it was read from (see
    SOURCE_KINDS), then whether it has a DOI or an arXiv id, then how many inputs it was read from."""
    tier = min((SOURCE_KINDS.get(s.format, _OTHER_KIND)[0] for s in paper.sources), default=_OTHER_KIND[0])
    return tier, 0 if paper.doi or paper.arxiv_id else 1, -len(paper.sources)


def source_kind(fmt: str) -> str:
    """What kind of input a format is, in words (`a listing`, `CSV rows`); the format's name if unknown."""
    return SOURCE_KINDS.get(fmt, _OTHER_KIND)[1] or fmt


def _format_of(paper: Paper, file: str) -> str | None:
    """The format of the record's input named `file` (a merged record's `file (id)` too)."""
    file = _ALIAS_SUFFIX.sub("", file)
    return next((s.format for s in paper.sources if s.file == file), None)


def _known_years(paper: Paper) -> set[int]:
    """The years a record's inputs gave it: the shown one and those kept under `conflicts`."""
    years = {paper.year} if paper.year is not None else set()
    entry = paper.conflicts.get("year")
    if isinstance(entry, dict):
        for value in entry.get("values", []):
            if isinstance(value, dict) and isinstance(value.get("value"), int):
                years.add(value["value"])
    return years


def _same_year(record: Paper, other: Paper) -> bool:
    """Whether the years of two records agree (see `_years_agree`): any year either was given counts."""
    mine, theirs = _known_years(record), _known_years(other)
    return not mine or not theirs or any(_years_agree(a, b) for a in mine for b in theirs)


def _conflicts(a: Paper, b: Paper) -> bool:
    """Two papers with the same title are different papers when ids of the same id space differ: two
    DOIs, two arXiv ids, or two input ids (BibTeX keys, CSV `id`s) given by the same input file. Input
    ids from different files or formats are not comparable: one paper has many BibTeX keys."""
    pairs = [
        (_doi_key(a.doi), _doi_key(b.doi)),
        (_arxiv_key(a.arxiv_id), _arxiv_key(b.arxiv_id)),
    ]
    if source_of(a, "external_id") == source_of(b, "external_id"):
        pairs.append((a.external_id, b.external_id))
    return any(x is not None and y is not None and x != y for x, y in pairs)


def _years_agree(a: int | None, b: int | None) -> bool:
    """Same title, same paper: when the years agree, are unknown, or are one apart (preprint, then
    publication)."""
    return a is None or b is None or abs(a - b) <= 1


class Catalog:
    """Lookup tables over the records of a knowledge base: by DOI, by arXiv id, by normalised title."""

    def __init__(self, papers: list[Paper]) -> None:
        self.by_id: dict[str, Paper] = {}
        self._doi: dict[str, str] = {}
        self._arxiv: dict[str, str] = {}
        self._title: dict[str, list[str]] = defaultdict(list)
        self._place: dict[tuple[str, str, int], str] = {}  # (file, format, position) -> id
        self._alias: dict[str, str] = {}  # id of a record merged away -> the record it was merged into
        self._alias_slugs: set[str] = set()  # their slugs (the id without its hash): most titles have none
        for paper in papers:
            self.put(paper)

    def put(self, paper: Paper) -> None:
        old = self.by_id.get(paper.id)
        if old is not None and normalize_title(old.title) != normalize_title(paper.title):
            self._title[normalize_title(old.title)].remove(paper.id)
        self.by_id[paper.id] = paper
        if key := _doi_key(paper.doi):
            self._doi.setdefault(key, paper.id)
        if key := _arxiv_key(paper.arxiv_id):
            self._arxiv.setdefault(key, paper.id)
        ids = self._title[normalize_title(paper.title)]
        if paper.id not in ids:
            ids.append(paper.id)
        for source in paper.sources:
            if source.position is not None:
                self._place[(source.file, source.format, source.position)] = paper.id
        for alias in paper.aliases:
            self._alias.setdefault(alias, paper.id)
            self._alias_slugs.add(alias.rpartition("-")[0])

    def match(self, paper: Paper) -> Paper | None:
        """The existing record that is the same paper, if any: same DOI, same arXiv id, the same title at
        the same place of the same input file, a record that a copy of this paper (the id it would get)
        was merged into, or the same title with agreeing years (any year the record was given) and no
        differing ids."""
        for key, table in ((_doi_key(paper.doi), self._doi), (_arxiv_key(paper.arxiv_id), self._arxiv)):
            if key and key in table:
                return self.by_id[table[key]]
        title = normalize_title(paper.title)
        for source in paper.sources:  # the same title at the same place of the same listing: whatever
            # year the input now gives (a wrong --year must not copy the paper)
            seen = self._place.get((source.file, source.format, source.position or -1))
            if seen is not None and normalize_title(self.by_id[seen].title) == title:
                return self.by_id[seen]
        if self._alias and make_id(paper.title).rpartition("-")[0] in self._alias_slugs:
            for would_be in itertools.islice(_possible_ids(paper), 10):
                if (kept := self._alias.get(would_be)) is not None and kept in self.by_id:
                    return self.by_id[kept]
        for candidate_id in self._title.get(normalize_title(paper.title), []):
            candidate = self.by_id[candidate_id]
            if not _conflicts(candidate, paper) and _same_year(candidate, paper):
                return candidate
        return None

    def new_id(self, paper: Paper) -> str:
        """A stable id for a paper with no record yet; salted by its own ids when its title is taken."""
        ids = _possible_ids(paper)
        paper_id = next(ids)
        while paper_id in self.by_id or paper_id in self._alias:  # an alias stays the merged record's
            paper_id = next(ids)
        return paper_id


def _possible_ids(paper: Paper) -> Iterator[str]:
    """The ids a new record for `paper` gets, in order, while the earlier ones are taken: the title's,
    then salted by its own ids (a DOI, an arXiv id, an input id), then numbered (the same title and the
    same ids: still two rows)."""
    yield make_id(paper.title)
    salt = _doi_key(paper.doi) or _arxiv_key(paper.arxiv_id) or paper.external_id or ""
    if salt:
        yield make_id(paper.title, salt)
    for counter in itertools.count(2):
        yield make_id(paper.title, f"{salt}\x00{counter}")


def merge(existing: Paper, incoming: Paper, keep_shown: bool = False) -> Paper:
    """`existing` updated with what `incoming` knows; neither argument is changed.

    A value the input lacks never erases one the record has. Where the record has no value, the input's
    fills it. Where both have different values: an input of the format the shown value came from (a
    newer copy of a listing) updates it, unless `keep_shown` (merging two records: the kept one's values
    stay shown); otherwise the shown value stays and both are recorded under `conflicts`, each credited
    to the input file it really came from. The year and the date go together: where the input's disagree
    with the record's, both are taken (from a newer copy of their input; a date it lacks is then gone) or
    neither, never a year from one input beside a date from another. Tags and notes (the user's) are
    only ever added to.
    """
    merged = dataclasses.replace(
        existing,
        authors=list(existing.authors),
        urls=list(existing.urls),
        tags=list(existing.tags),
        sources=list(existing.sources),
        extra=dict(existing.extra),
        conflicts=copy.deepcopy(existing.conflicts),
        provenance=dict(existing.provenance),
    )
    incoming_source = incoming.sources[0] if incoming.sources else None
    newer = incoming_source.format if incoming_source is not None and not keep_shown else None

    def updates(name: str) -> bool:
        """Whether the input is a newer copy of the input the shown value came from (of its format)."""
        return newer is not None and _format_of(merged, source_of(merged, name)) == newer

    def origin_of(name: str) -> str | None:
        origin = source_of(incoming, name) if incoming_source is not None else None
        if origin is not None and keep_shown:  # a merged record: say which one, its file may give many
            origin = f"{origin} ({incoming.id})"
        return origin

    first_source = existing.sources[0].file if existing.sources else "record"

    def show(name: str, value: object, origin: str | None) -> None:
        setattr(merged, name, copy.deepcopy(value))
        if origin is not None and origin != first_source and value is not None:
            merged.provenance[name] = origin
        elif origin is not None:
            merged.provenance.pop(name, None)

    # The year and the date are one source's: where the input's disagree with the record's, they are
    # taken together (from a newer copy of the input that gave them) or kept apart under `conflicts`.
    dated_apart = not _dates_agree(merged, incoming)
    if dated_apart:
        origin = origin_of("year")
        entries = [merged.conflicts.get(name) for name in _DATED]
        together = origin is None or (
            updates("date" if merged.date else "year")
            and all(entry is None or entry["shown"] == origin for entry in entries)
        )
        for name, entry in zip(_DATED, entries, strict=True):
            value, current = getattr(incoming, name), getattr(merged, name)
            if together:
                if entry is not None and origin is not None and value is not None:
                    _record_conflict(merged, name, current, entry["shown"], value, origin)
                show(name, value, origin)
            elif value is not None and value != current and origin is not None:
                shown = entry["shown"] if entry is not None else source_of(merged, name)
                _record_conflict(merged, name, current, shown, value, origin)
    for name in _INPUT_FIELDS:
        value = getattr(incoming, name)
        if value is None or value == [] or value == {} or (dated_apart and name in _DATED):
            continue
        origin = origin_of(name)
        current = getattr(merged, name)
        entry = merged.conflicts.get(name)
        if name == "urls":
            merged.urls += [u for u in value if u not in merged.urls]
        elif entry is not None and origin is not None:
            # Already disputed: this source's value is updated; the shown one only if it is this source's.
            _record_conflict(merged, name, current, entry["shown"], value, origin)
            if entry["shown"] == origin and not keep_shown:
                setattr(merged, name, copy.deepcopy(value))
        elif current == value:
            continue
        elif current is None or current == [] or origin is None or updates(name):
            show(name, value, origin)
        else:
            _record_conflict(merged, name, current, source_of(merged, name), value, origin)
    for name, entry in incoming.conflicts.items():  # what the incoming record had disputed stays known
        if name in _INPUT_FIELDS and isinstance(entry, dict):
            for other in entry.get("values", []):
                if isinstance(other, dict) and other.get("value") not in (None, getattr(merged, name)):
                    shown = merged.conflicts.get(name, {}).get("shown") or source_of(merged, name)
                    _record_conflict(
                        merged, name, getattr(merged, name), shown, other["value"], str(other.get("source"))
                    )
    for tag in incoming.tags:
        if tag not in merged.tags:
            merged.tags.append(tag)
    if not merged.notes and incoming.notes:
        merged.notes = incoming.notes
    for key, value in incoming.extra.items():
        merged.extra.setdefault(key, copy.deepcopy(value))
    for source in incoming.sources:
        keys = [(s.file, s.format) for s in merged.sources]
        if (source.file, source.format) in keys:
            merged.sources[keys.index((source.file, source.format))] = dataclasses.replace(source)
        else:
            merged.sources.append(dataclasses.replace(source))
    held = {f.get("sha256") for f in existing.files}  # attached files joined: the same file once
    merged.files = [
        *existing.files,
        *(copy.deepcopy(f) for f in incoming.files if f.get("sha256") not in held),
    ]
    return merged


def _dates_agree(a: Paper, b: Paper) -> bool:
    """Whether two papers' dates and years agree where both have one (a date's year counts as a year)."""
    if a.date is not None and b.date is not None and a.date != b.date:
        return False
    years_a = {y for y in (a.year, _year_of(a.date)) if y is not None}
    years_b = {y for y in (b.year, _year_of(b.date)) if y is not None}
    return not years_a or not years_b or years_a == years_b


def _year_of(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def _record_conflict(
    paper: Paper, name: str, shown: object, shown_source: str, other: object, source: str
) -> None:
    """Keep `other` (from `source`) beside the shown value of field `name`; a value a merged record
    already had from the same file (`file (its id)`) is not kept twice."""
    entry = paper.conflicts.setdefault(
        name, {"shown": shown_source, "values": [{"source": shown_source, "value": copy.deepcopy(shown)}]}
    )
    values = list(entry["values"])
    sources = [v.get("source") for v in values]
    if source not in sources and any(
        str(v.get("source")).startswith(f"{source} (") and v.get("value") == other for v in values
    ):
        return
    if source in sources:
        values[sources.index(source)] = {"source": source, "value": copy.deepcopy(other)}
    else:
        values.append({"source": source, "value": copy.deepcopy(other)})
    entry["values"] = values


@dataclass
class Duplicate:
    """Two records that look like one paper: `drop` would be merged into `keep`, for `reason`."""

    keep: str
    drop: str
    reason: str


def _title_words(title: str) -> set[str]:
    return set(normalize_title(title).split())


def find_duplicates(papers: list[Paper], vectors: tuple[list[str], Any] | None = None) -> list[Duplicate]:
    """Likely duplicates: the same DOI, the same arXiv id, the same title (years agreeing), or very close
    vectors (cosine >= CLOSE) with similar titles (half their words shared). The best-sourced record is
    the one kept (see `plan_merges`)."""
    by_id = {p.id: p for p in papers}
    found: dict[tuple[str, str], str] = {}

    def add(a: str, b: str, reason: str) -> None:
        pair = (min(a, b), max(a, b))
        found.setdefault(pair, reason)

    for label, key in (
        ("the same DOI", lambda p: _doi_key(p.doi)),
        ("the same arXiv id", lambda p: _arxiv_key(p.arxiv_id)),
    ):
        groups: dict[str, list[str]] = defaultdict(list)
        for paper in papers:
            if (value := key(paper)) is not None:
                groups[value].append(paper.id)
        for value, ids in groups.items():
            for other in ids[1:]:
                add(ids[0], other, f"{label} ({value})")
    titles: dict[str, list[str]] = defaultdict(list)
    for paper in papers:
        titles[normalize_title(paper.title)].append(paper.id)
    for ids in titles.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if _same_year(by_id[a], by_id[b]) and not _conflicts(by_id[a], by_id[b]):
                    add(a, b, "the same title")
    if vectors is not None and len(vectors[0]) > 1:
        import numpy as np

        ids, matrix = vectors
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        for start in range(0, len(ids), 1024):
            sims = unit[start : start + 1024] @ unit.T
            for row, col in zip(*np.nonzero(sims >= CLOSE), strict=True):
                a, b = ids[start + int(row)], ids[int(col)]
                if a >= b or a not in by_id or b not in by_id:
                    continue
                wa, wb = _title_words(by_id[a].title), _title_words(by_id[b].title)
                if len(wa & wb) * 2 >= max(len(wa), len(wb)):
                    add(a, b, f"very close abstracts (cosine {float(sims[row, col]):.3f}) and similar titles")
    return plan_merges(found, by_id)


def plan_merges(pairs: dict[tuple[str, str], str], by_id: dict[str, Paper]) -> list[Duplicate]:
    """The pairs joined into clusters (a chain a~b, b~c is one paper), with one record kept per cluster:
    the best-sourced (`source_rank`: read from a bibliographic service, then from a listing or a
    reference manager's export, then from rows of a table; then one with a DOI or arXiv id; then the one
    read from more inputs), then the one with the most pairs inside the cluster, then the smallest id.
    Every other record of the cluster is listed once, merged into the kept one, with the reason of the
    pair that joined it (naming the record it was found with, when that is not the kept one)."""
    parent: dict[str, str] = {}

    def root(pid: str) -> str:
        parent.setdefault(pid, pid)
        while parent[pid] != pid:
            parent[pid] = parent[parent[pid]]
            pid = parent[pid]
        return pid

    degree: dict[str, int] = defaultdict(int)
    for a, b in pairs:
        parent[root(a)] = root(b)
        degree[a] += 1
        degree[b] += 1
    clusters: dict[str, list[str]] = defaultdict(list)
    for pid in sorted(parent):
        clusters[root(pid)].append(pid)
    out: list[Duplicate] = []
    for members in clusters.values():
        keep = min(members, key=lambda pid: (*source_rank(by_id[pid]), -degree[pid], pid))
        for drop in sorted(m for m in members if m != keep):
            direct = pairs.get((min(keep, drop), max(keep, drop)))
            if direct is not None:
                reason = direct
            else:
                (a, b), why = next((pair, why) for pair, why in sorted(pairs.items()) if drop in pair)
                reason = f"{why}, with {b if a == drop else a}"
            out.append(Duplicate(keep=keep, drop=drop, reason=reason))
    return sorted(out, key=lambda d: (d.keep, d.drop))


def merge_records(kept: Paper, dropped: Paper) -> Paper:
    """One record from two that are the same paper: the kept one's values shown, the other's in
    `conflicts` where they differ; tags, notes, reading status and rating joined; the other's id (and
    its aliases) kept under `aliases`, so that it still names the paper."""
    result = merge(kept, dropped, keep_shown=True)
    result.aliases = list(dict.fromkeys([*kept.aliases, dropped.id, *dropped.aliases]))
    result.tags = list(dict.fromkeys(kept.tags + dropped.tags))
    for mine in ("status", "status_date", "rating"):  # the owner's marks survive the merge
        if getattr(result, mine) is None:
            setattr(result, mine, getattr(dropped, mine))
    if kept.notes and dropped.notes and dropped.notes not in kept.notes:
        result.notes = f"{kept.notes}\n\n{dropped.notes}"
    return result


def find_paper(papers: Sequence[Paper], ref: str) -> Paper:
    """The one paper `ref` names: by DOI, arXiv id, external id, id or alias (the id of a record merged
    into it), else by title (case and punctuation aside), else by the start of a title; several is an
    error listing them."""
    wanted = normalize_title(ref)
    by_key = [p for p in papers if ref in (p.doi, p.arxiv_id, p.external_id, p.id) or ref in p.aliases]
    exact = [p for p in papers if normalize_title(p.title) == wanted]
    prefix = [p for p in papers if wanted and normalize_title(p.title).startswith(wanted)]
    for found in (by_key, exact, prefix):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AmbiguousError(
                f"'{ref}' matches {len(found)} papers; give one of these ids:",
                candidates=[(p.id, p.year, p.title) for p in sorted(found, key=lambda p: p.id)],
            )
    raise NotFoundError(f"no paper matches '{ref}'; see `litkb list` for ids and titles")


def apply_merges(store: RecordStore, found: Sequence[Duplicate]) -> list[str]:
    """Merge what `find_duplicates` listed, exactly: each `drop` record into its `keep` record (see
    `merge_records`), then remove the dropped record (the caller holds the write lock). The ids removed."""
    groups: dict[str, list[str]] = {}
    for dup in found:
        groups.setdefault(dup.keep, []).append(dup.drop)
    if {d for drops in groups.values() for d in drops} & set(groups):
        raise UsageError("a record is both kept and merged away in this plan; list it with `litkb dedup`")
    removed: list[str] = []
    for keep, drops in groups.items():
        if not store.exists(keep):
            continue
        result = store.load(keep)
        for drop in (d for d in drops if store.exists(d)):
            result = merge_records(result, store.load(drop))
            removed.append(drop)
        store.save_many([result])
    for drop in removed:
        store.path_for(drop).unlink()
    return removed
