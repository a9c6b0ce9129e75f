"""The Hugging Face "Daily Papers" page, as text copied from a browser.

Each paper is a title line, its abstract (one or more paragraphs), a line with the number of authors
(`• 4 authors`) or the posting organisation (`apple Apple`: handle, then name), a line `·`, and a date
line (`Feb 21, 2023`, `Sep 23`, `Feb 7 4`, `Jul 12, 2024 2`: an optional year, then an optional
upvote count). The page header (`Daily Papers`, `byAK ...`, the page's own date) comes first.

The page omits the year of dates in the page's own year. The page year is taken, in this order, from
`--year`, from the page date when it carries one, and otherwise as the year after the latest year
written on the page (dates of earlier years carry their year); only a page with no year anywhere
falls back to the current year, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as Date

from ..models import Paper, Source
from ..wording import shorten
from . import ParseOptions, Parser, ParseResult, register

FORMAT = "hf-daily"
SEPARATOR = "·"

_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}
_DATE_LINE = re.compile(
    r"^(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:,\s*(?P<year>\d{4}))?(?:\s+(?P<upvotes>\d+))?$"
)
_AUTHORS_LINE = re.compile(r"^(?:[•·*-]\s*)?(?P<count>\d+)\s+authors?$", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"']+")
_URL_TRAILING = ".,;:!?'\""
_HEADER_LINES = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}


@dataclass
class _DateLine:
    month: int
    day: int
    year: int | None
    upvotes: int | None
    raw: str


def _parse_date_line(line: str) -> _DateLine | None:
    match = _DATE_LINE.match(line.strip())
    if not match:
        return None
    month = _MONTHS.get(match["month"][:3].lower())
    if month is None or (len(match["month"]) > 3 and not _full_month(match["month"], month)):
        return None
    day = int(match["day"])
    if not 1 <= day <= 31:
        return None
    year = int(match["year"]) if match["year"] else None
    upvotes = int(match["upvotes"]) if match["upvotes"] else None
    raw = line.strip()
    if upvotes is not None:
        raw = raw[: raw.rfind(match["upvotes"])].rstrip()
    return _DateLine(month, day, year, upvotes, raw)


def _full_month(word: str, month: int) -> bool:
    names = ["january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december"]  # fmt: skip
    return word.lower().rstrip(".") in (names[month - 1], "sept")


def _unmatched_close(url: str) -> bool:
    """A closing bracket at the end with no opening one in the URL belongs to the sentence."""
    pairs = {")": "(", "]": "["}
    last = url[-1]
    return last in pairs and url.count(pairs[last]) < url.count(last)


def extract_urls(text: str) -> list[str]:
    """Links in the text, without a sentence's closing punctuation or an unmatched closing bracket."""
    urls: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and (url[-1] in _URL_TRAILING or _unmatched_close(url)):
            url = url[:-1]
        if url and url not in urls:
            urls.append(url)
    return urls


def detect(text: str, filename: str) -> float:
    lines = [line.strip() for line in text[:200_000].splitlines()]
    hits = sum(
        1
        for i, line in enumerate(lines[:-1])
        if line == SEPARATOR and _parse_date_line(lines[i + 1]) is not None
    )
    if hits:
        return 0.9
    if any(line.lower() in _HEADER_LINES for line in lines[:20]):
        return 0.5
    return 0.0


@dataclass
class _Entry:
    """A paper's lines before the year is known: where it starts, its text lines, meta and date."""

    line_no: int
    text: list[tuple[int, str]]
    meta: str | None
    date: _DateLine


def parse(text: str, options: ParseOptions) -> ParseResult:
    name = options.source_name
    lines = [line.rstrip() for line in text.splitlines()]
    result = ParseResult()
    page_date, body_start = _read_header(lines)

    entries: list[_Entry] = []
    block: list[tuple[int, str]] = []  # (1-based line number, text) since the last paper
    i = body_start
    while i < len(lines):
        line = lines[i].strip()
        if line != SEPARATOR:
            block.append((i + 1, line))
            i += 1
            continue
        sep_no = i + 1
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        date_line = _parse_date_line(lines[j]) if j < len(lines) else None
        if date_line is None:
            shown = repr(shorten(lines[j])) if j < len(lines) else "the end of the file"
            filled = [(n, t) for n, t in block if t]
            start_no, title = filled[0] if filled else (sep_no, "")
            result.warnings.append(
                f"{name}:{start_no}: skipped the entry {shorten(title)!r}: expected a date on line "
                f"{j + 1} after '·', found {shown}"
            )
            result.skipped += 1
            block = []
            i = j + 1  # the line in the date's place belongs to the broken entry
            continue
        entry = _make_entry(block, date_line, name, sep_no, result)
        if entry is not None:
            entries.append(entry)
        block = []
        i = j + 1

    leftover = [(n, t) for n, t in block if t]
    if leftover:
        result.warnings.append(
            f"{name}:{leftover[0][0]}: skipped text after the last paper "
            f"(no '·' and date line follow it): {shorten(leftover[0][1])!r}"
        )
        result.skipped += 1

    page_year = _page_year(options.year, page_date, entries, result, name)
    listing_date = _iso(page_year, page_date.month, page_date.day) if page_date else None
    for position, entry in enumerate(entries, start=1):
        paper = _to_paper(entry, page_year, listing_date, position, options, result)
        if paper is not None:
            result.papers.append(paper)
    return result


