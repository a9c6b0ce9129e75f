"""CSL JSON (Zotero, Pandoc, litkb's own export): a JSON array of CSL items."""

from __future__ import annotations

import json
import re
from typing import Any

from ..models import Paper, Source, parse_iso_date
from . import ParseOptions, Parser, ParseResult, register

FORMAT = "csl-json"
_ARXIV = re.compile(r"(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)
_COUNT_NOTE = re.compile(r"^(\d+) authors?; names not given in the source listing$")


def detect(text: str, filename: str) -> float:
    head = text.lstrip()[:20000]
    if (
        head.startswith("[")
        and '"type"' in head
        and '"title"' in head
        and ('"issued"' in head or '"author"' in head)
    ):
        return 0.95
    return 0.0


def _name(person: Any) -> str | None:
    if not isinstance(person, dict):
        return None
    if person.get("literal"):
        return str(person["literal"])
    family, given = person.get("family"), person.get("given")
    if family and given:
        return f"{family}, {given}"
    return str(family or given) if (family or given) else None


def parse(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    name = options.source_name
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        result.warnings.append(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})")
        result.skipped += 1
        return result
    if not isinstance(items, list):
        items = [items]
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not str(item.get("title") or "").strip():
            result.warnings.append(f"{name}: skipped item {number}: no title")
            result.skipped += 1
            continue
        result.papers.append(_paper(item, options, len(result.papers) + 1))
    return result


def _paper(item: dict[str, Any], options: ParseOptions, position: int) -> Paper:
    authors = [n for p in item.get("author") or [] if (n := _name(p))]
    parts = (
        ((item.get("issued") or {}).get("date-parts") or [[]])[0]
        if isinstance(item.get("issued"), dict)
        else []
    )
    year = int(parts[0]) if parts and str(parts[0]).isdigit() else None
    date = None
    if len(parts) >= 3 and all(str(x).isdigit() for x in parts[:3]):
        candidate = parse_iso_date(f"{int(parts[0]):04d}-{int(parts[1]):02d}-{int(parts[2]):02d}")
        date = candidate.isoformat() if candidate else None
    arxiv = _ARXIV.match(str(item.get("number") or "")) if item.get("publisher") == "arXiv" else None
    note = str(item.get("note") or "")
    counted = _COUNT_NOTE.match(note)
    known = {
        "id",
        "type",
        "title",
        "author",
        "issued",
        "abstract",
        "DOI",
        "URL",
        "keyword",
        "note",
        "number",
        "publisher",
    }
    extra = {k: v for k, v in item.items() if k not in known}
    extra["csl_type"] = item.get("type")
    if note and not counted:
        extra["note"] = note
    if item.get("publisher") and not arxiv:
        extra["publisher"] = item["publisher"]
    url = str(item.get("URL") or "")
    derived = url.startswith(("https://doi.org/", "https://arxiv.org/abs/"))
    return Paper(
        title=" ".join(str(item["title"]).split()),
        external_id=str(item["id"]) if item.get("id") is not None else None,
        abstract=str(item["abstract"]) if item.get("abstract") else None,
        authors=authors,
        n_authors=len(authors) or (int(counted.group(1)) if counted else None),
        date=date,
        date_raw=None,
        year=year,
        urls=[url] if url and not derived else [],
        doi=str(item["DOI"]) if item.get("DOI") else None,
        arxiv_id=arxiv.group(1) if arxiv else None,
        tags=[t.strip() for t in str(item.get("keyword") or "").split(",") if t.strip()],
        sources=[Source(file=options.source_file, format=FORMAT, position=position)],
        extra={k: v for k, v in extra.items() if v is not None},
    )


register(Parser(FORMAT, "CSL JSON", detect, parse))
