"""The paper record: its fields, validation, and the stable id derived from the paper."""

from __future__ import annotations

import email.utils
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from typing import Any

from .errors import NotFoundError, RecordError

SCHEMA_VERSION = 1
STATUSES = ("to-read", "reading", "read")
# "unread": every paper not marked read (no status, to-read or reading). The `--status unread` filter,
# `next`, the web inbox and the MCP tools all use this one definition.
UNREAD = "unread"
RATINGS = ("like", "dislike")

# Field order of a record as written to YAML. Later schemas add fields; these are never renamed.
RECORD_FIELDS = (
    "schema",
    "id",
    "aliases",
    "external_id",
    "citation_key",
    "title",
    "abstract",
    "authors",
    "n_authors",
    "organization",
    "date",
    "date_raw",
    "year",
    "upvotes",
    "urls",
    "doi",
    "arxiv_id",
    "tags",
    "notes",
    "status",
    "status_date",
    "rating",
    "files",
    "sources",
    "extra",
    "conflicts",
    "provenance",
)
# Fields left out of the YAML while empty (added by later versions; older records read as before).
_WRITTEN_WHEN_SET = ("aliases", "files")


@dataclass
class Source:
    """Where a paper was seen: an input file, its format, the listing's date, the paper's position in it."""

    file: str
    format: str
    listing_date: str | None = None
    position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "listing_date": self.listing_date,
            "position": self.position,
        }


@dataclass
class Paper:
    """One paper as litkb keeps it. `id` is empty until the store assigns one."""

    title: str
    id: str = ""
    # Ids of records merged into this one (`litkb dedup --apply`): each still names this paper.
    aliases: list[str] = field(default_factory=list)
    external_id: str | None = None
    citation_key: str | None = None  # the key the paper was cited by in its BibTeX; export keeps it
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    n_authors: int | None = None
    organization: dict[str, str] | None = None
    date: str | None = None
    date_raw: str | None = None
    year: int | None = None
    upvotes: int | None = None
    urls: list[str] = field(default_factory=list)
    doi: str | None = None
    arxiv_id: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    status: str | None = None  # reading status: to-read, reading or read
    status_date: str | None = None  # when the status last changed
    rating: str | None = None  # like or dislike
    # Attached files (PDFs): each a mapping with `path` (under the knowledge base's files/ folder, or an
    # absolute path for a linked file), `sha256`, `size`, `pages`, `extractor` and `linked`.
    files: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # Values two sources disagree on: field -> {"shown": source file, "values": [{"source", "value"}]}.
    conflicts: dict[str, Any] = field(default_factory=dict)
    # Which input gave a field its value, where that is not the record's first source.
    provenance: dict[str, str] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as written to YAML, fields in their documented order (`aliases` and `files` only
        when there are some: most records never had another id or a file)."""
        out = self._values()
        for name in _WRITTEN_WHEN_SET:
            if not out[name]:
                del out[name]
        return out

    def _values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in RECORD_FIELDS:
            value = getattr(self, name)
            if name == "sources":
                value = [s.to_dict() for s in value]
            elif isinstance(value, list):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[name] = value
        return out

    def to_row(self) -> list[Any]:
        """The record's values in RECORD_FIELDS order (a compact form for the records cache)."""
        return list(self._values().values())

    @classmethod
    def from_row(cls, row: list[Any]) -> Paper:
        """A paper from `to_row`'s output, trusted (it was validated when it was written): its fields set
        directly, without the dataclass's `__init__` (100,000 records load 0.4 s sooner)."""
        paper = cls.__new__(cls)
        values = dict(zip(RECORD_FIELDS, row, strict=True))
        values["sources"] = [Source(**source) for source in values["sources"]]
        paper.__dict__.update(values)
        return paper

    @classmethod
    def from_dict(cls, data: Any, where: str = "record") -> Paper:
        """Build a paper from loaded YAML, checking every field's type; `where` names it in errors."""
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected a mapping of fields, found {type(data).__name__}")
        unknown = set(data) - set(RECORD_FIELDS)
        if unknown:
            noun = "field" if len(unknown) == 1 else "fields"
            raise RecordError(f"{where}: unknown {noun} {', '.join(sorted(map(str, unknown)))}")
        v = _Validator(data, where)
        title = v.text("title", required=True)
        assert title is not None
        return cls(
            schema=v.integer("schema") or SCHEMA_VERSION,
            id=v.text("id") or "",
            aliases=v.id_list("aliases"),
            external_id=v.text("external_id"),
            citation_key=v.citation_key(),
            title=title,
            abstract=v.text("abstract"),
            authors=v.text_list("authors"),
            n_authors=v.integer("n_authors"),
            organization=v.organization(),
            date=v.iso_date("date", month_only=True),
            date_raw=v.text("date_raw"),
            year=v.integer("year"),
            upvotes=v.integer("upvotes"),
            urls=v.text_list("urls"),
            doi=v.text("doi"),
            arxiv_id=v.text("arxiv_id"),
            tags=v.text_list("tags"),
            notes=v.text("notes"),
            status=v.choice("status", STATUSES),
            status_date=v.iso_date("status_date"),
            rating=v.choice("rating", RATINGS),
            files=v.file_entries(),
            sources=v.sources(),
            extra=v.mapping("extra"),
            conflicts=v.mapping("conflicts"),
            provenance={k: str(val) for k, val in v.mapping("provenance").items()},
        )

    @property
    def unread(self) -> bool:
        """Not marked read: no reading status, to-read or reading (see UNREAD)."""
        return self.status != "read"

    def embedded_text(self) -> str:
        """The text the embedder reads: title, then abstract."""
        if self.abstract:
            return f"{self.title}\n\n{self.abstract}"
        return self.title


