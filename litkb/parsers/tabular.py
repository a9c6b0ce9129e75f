"""Row formats: JSON Lines (or a JSON array of objects) and CSV, one paper per row. CSV may be separated
by commas, semicolons (what Excel writes in much of Europe), tabs (TSV) or bars: the header row says which.

Known columns (matched whatever their case, `_`, `-` and spaces alike): `id` or `_id` (kept as
`external_id`), `title`, `abstract` or `text`, `authors` (a JSON list, or names separated by `;` or
` and `), `year` or `date`, `doi`, `arxiv_id`, `url` or `urls`, `tags`, `n_authors`, `upvotes`, `notes`;
and the names the common exports give them (see `_COLUMNS`): Zotero's CSV, Scopus's CSV, Web of
Science's tab-delimited file (two-letter tags) and its Excel export. Every other column is kept under
`extra`. A header that names litkb's columns differently is said in the ingest summary.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..models import Paper, Source, parse_loose_date
from ..text import lone_surrogate
from . import ParseOptions, Parser, ParseResult, register

_AND = re.compile(r"\s+and\s+")
# litkb's own column names: a header of only these needs no word in the summary.
_KNOWN = {
    "id", "_id", "title", "abstract", "text", "authors", "year", "date", "doi", "arxiv_id",
    "url", "urls", "tags", "n_authors", "upvotes", "notes",
}  # fmt: skip
# Each field a row gives, and the columns it is read from, best first, as `_header_key` writes them:
# litkb's own names, a spreadsheet's (Title, Authors, Year, DOI, Abstract), Zotero's CSV export (Key,
# Publication Year, Author, Abstract Note, Url, Date, Manual Tags), Scopus's (Author full names, EID,
# Link, Author Keywords) and the Excel export of Web of Science (Article Title, Author Full Names,
# UT (Unique WOS ID)). `urls` is read from every column named; every other field from the first of its
# columns that is filled in that row.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "key", "eid", "ut (unique wos id)"),
    "title": ("title", "article title", "document title"),
    "abstract": ("abstract", "text", "abstract note"),
    "authors": ("author full names", "authors", "author", "author(s)"),
    "year": ("year", "publication year"),
    "date": ("date",),
    "doi": ("doi",),
    "arxiv_id": ("arxiv id", "arxiv"),
    "urls": ("urls", "url", "link"),
    "tags": ("tags", "manual tags", "keywords", "author keywords"),
    "n_authors": ("n authors",),
    "upvotes": ("upvotes",),
    "notes": ("notes",),
}
# Web of Science's tab-delimited export names its columns by two-letter tags (PT, AU, TI, ...). Its `ID`
# is Keywords Plus, not an id: UT (the accession number) is the record's id.
_WOS_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("ut",),
    "title": ("ti",),
    "abstract": ("ab",),
    "authors": ("af", "au"),
    "year": ("py",),
    "doi": ("di",),
    "tags": ("de",),
}
_TITLE_NAMES = "Title (any case), Article Title, Document Title or TI"
_AUTHOR_IDS = re.compile(r"\s*\(\d+\)")  # Scopus's "Smith, Anna (57200000001)"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # what JSON writes a surrogate as (a pair or not)


def _header_key(name: str) -> str:
    """A column name as it is matched: case, spaces, `_` and `-` aside (`Publication_Year` = `publication
    year`)."""
    return " ".join(name.replace("_", " ").replace("-", " ").casefold().split())


def _columns(headers: Iterable[str]) -> dict[str, list[str]]:
    """Which of `headers` each field is read from (see `_COLUMNS`)."""
    by_key: dict[str, str] = {}
    for header in headers:
        if header.strip():
            by_key.setdefault(_header_key(header), header)
    wos = "ti" in by_key and ("pt" in by_key or "ut" in by_key) and "title" not in by_key
    out: dict[str, list[str]] = {}
    for name, wanted in (_WOS_COLUMNS if wos else _COLUMNS).items():
        found = [by_key[key] for key in wanted if key in by_key]
        if found:
            out[name] = found
    return out


class _Columns:
    """The columns of the rows of one input: which are read as which field, and what to say about it."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], dict[str, list[str]]] = {}
        self.used: dict[str, str] = {}  # column -> the field it gave, for every column that gave one
        self._order: dict[str, int] = {}  # column -> where it was first met

    def of(self, row: dict[str, Any]) -> dict[str, list[str]]:
        headers = tuple(row)
        if headers not in self._seen:
            self._seen[headers] = _columns(headers)
            for header in headers:
                self._order.setdefault(header, len(self._order))
        return self._seen[headers]

    def said(self, source_name: str) -> list[str]:
        """One line naming the columns read, when any is not litkb's own name for what it gave."""
        if all(header in _KNOWN for header in self.used):
            return []
        read = ", ".join(
            f"{header} as {name}"
            for header, name in sorted(self.used.items(), key=lambda u: self._order[u[0]])
        )
        return [f"{source_name}: read the columns {read} (any others are kept under extra)"]


