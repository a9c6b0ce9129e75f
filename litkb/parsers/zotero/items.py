"""Zotero items as papers: fields, creators, `extra`, tags, collections, notes, PDFs and annotations.

What goes where in a record:
- `title`, `abstract` (abstractNote), `doi` (DOI, or a `DOI:` line of extra), `urls` (url), `date`/`year`
  (Zotero's stored date, `2021-03-00 March 2021`: the part it parsed, then the text as written, kept as
  `date_raw`), `arxiv_id` (a preprint's archiveID, an `arXiv:` line of extra, an arxiv.org url or an arXiv
  DOI), `citation_key` (see `__init__`), `authors` (the creators of the item type's primary role, in
  order, `Family, Given`), `tags` (Zotero's tags, then one `zotero:<collection path>` per collection).
- `extra`: `item_type`; the venue as `journal` (journal, magazine and newspaper articles) or `booktitle`
  (conference papers, book sections, encyclopedia and dictionary entries) or `container_title`; volume,
  `number` (issue, or a report's number), pages, publisher (or university, institution, repository),
  `address` (place), language, isbn, issn, edition, series and every other field under its Zotero name;
  other creators by role (`creators: {editor: [...], translator: [...]}`), never as authors; `tex` (the
  `tex.<field>: value` lines of extra); `extra` (what is left of Zotero's extra); `zotero` (the item's
  library and key, its dateModified, and its PDFs).
- `notes`: the child notes as text and the PDFs' annotations, in the Zotero block (`notes.py`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...models import Paper, Source, parse_iso_date, parse_loose_date
from .database import Tables
from .files import AttachmentFile, is_pdf, resolve
from .notes import annotation_line, note_text, zotero_block

FORMAT = "zotero"
NOT_PAPERS = ("note", "attachment", "annotation")
COLLECTION_TAG = "zotero:"
_JOURNALS = ("journalArticle", "magazineArticle", "newspaperArticle")
_BOOKS = ("conferencePaper", "bookSection", "encyclopediaArticle", "dictionaryEntry")
_RENAMED = {
    "issue": "number", "place": "address", "ISBN": "isbn", "ISSN": "issn", "numPages": "pagetotal",
    "conferenceName": "eventtitle", "accessDate": "urldate", "shortTitle": "shorttitle",
    "journalAbbreviation": "shortjournal", "seriesTitle": "series_title",
}  # fmt: skip
_OWN = ("title", "abstractNote", "date", "DOI", "url", "extra", "citationKey", "archiveID")
_MULTIPART = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: (.*))?$", re.DOTALL)
_ARXIV = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#]+?)(?:\.pdf)?(?:[?#]|$)", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_EXTRA_LINE = re.compile(r"^\s*([A-Za-z][\w .-]*?)\s*:\s*(.*?)\s*$")
_TEX_LINE = re.compile(r"^\s*tex\.([\w-]+)\s*[:=]\s*(.*?)\s*$", re.IGNORECASE)
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


@dataclass
class Built:
    """The papers of a library and what was said about it."""

    papers: list[Paper] = field(default_factory=list)
    live: set[tuple[str, str]] = field(
        default_factory=set
    )  # (library, key) of every paper-item outside the trash
    trashed: int = 0
    untitled: list[str] = field(default_factory=list)
    standalone_notes: list[str] = field(default_factory=list)
    standalone_files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collection_paths(t: Tables) -> dict[int, str]:
    """Each collection outside the trash by its path (`Thesis/Related work`); a group library's start
    with the group's name."""
    paths: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        if cid in paths:
            return paths[cid]
        name, parent, library, _ = t.collections[cid]
        if parent is not None and parent in t.collections and depth < 64:
            text = f"{path(parent, depth + 1)}/{name}"
        else:
            group = t.group_names.get(library)
            text = f"{group}/{name}" if group else name
        paths[cid] = text
        return text

    for cid in t.collections:
        path(cid)
    gone = set(t.deleted_collections)
    changed = True
    while changed:  # a collection in the trash takes its subcollections with it
        changed = False
        for cid, (_, parent, _, _) in t.collections.items():
            if cid not in gone and parent in gone:
                gone.add(cid)
                changed = True
    return {cid: text for cid, text in paths.items() if cid not in gone}


