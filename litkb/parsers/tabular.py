"""Row formats: JSON Lines (or a JSON array of objects) and CSV, one paper per row. CSV may be separated
by commas, semicolons (what Excel writes in much of Europe), tabs (TSV) or bars: the header row says which.

Known columns: `id` or `_id` (kept as `external_id`), `title`, `abstract` or `text`, `authors` (a JSON
list, or names separated by `;` or ` and `), `year` or `date`, `doi`, `arxiv_id`, `url` or `urls`,
`tags`, `n_authors`, `upvotes`, `notes`. Every other column is kept under `extra`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from ..models import Paper, Source, parse_loose_date
from . import ParseOptions, Parser, ParseResult, register

_AND = re.compile(r"\s+and\s+")
_KNOWN = {
    "id", "_id", "title", "abstract", "text", "authors", "year", "date", "doi", "arxiv_id",
    "url", "urls", "tags", "n_authors", "upvotes", "notes",
}  # fmt: skip


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
    header = text.lstrip("\ufeff").split("\n", 1)[0].strip().lower()
    columns = {c.strip().strip('"') for c in header.split(_delimiter(header))}
    if "title" in columns and len(columns) > 1:
        return 0.8
    if filename.lower().endswith((".csv", ".tsv", ".tab")):
        return 0.3
    return 0.0


def parse_jsonl(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    for line_no, row in _json_rows(text, options, result):
        _add_row(row, line_no, options, result, "jsonl")
    return result


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
        yield from ((i, row) for i, row in enumerate(rows, start=1))
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as exc:
            result.warnings.append(f"{name}:{line_no}: skipped a line that is not valid JSON ({exc.msg})")
            result.skipped += 1


def parse_csv(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text.split("\n", 1)[0]))
    start = 2  # line 1 is the header
    try:
        for row in reader:
            _add_row(dict(row), start, options, result, "csv")
            start = reader.line_num + 1
    except csv.Error as exc:
        result.warnings.append(f"{options.source_name}:{reader.line_num}: CSV error: {exc}")
        result.skipped += 1
    return result


def _add_row(row: Any, line_no: int, options: ParseOptions, result: ParseResult, fmt: str) -> None:
    where = f"{options.source_name}:{line_no}"
    if not isinstance(row, dict):
        result.warnings.append(f"{where}: skipped a row that is not an object")
        result.skipped += 1
        return
    row = {str(k).strip(): _blank_to_none(v) for k, v in row.items() if k is not None}
    title = _text(row.get("title"))
    if not title:
        result.warnings.append(f"{where}: skipped a row without a title")
        result.skipped += 1
        return
    authors = _names(row.get("authors"))
    date_raw = _text(row.get("date")) or _text(row.get("year"))
    date, year = parse_loose_date(date_raw) if date_raw else (None, None)
    urls = _list(row.get("urls")) + _list(row.get("url"))
    try:
        n_authors = _int(row.get("n_authors"))
        upvotes = _int(row.get("upvotes"))
    except ValueError as exc:
        result.warnings.append(f"{where}: skipped a row: {exc}")
        result.skipped += 1
        return
    result.papers.append(
        Paper(
            title=" ".join(title.split()),
            external_id=_text(row.get("id")) or _text(row.get("_id")),
            abstract=_text(row.get("abstract")) or _text(row.get("text")),
            authors=authors,
            n_authors=n_authors if n_authors is not None else (len(authors) or None),
            date=date,
            date_raw=date_raw,
            year=year,
            upvotes=upvotes,
            urls=list(dict.fromkeys(urls)),
            doi=_text(row.get("doi")),
            arxiv_id=_text(row.get("arxiv_id")),
            tags=_list(row.get("tags"), separators=(";", ",")),
            notes=_text(row.get("notes")),
            sources=[Source(file=options.source_file, format=fmt, position=len(result.papers) + 1)],
            extra={k: v for k, v in row.items() if k not in _KNOWN and v is not None},
        )
    )


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