def _first_char(text: str) -> str:
    stripped = text.lstrip()
    return stripped[:1]


def detect_jsonl(text: str, filename: str) -> float:
    first = _first_char(text)
    if first == "{":
        return 0.9
    if first == "[" and re.match(r"\s*\[\s*(\{|\])", text):
        return 0.8
    if filename.lower().endswith((".jsonl", ".ndjson", ".json")):
        return 0.3
    return 0.0


_DELIMITERS = ",;\t|"


def _delimiter(header: str) -> str:
    """The delimiter of a header row: the one of `, ; TAB |` that splits it into the most columns
    (commas win ties; a header of one column is comma-separated)."""
    return max(_DELIMITERS, key=lambda d: (header.count(d), d == ","))


def detect_csv(text: str, filename: str) -> float:
    header = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    columns = {c.strip().strip('"') for c in header.split(_delimiter(header))} - {""}
    if "title" in _columns(columns) and len(columns) > 1:
        return 0.8
    if filename.lower().endswith((".csv", ".tsv", ".tab")):
        return 0.3
    return 0.0


def parse_jsonl(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    columns = _Columns()
    for line_no, row in _json_rows(text, options, result):
        if isinstance(row, dict):
            row = {str(k).strip(): v for k, v in row.items()}
        found = columns.of(row) if isinstance(row, dict) else {}
        _add_row(row, found, columns.used, line_no, options, result, "jsonl")
    result.assumed += columns.said(options.source_name)
    return result


def _not_unicode(row: Any, where: str, what: str, result: ParseResult) -> bool:
    """Whether a loaded row holds a lone surrogate (JSON's `\\ud800` escapes one; no file can store it):
    if so it is skipped, with a warning naming it."""
    bad = lone_surrogate(row)
    if bad is None:
        return False
    result.warnings.append(
        f"{where}: skipped {what} whose text is not valid Unicode (a lone surrogate \\u{ord(bad):04x})"
    )
    result.skipped += 1
    return True


def _json_rows(text: str, options: ParseOptions, result: ParseResult) -> Iterator[tuple[int, Any]]:
    name = options.source_name
    if _first_char(text) == "[":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            result.warnings.append(f"{name}:{exc.lineno}: not valid JSON: {exc.msg}")
            result.skipped += 1
            return
        if not isinstance(rows, list):
            result.warnings.append(f"{name}: expected a JSON array of objects")
            return
        check = _SURROGATE_ESCAPE.search(text) is not None
        for number, row in enumerate(rows, start=1):
            if not (check and _not_unicode(row, f"{name}:{number}", "an object", result)):
                yield number, row
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            result.warnings.append(f"{name}:{line_no}: skipped a line that is not valid JSON ({exc.msg})")
            result.skipped += 1
            continue
        if _SURROGATE_ESCAPE.search(line) and _not_unicode(row, f"{name}:{line_no}", "a line", result):
            continue
        yield line_no, row


def parse_csv(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text.split("\n", 1)[0]))
    columns = _Columns()
    start = 2  # line 1 is the header
    try:
        headers = [h.strip() for h in reader.fieldnames or []]
        if "title" not in _columns(headers):  # not one row can have a title: say so once
            result.skipped = sum(1 for _ in reader)
            named = ", ".join(h for h in headers[:8] if h) + (", ..." if len(headers) > 8 else "")
            result.problem = (
                f"{options.source_name}:1: no column of titles (the columns: {named}); "
                f"name one {_TITLE_NAMES}"
            )
            return result
        for raw in reader:
            row = {str(k).strip(): v for k, v in raw.items() if k is not None and str(k).strip()}
            _add_row(row, columns.of(row), columns.used, start, options, result, "csv")
            start = reader.line_num + 1
    except csv.Error as exc:
        result.warnings.append(f"{options.source_name}:{reader.line_num}: CSV error: {exc}")
        result.skipped += 1
    result.assumed += columns.said(options.source_name)
    return result