def build(
    t: Tables,
    source_file: str,
    cite_keys: dict[tuple[int, str], str],
    base: Path | None,
    selected: set[int] | None = None,
) -> Built:
    """Papers from every regular item outside the trash (of the `selected` collections only, when given)."""
    out = Built()
    data_dir = t.path.parent
    types = t.item_types
    paths = collection_paths(t)
    keys = {item_id: key for item_id, _, _, key, _ in t.items}
    kinds = {item_id: types.get(type_id, "") for item_id, type_id, _, _, _ in t.items}
    title_field = next((fid for fid, name in t.fields.items() if name == "title"), None)

    notes: dict[int, list[str]] = defaultdict(list)
    for item_id, parent, html in t.notes:
        if kinds.get(item_id) != "note" or item_id in t.deleted:
            continue
        if parent is None or parent not in kinds:
            out.standalone_notes.append(_first_line(note_text(html or "")) or keys.get(item_id, "?"))
        elif parent not in t.deleted:
            notes[parent].append(note_text(html or ""))
    files: dict[int, list[AttachmentFile]] = defaultdict(list)
    for item_id, parent, mode, ctype, path in t.attachments:
        if item_id in t.deleted or item_id not in keys or not is_pdf(ctype, path):
            continue
        where = resolve(data_dir, keys[item_id], mode, path, base)
        if where is None:
            continue
        title = t.data.get(item_id, {}).get(title_field, "") if title_field else ""
        if parent is None or parent not in kinds:
            out.standalone_files.append(where or path)
            continue
        if parent not in t.deleted:
            found = bool(where) and Path(where).is_file()
            files[parent].append(
                AttachmentFile(keys[item_id], where, mode == 2, found, title or Path(path).name)
            )
    annotations: dict[int, list[str]] = defaultdict(list)
    for item_id, parent, annotation_type, text, comment, page, _ in t.annotations:
        if item_id in t.deleted or parent in t.deleted:
            continue
        line = annotation_line(annotation_type, text, comment, page)
        if line:
            annotations[parent].append(line)
    attachment_parent = {item_id: parent for item_id, parent, *_ in t.attachments}

    by_attachment: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)
    for attachment, lines in annotations.items():
        parent = attachment_parent.get(attachment)
        if parent is not None:
            label = next((f.title for f in files.get(parent, []) if f.key == keys.get(attachment)), "")
            by_attachment[parent].append((label or keys.get(attachment, "PDF"), lines))

    names: dict[tuple[int, int], str | None] = {}  # (item type, field) -> the name the field is read as
    for item_id, type_id, library_id, key, modified in t.items:
        kind = types.get(type_id, "")
        if kind in NOT_PAPERS or not kind:
            continue
        library = t.libraries[library_id]
        if item_id in t.deleted:
            out.trashed += 1
            continue
        out.live.add((library, key))
        collections = [paths[c] for c in t.collection_items.get(item_id, []) if c in paths]
        if selected is not None and not selected & set(t.collection_items.get(item_id, [])):
            continue
        paper = _paper(t, names, item_id, type_id, kind, key, modified, library, source_file, out)
        if paper is None:
            continue
        cite = cite_keys.get((library_id, key))
        if cite and not paper.citation_key:
            paper.citation_key = cite
        paper.tags = list(
            dict.fromkeys([*t.tags.get(item_id, []), *(COLLECTION_TAG + c for c in sorted(collections))])
        )
        paper.notes = zotero_block(notes.get(item_id, []), by_attachment.get(item_id, []))
        attached = files.get(item_id, [])
        if attached:
            paper.extra["zotero"]["pdfs"] = [f.to_dict() for f in attached]
        out.missing += [
            f.path or f"{f.title} (linked under a base directory litkb could not find)"
            for f in attached
            if not f.exists
        ]
        out.papers.append(paper)
    return out


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:80] if text.strip() else ""


def _field_name(t: Tables, type_id: int, field_id: int) -> str | None:
    """A field's name as litkb reads it: its base field's for a type-specific one (a thesis's `university`
    is its `publisher`), except the fields litkb reads by their own name (`archiveID`, `citationKey`)."""
    name = t.fields.get(field_id)
    if name is None or name in _OWN:
        return name
    base = t.base_fields.get((type_id, field_id))
    return t.fields.get(base, name) if base is not None else name