def _read_header(lines: list[str]) -> tuple[_DateLine | None, int]:
    """The page's own date and the index of the first line after the header."""
    page_date = None
    start = 0
    for i, raw in enumerate(lines[:40]):
        line = raw.strip()
        if not line:
            continue
        if line.lower() in _HEADER_LINES:
            start = i + 1
            continue
        parsed = _parse_date_line(line)
        if parsed is not None and parsed.upvotes is None and (start > 0 or page_date is None):
            # A bare date before the first title is the page's date.
            page_date = parsed
            start = i + 1
            continue
        break
    return page_date, start


def _make_entry(
    block: list[tuple[int, str]], date_line: _DateLine, name: str, sep_no: int, result: ParseResult
) -> _Entry | None:
    filled = [(n, t) for n, t in block if t]
    if not filled:
        result.warnings.append(f"{name}:{sep_no}: skipped an entry with no title before '·'")
        result.skipped += 1
        return None
    meta: str | None = None
    last_no, last = filled[-1]
    if _AUTHORS_LINE.match(last.lstrip("• ").strip()) or _looks_like_org(last):
        meta = last
        filled = filled[:-1]
    if not filled:
        result.warnings.append(f"{name}:{last_no}: skipped an entry with no title")
        result.skipped += 1
        return None
    # Keep blank-line structure of the block for paragraph joining.
    first_no = filled[0][0]
    text_lines = [(n, t) for n, t in block if first_no <= n <= filled[-1][0]]
    return _Entry(first_no, text_lines, meta, date_line)


def _looks_like_org(line: str) -> bool:
    """`apple Apple`: a short line of a handle and a name, no sentence punctuation."""
    words = line.split()
    return 1 <= len(words) <= 8 and len(line) <= 80 and not re.search(r"[.!?;:]$", line)


def _page_year(
    year_option: int | None,
    page_date: _DateLine | None,
    entries: list[_Entry],
    result: ParseResult,
    name: str,
) -> int:
    if year_option is not None:
        return year_option
    if page_date is not None and page_date.year is not None:
        return page_date.year
    # The page's own date (the listing date) needs the year too.
    undated = any(e.date.year is None for e in entries) or page_date is not None
    years = [e.date.year for e in entries if e.date.year is not None]
    if years:
        if undated:
            result.assumed.append(
                f"{name}: the page's date and dates without a year taken as {max(years) + 1}, the year "
                "after the latest one on the page (use --year to set it)"
            )
        return max(years) + 1
    this_year = Date.today().year
    if undated:
        result.assumed.append(
            f"{name}: the page gives no year anywhere; dates without one taken as {this_year}, this year "
            "(use --year to set it)"
        )
    return this_year


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return Date(year, month, day).isoformat()
    except ValueError:
        return None


def _to_paper(
    entry: _Entry,
    page_year: int,
    listing_date: str | None,
    position: int,
    options: ParseOptions,
    result: ParseResult,
) -> Paper | None:
    name, source_file = options.source_name, options.source_file
    title = entry.text[0][1].strip()
    paragraphs: list[str] = []
    current: list[str] = []
    for _, line in entry.text[1:]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    abstract = " ".join(" ".join(p.split()) for p in paragraphs) or None

    year = entry.date.year if entry.date.year is not None else page_year
    iso = _iso(year, entry.date.month, entry.date.day)
    if iso is None:
        result.warnings.append(f"{name}:{entry.line_no}: '{entry.date.raw}' is not a real date")

    n_authors = None
    organization = None
    if entry.meta is not None:
        match = _AUTHORS_LINE.match(entry.meta.lstrip("• ").strip())
        if match:
            n_authors = int(match["count"])
        else:
            handle, _, org_name = entry.meta.partition(" ")
            organization = {"handle": handle, "name": org_name.strip() or handle}

    return Paper(
        title=" ".join(title.split()),
        abstract=abstract,
        n_authors=n_authors,
        organization=organization,
        date=iso,
        date_raw=entry.date.raw,
        year=year if iso is not None else entry.date.year,
        upvotes=entry.date.upvotes,
        urls=extract_urls(abstract or ""),
        sources=[Source(file=source_file, format=FORMAT, listing_date=listing_date, position=position)],
    )


register(
    Parser(
        name=FORMAT,
        description='Hugging Face "Daily Papers" page copied as text',
        detect=detect,
        parse=parse,
    )
)