def _add_row(
    row: Any,
    columns: dict[str, list[str]],
    used: dict[str, str],
    line_no: int,
    options: ParseOptions,
    result: ParseResult,
    fmt: str,
) -> None:
    """One row as a paper: each field read from its columns (see `_columns`), the rest kept in `extra`;
    `used` learns which column gave which field."""
    where = f"{options.source_name}:{line_no}"
    if not isinstance(row, dict):
        result.warnings.append(f"{where}: skipped a row that is not an object")
        result.skipped += 1
        return
    row = {k: _blank_to_none(v) for k, v in row.items()}
    taken: dict[str, str] = {}  # column -> field, for what this row's values gave
    value: dict[str, Any] = {}  # field -> the value of the first of its columns filled in this row
    for name, names in columns.items():
        for column in names:
            if row.get(column) is not None:
                taken[column] = name
                value[name] = row[column]
                if name != "urls":
                    break
    get = value.get
    title = _text(get("title"))
    if not title:
        result.warnings.append(f"{where}: skipped a row without a title")
        result.skipped += 1
        return
    author_text = get("authors")
    if isinstance(author_text, str):
        author_text = _AUTHOR_IDS.sub("", author_text)
    authors = _names(author_text)
    date_text, year_text = _text(get("date")), _text(get("year"))
    date_raw = date_text or year_text
    date, year = parse_loose_date(date_raw) if date_raw else (None, None)
    if year_text and date_text:  # a year column beside a date: the date's year unless it has none
        year_given = parse_loose_date(year_text)[1]
        if year is None:
            year = year_given
        elif year_given != year:  # they disagree: the year column is kept under extra
            taken.pop(next(c for c, n in taken.items() if n == "year"))
    urls = [url for column in columns.get("urls", ()) for url in _list(row.get(column))]
    try:
        n_authors = _int(get("n_authors"))
        upvotes = _int(get("upvotes"))
    except ValueError as exc:
        result.warnings.append(f"{where}: skipped a row: {exc}")
        result.skipped += 1
        return
    tags = _list(get("tags"), separators=(";", ","))
    result.papers.append(
        Paper(
            title=" ".join(title.split()),
            external_id=_text(get("external_id")),
            abstract=_text(get("abstract")),
            authors=authors,
            n_authors=n_authors if n_authors is not None else (len(authors) or None),
            date=date,
            date_raw=date_raw,
            year=year,
            upvotes=upvotes,
            urls=list(dict.fromkeys(urls)),
            doi=_text(get("doi")),
            arxiv_id=_text(get("arxiv_id")),
            tags=tags,
            notes=_text(get("notes")),
            sources=[Source(file=options.source_file, format=fmt, position=len(result.papers) + 1)],
            extra={k: v for k, v in row.items() if k not in taken and k not in _KNOWN and v is not None},
        )
    )
    if not taken.keys() <= used.keys():
        used.update(taken)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, found {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a whole number, found {value!r}") from None


def _list(value: Any, separators: tuple[str, ...] = ()) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    text = str(value)
    for sep in separators:
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text.strip()] if text.strip() else []


def _names(value: Any) -> list[str]:
    """Authors from a list, or from text separated by `;` or by ` and ` as in BibTeX."""
    if isinstance(value, list):
        return _list(value)
    text = _text(value)
    if not text:
        return []
    parts = text.split(";") if ";" in text else _AND.split(text)
    names: list[str] = []
    for part in parts:
        pieces = [p.strip() for p in part.split(",")]
        # "A. Smith, B. Jones" lists names; "Smith, Anna" is one name, surname first.
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces):
            names.extend(pieces)
        elif part.strip():
            names.append(" ".join(part.split()))
    return names


register(Parser("jsonl", "JSON Lines (or a JSON array), one paper per object", detect_jsonl, parse_jsonl))
register(Parser("csv", "CSV or TSV with a header row naming the columns", detect_csv, parse_csv))