def _paper(
    t: Tables, names: dict[tuple[int, int], str | None], item_id: int, type_id: int, kind: str, key: str,
    modified: str, library: str, source_file: str, out: Built,
) -> Paper | None:  # fmt: skip
    values: dict[str, str] = {}
    for field_id, value in t.data.get(item_id, {}).items():
        pair = (type_id, field_id)
        name = names[pair] if pair in names else names.setdefault(pair, _field_name(t, type_id, field_id))
        if name is not None:
            values.setdefault(name, value)
    title = " ".join(values.pop("title", "").split())
    if not title:
        out.untitled.append(f"{key} ({kind})")
        return None
    extra: dict[str, Any] = {"item_type": kind}
    citation_key, arxiv_id, doi, rest = _parse_extra(values.pop("extra", ""), extra)
    doi = _clean_doi(values.pop("DOI", "")) or doi
    url = values.pop("url", "").strip()
    arxiv_id = _arxiv(values.pop("archiveID", ""), arxiv_id, url, doi)
    citation_key = values.pop("citationKey", "").strip() or citation_key
    if citation_key and not _valid_key(citation_key):
        out.warnings.append(f"Zotero item {key}: citation key {citation_key!r} is not a BibTeX key; not kept")
        citation_key = None
    date, date_raw, year = _date(values.pop("date", ""))
    abstract = values.pop("abstractNote", "").strip() or None
    for name, value in values.items():
        if name == "publicationTitle":
            name = "journal" if kind in _JOURNALS else "booktitle" if kind in _BOOKS else "container_title"
        extra[_RENAMED.get(name, name)] = value.strip()
    authors, others = _creators(t, item_id, type_id)
    if others:
        extra["creators"] = others
    if rest:
        extra["extra"] = rest
    extra["zotero"] = {"library": library, "key": key, "account": t.account, "modified": modified}
    return Paper(
        title=title,
        citation_key=citation_key,
        abstract=abstract,
        authors=authors,
        n_authors=len(authors) or None,
        date=date,
        date_raw=date_raw,
        year=year,
        urls=[url] if url else [],
        doi=doi,
        arxiv_id=arxiv_id,
        sources=[Source(file=source_file, format=FORMAT)],
        extra=extra,
    )


def _creators(t: Tables, item_id: int, type_id: int) -> tuple[list[str], dict[str, list[str]]]:
    """The authors (the item type's primary creator role; `author` where the database does not say),
    and the other creators by role."""
    primary = t.creator_types.get(t.primary_creator.get(type_id, -1), "author")
    authors: list[str] = []
    others: dict[str, list[str]] = {}
    for creator_type, first, last, mode in t.creators.get(item_id, []):
        first, last = " ".join(first.split()), " ".join(last.split())
        name = last if mode == 1 or not first else f"{last}, {first}" if last else first
        if not name:
            continue
        role = t.creator_types.get(creator_type, "contributor")
        if role == primary:
            authors.append(name)
        else:
            others.setdefault(role, []).append(name)
    return authors, others


def _parse_extra(text: str, extra: dict[str, Any]) -> tuple[str | None, str | None, str | None, str]:
    """(citation key, arXiv id, DOI) from Zotero's extra field, its `tex.*` lines into `extra["tex"]`;
    and the lines left."""
    citation_key = arxiv_id = doi = None
    rest: list[str] = []
    tex: dict[str, str] = {}
    for line in text.splitlines():
        if match := _TEX_LINE.match(line):
            tex[match.group(1).lower()] = match.group(2)
            continue
        match = _EXTRA_LINE.match(line)
        label = match.group(1).lower() if match else ""
        value = match.group(2) if match else ""
        if label in ("citation key", "bibtex") and value and citation_key is None:
            citation_key = value
        elif label == "arxiv" and (found := _ARXIV.search(value)) and arxiv_id is None:
            arxiv_id = found.group(1)
        elif label == "doi" and value and doi is None:
            doi = _clean_doi(value)
        elif line.strip():
            rest.append(line.rstrip())
    if tex:
        extra["tex"] = tex
    return citation_key, arxiv_id, doi, "\n".join(rest).strip()


def _clean_doi(text: str) -> str | None:
    doi = _DOI_PREFIX.sub("", text.strip()).strip()
    return doi or None


def _arxiv(archive_id: str, from_extra: str | None, url: str, doi: str | None) -> str | None:
    if archive_id.lower().startswith("arxiv:") and (found := _ARXIV.search(archive_id)):
        return found.group(1)
    if from_extra:
        return from_extra
    if (match := _ARXIV_URL.search(url)) and (found := _ARXIV.fullmatch(match.group(1))):
        return found.group(1)
    if doi and (match := _ARXIV_DOI.match(doi)) and (found := _ARXIV.fullmatch(match.group(1))):
        return found.group(1)
    return None


def _date(value: str) -> tuple[str | None, str | None, int | None]:
    """(ISO date when day and month are known, the date as written, year) from Zotero's stored date."""
    value = value.strip()
    if not value:
        return None, None, None
    match = _MULTIPART.match(value)
    if match is None:
        date, year = parse_loose_date(value)
        return date, value, year
    year_text, month, day, written = match.groups()
    year = int(year_text) if year_text != "0000" else None
    date = f"{year_text}-{month}-{day}" if year and month != "00" and day != "00" else None
    if date is not None:
        date = date if parse_iso_date(date) is not None else None
    return date, (written or "").strip() or value[:10], year


_KEY = re.compile(r"[^\s,{}()\"#%'=\\]+")


def _valid_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key))