# A record's notes may hold a block kept in step with Zotero (its child notes and PDF annotations) between
# these two lines: a Zotero import replaces that block and nothing else of the notes.
ZOTERO_NOTES_START = "--- Zotero notes and annotations (each import updates them: edit them in Zotero) ---"
ZOTERO_NOTES_END = "--- end of Zotero notes ---"


def replace_zotero_notes(notes: str | None, block: str | None) -> str | None:
    """`notes` with their Zotero block replaced by `block` (added at the end when there is none, taken out
    when `block` is None); the owner's text before and after it is kept as it is."""
    own = notes or ""
    start = own.find(ZOTERO_NOTES_START)
    if start >= 0:
        end = own.find(ZOTERO_NOTES_END, start)
        after = own[end + len(ZOTERO_NOTES_END) :] if end >= 0 else ""
        before, after = own[:start].rstrip(), after.strip()
    else:
        before, after = own.rstrip(), ""
    text = "\n\n".join(part for part in (before, block or "", after) if part)
    return text or None


def searchable_notes(notes: str | None) -> str:
    """The notes as the index reads them: the Zotero block's marker lines and headings left out."""
    if not notes:
        return ""
    if ZOTERO_NOTES_START not in notes:
        return notes
    lines, inside = [], False
    for line in notes.splitlines():
        if line in (ZOTERO_NOTES_START, ZOTERO_NOTES_END):
            inside = line == ZOTERO_NOTES_START
        elif not (inside and _ZOTERO_HEADING.fullmatch(line)):
            lines.append(line)
    return "\n".join(lines)


_ZOTERO_HEADING = re.compile(r"Note:|Annotations \(.*\):")


def remove_tags(paper: Paper, tags: Sequence[str]) -> list[str]:
    """Take tags off a paper; the ones it did not have. None of them there is an error (nothing to do:
    a typo, most likely)."""
    wanted = list(dict.fromkeys(tags))
    absent = [t for t in wanted if t not in paper.tags]
    if len(absent) == len(wanted):
        has = ", ".join(paper.tags) or "none"
        raise NotFoundError(f"'{paper.title[:60]}' has no tag {', '.join(absent)} (its tags: {has})")
    paper.tags = [t for t in paper.tags if t not in wanted]
    return absent


def paper_url(paper: Paper) -> str | None:
    """The paper's own page where known (DOI, arXiv), else the first link it gives (often its code)."""
    if paper.doi:
        return f"https://doi.org/{paper.doi}"
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return paper.urls[0] if paper.urls else None


