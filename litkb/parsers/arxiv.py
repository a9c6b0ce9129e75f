"""arXiv API responses (Atom XML), as saved from an arXiv query or feed.

Each entry gives the arXiv id without its version (the version is kept in `extra`), all authors, the
categories with the primary one first, the published and updated dates, and the DOI and journal
reference where the entry has them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..models import Paper, Source, parse_loose_date
from . import ParseOptions, Parser, ParseResult, register

FORMAT = "arxiv"
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}
_ID = re.compile(r"arxiv\.org/abs/(?P<id>.+?)(?:v(?P<version>\d+))?$")


def detect(text: str, filename: str) -> float:
    head = text[:5000]
    if "<feed" in head and "http://www.w3.org/2005/Atom" in head:
        return 0.9 if "arxiv" in text[:20000].lower() else 0.4
    return 0.2 if head.lstrip().startswith("<?xml") else 0.0


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return " ".join(element.text.split()) or None


def parse(text: str, options: ParseOptions) -> ParseResult:
    result = ParseResult()
    name = options.source_name
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        line = exc.position[0] if hasattr(exc, "position") else "?"
        result.warnings.append(f"{name}:{line}: not well-formed XML ({exc})")
        result.skipped += 1
        return result
    if root.tag != f"{{{NS['atom']}}}feed":
        result.warnings.append(f"{name}: XML, but not an Atom feed (root element {root.tag!r})")
        result.skipped += 1
        return result
    for number, entry in enumerate(root.findall("atom:entry", NS), start=1):
        paper = _paper(entry, options, len(result.papers) + 1)
        if paper is None:
            result.warnings.append(f"{name}: skipped entry {number}: no title or no arXiv id")
            result.skipped += 1
        else:
            result.papers.append(paper)
    return result


def _paper(entry: ET.Element, options: ParseOptions, position: int) -> Paper | None:
    title = _text(entry.find("atom:title", NS))
    match = _ID.search(_text(entry.find("atom:id", NS)) or "")
    if not title or not match:
        return None
    authors = [n for a in entry.findall("atom:author", NS) if (n := _text(a.find("atom:name", NS)))]
    primary = entry.find("arxiv:primary_category", NS)
    categories = [c.get("term", "") for c in entry.findall("atom:category", NS) if c.get("term")]
    if primary is not None and primary.get("term"):
        categories = [primary.get("term", "")] + [c for c in categories if c != primary.get("term")]
    published = _text(entry.find("atom:published", NS))
    date, year = parse_loose_date(published) if published else (None, None)
    extra: dict[str, object] = {"categories": categories}
    if categories:
        extra["primary_category"] = categories[0]
    if match.group("version"):
        extra["arxiv_version"] = int(match.group("version"))
    updated = _text(entry.find("atom:updated", NS))
    if updated:
        extra["updated"] = updated
    journal = _text(entry.find("arxiv:journal_ref", NS))
    if journal:
        extra["journal_ref"] = journal
    comment = _text(entry.find("arxiv:comment", NS))
    if comment:
        extra["comment"] = comment
    links = [link.get("href", "") for link in entry.findall("atom:link", NS) if link.get("href")]
    return Paper(
        title=title,
        abstract=_text(entry.find("atom:summary", NS)),
        authors=authors,
        n_authors=len(authors) or None,
        date=date,
        date_raw=published,
        year=year,
        urls=[u for u in links if "/abs/" not in u][:3],
        doi=_text(entry.find("arxiv:doi", NS)),
        arxiv_id=match.group("id"),
        sources=[Source(file=options.source_file, format=FORMAT, position=position)],
        extra=extra,
    )


register(Parser(FORMAT, "arXiv API response (Atom XML)", detect, parse))