_CITATION_KEY = re.compile(r"[^\s,{}()\"#%'=\\]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def drop_control_characters(paper: Paper) -> Paper:
    """The paper with control characters (NUL and the like, never meant as text) taken out of its text
    fields; tabs and line breaks stay."""
    for name in ("title", "abstract", "notes", "external_id", "citation_key", "doi", "arxiv_id", "date_raw"):
        value = getattr(paper, name)
        if isinstance(value, str) and _CONTROL.search(value):
            setattr(paper, name, _CONTROL.sub("", value))
    for name in ("authors", "urls", "tags"):
        setattr(paper, name, [_CONTROL.sub("", item) for item in getattr(paper, name)])
    return paper


class _Validator:
    """Reads fields from loaded YAML, turning scalars it guessed wrong back into what the field holds."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, name: str, expected: str) -> RecordError:
        value = self.data.get(name)
        return RecordError(f"{self.where}: field '{name}' should be {expected}, found {value!r}")

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise RecordError(f"{self.where}: field '{name}' is missing")
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, Date):
            return value.isoformat()
        if not isinstance(value, str):
            raise self.fail(name, "text")
        if required and not value.strip():
            raise RecordError(f"{self.where}: field '{name}' is empty")
        return value

    def citation_key(self) -> str | None:
        value = self.text("citation_key")
        if value is not None and not _CITATION_KEY.fullmatch(value):
            raise self.fail("citation_key", "a BibTeX key (no spaces, commas, braces, quotes or %)")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            raise self.fail(name, "one of " + ", ".join(allowed))
        return value

    def integer(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise self.fail(name, "a whole number")
        return value

    def iso_date(self, name: str, month_only: bool = False) -> str | None:
        """`YYYY-MM-DD`; with `month_only` also `YYYY-MM` (a date known to the month, as BibTeX gives)."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, Date):
            return value.isoformat()
        if isinstance(value, str) and parse_iso_date(value) is not None:
            return value
        if month_only and isinstance(value, str) and YEAR_MONTH.fullmatch(value):
            return value
        raise self.fail(name, "a date as YYYY-MM-DD" + (" or YYYY-MM" if month_only else ""))

    def text_list(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "a list")
        out = []
        for item in value:
            if isinstance(item, (dict, list)) or item is None:
                raise self.fail(name, "a list of text")
            out.append(str(item))
        return out

    def id_list(self, name: str) -> list[str]:
        values = self.text_list(name)
        if any(not is_valid_id(value) for value in values):
            raise self.fail(name, "a list of litkb ids")
        return values

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, "a mapping")
        return {str(k): v for k, v in value.items()}

    def organization(self) -> dict[str, str] | None:
        value = self.data.get("organization")
        if value is None:
            return None
        if isinstance(value, str):
            return {"handle": value, "name": value}
        if not isinstance(value, dict) or not value.get("name"):
            raise self.fail("organization", "a mapping with 'handle' and 'name'")
        return {"handle": str(value.get("handle") or value["name"]), "name": str(value["name"])}

    def file_entries(self) -> list[dict[str, Any]]:
        value = self.data.get("files")
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail("files", "a list")
        for item in value:
            if not isinstance(item, dict) or not item.get("path") or not item.get("sha256"):
                raise self.fail("files", "a list of mappings with 'path' and 'sha256'")
        return [{str(k): v for k, v in item.items()} for item in value]

    def sources(self) -> list[Source]:
        value = self.data.get("sources")
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail("sources", "a list")
        out = []
        for item in value:
            if not isinstance(item, dict) or not item.get("file") or not item.get("format"):
                raise self.fail("sources", "a list of mappings with 'file' and 'format'")
            sub = _Validator(item, f"{self.where}: sources")
            out.append(
                Source(
                    file=str(item["file"]),
                    format=str(item["format"]),
                    listing_date=sub.iso_date("listing_date"),
                    position=sub.integer("position"),
                )
            )
        return out


def parse_iso_date(text: str) -> Date | None:
    """`YYYY-MM-DD` as a date, or None when it is not one."""
    try:
        return Date.fromisoformat(text.strip())
    except ValueError:
        return None


_ANY_YEAR = re.compile(r"\b(1[89]\d\d|2\d\d\d)\b")
YEAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")  # a date known to the month (BibTeX's year and month)


def parse_loose_date(text: str) -> tuple[str | None, int | None]:
    """A date as written in an input (`2021-03-04`, `2021-03`, `2021`, `Mon, 2 Apr 2007 19:18:42 GMT`)
    as (ISO date or None, year or None)."""
    text = text.strip()
    full = parse_iso_date(text[:10])
    if full is not None:
        return full.isoformat(), full.year
    try:
        stamp = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        stamp = None
    if stamp is not None:
        return stamp.date().isoformat(), stamp.year
    match = _ANY_YEAR.search(text)
    return None, int(match.group(1)) if match else None


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LATEX_BRACES = re.compile(r"[{}]")


def normalize_title(title: str) -> str:
    """A title reduced to what identifies it: Unicode-normalised, case-folded, punctuation and braces gone."""
    text = unicodedata.normalize("NFKC", title)
    text = _LATEX_BRACES.sub("", text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def make_id(title: str, salt: str = "") -> str:
    """litkb's id for a paper: a readable slug of the title plus a hash of its normalised form.

    The same title gives the same id on every machine; the result is always a safe file name
    (`[a-z0-9-]`, at most 60 characters). `salt` separates two different papers that share a title.
    """
    norm = normalize_title(title)
    digest = hashlib.sha256(f"{norm}\x00{salt}".encode()).hexdigest()[:10]
    ascii_words = unicodedata.normalize("NFKD", norm).encode("ascii", "ignore").decode().split()
    slug = ""
    for word in ascii_words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > 48:
            break
        slug = candidate
    if not slug:
        slug = (ascii_words[0][:48] if ascii_words else "") or "paper"
    return f"{slug}-{digest}"


def is_valid_id(text: str) -> bool:
    """Whether `text` has the shape of a litkb id (so it can name a file without escaping anything)."""
    return bool(_ID_SHAPE.fullmatch(text))


_ID_SHAPE = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
