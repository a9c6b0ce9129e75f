"""The Hugging Face Daily Papers API: `GET /api/daily_papers` with `date` (YYYY-MM-DD), `week`
(YYYY-Www) or `month` (YYYY-MM), `limit` and `p` (the page). No key is needed.

Each entry: `paper` (`id`: the arXiv id, `title`, `summary`, `authors` [{name}], `publishedAt`,
`submittedOnDailyAt`: the day it was featured, `upvotes`, `githubRepo`, `githubStars`, `projectPage`,
`organization`, `ai_summary`, `ai_keywords`) and, beside it, `numComments` (and often `title`, `summary`,
`publishedAt`, `organization` again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..models import Paper, Source, parse_loose_date
from ..wording import shorten
from .http import Fetched, FetchError, HttpClient, NotAsked

SERVICE = "Hugging Face Daily Papers"
FORMAT = "hf-api"
PATH = "/api/daily_papers"
PAGE = 100  # entries asked for a page (the API's largest)
MAX_PAGES = 50
TODAY_LIFETIME = 3600.0  # a list that can still gain papers: an hour
PAST_LIFETIME = 86400.0  # a past day's list can still gain upvotes: a day


@dataclass
class Listing:
    """One request's worth of a range: a day, a week or a month."""

    key: str  # date, week or month
    value: str

    @property
    def name(self) -> str:
        return f"{FORMAT}-{self.value}"


def listings(
    date: str | None = None,
    week: str | None = None,
    month: str | None = None,
    start: str | None = None,
    end: str | None = None,
    today: dt.date | None = None,
) -> list[Listing]:
    """What to ask for: one of a date, a week, a month or a range of dates (one request a day); nothing
    given: today (UTC)."""
    given = [name for name, value in (("--date", date), ("--week", week), ("--month", month)) if value]
    if start or end:
        given.append("--from/--to")
    if len(given) > 1:
        raise UsageError(f"give one of --date, --week, --month or --from/--to, not {' and '.join(given)}")
    if week:
        year, _, number = week.partition("-W")
        if not (year.isdigit() and number.isdigit() and 1 <= int(number) <= 53):
            raise UsageError(f"--week {week}: expected a week such as 2025-W47")
        return [Listing("week", f"{int(year):04d}-W{int(number):02d}")]
    if month:
        try:
            dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise UsageError(f"--month {month}: expected a month such as 2025-11") from None
        return [Listing("month", month)]
    if start or end:
        if not (start and end):
            raise UsageError("--from and --to go together: give both dates")
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise UsageError(f"--from {start} --to {end}: the range is empty")
        if (last - first).days > 366:
            raise UsageError("--from/--to: at most a year at a time (use --month for whole months)")
        return [
            Listing("date", (first + dt.timedelta(days=n)).isoformat())
            for n in range((last - first).days + 1)
        ]
    day = _day(date, "--date") if date else (today or dt.datetime.now(dt.UTC).date())
    return [Listing("date", day.isoformat())]


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text}: expected a date such as 2025-11-18") from None


def lifetime(listing: Listing, today: dt.date | None = None) -> float:
    """How long a fetched listing is served from the cache: an hour while it can still gain papers (today,
    this week, this month), a day once it is past (upvotes keep coming)."""
    now = today or dt.datetime.now(dt.UTC).date()
    current = {"date": now.isoformat(), "month": now.isoformat()[:7], "week": _iso_week(now)}
    return TODAY_LIFETIME if listing.value >= current[listing.key] else PAST_LIFETIME


def _iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def fetch(client: HttpClient, base: str, wanted: list[Listing]) -> Fetched:
    """Every paper of the listings, all pages read. A listing that fails is named in `failures`; the
    others are kept."""
    out = Fetched()
    for listing in wanted:
        try:
            entries = _entries(client, base, listing)
        except NotAsked:
            continue  # summed up by the client's notes
        except FetchError as exc:
            out.failures.append(f"{listing.value}: {exc}")
            continue
        for position, entry in enumerate(entries, start=1):
            paper = to_paper(entry, listing, position, out.warnings)
            if paper is None:
                out.skipped += 1
            else:
                out.papers.append(paper)
    return out


def _entries(client: HttpClient, base: str, listing: Listing) -> list[Any]:
    entries: list[Any] = []
    url = f"{base}{PATH}"
    for page in range(MAX_PAGES):
        params = {listing.key: listing.value, "limit": PAGE, "p": page}
        data = client.get_json(SERVICE, url, lifetime(listing), params)
        if not isinstance(data, list):
            raise FetchError(
                f"{SERVICE}: {url} answered {type(data).__name__}, not a list of papers; try again later",
                SERVICE,
                url,
            )
        entries += data
        if len(data) < PAGE:
            break
    return entries


def to_paper(entry: Any, listing: Listing, position: int, warnings: list[str]) -> Paper | None:
    """One entry as a record; None (with a warning) for one without a title."""
    where = f"{SERVICE} {listing.value}, entry {position}"
    if not isinstance(entry, dict):
        warnings.append(f"{where}: not an object; skipped")
        return None
    paper: dict[str, Any] = entry["paper"] if isinstance(entry.get("paper"), dict) else {}
    title = _text(paper.get("title")) or _text(entry.get("title"))
    if not title:
        warnings.append(f"{where}: no title; skipped")
        return None
    authors_raw = paper.get("authors")
    authors = [
        name
        for a in (authors_raw if isinstance(authors_raw, list) else [])
        if (name := _text(_get(a, "name")))
    ]
    if authors_raw is not None and not isinstance(authors_raw, list):
        warnings.append(f"{where} ('{shorten(title)}'): authors are not a list; left out")
    arxiv_id = _text(paper.get("id"))
    published = _text(paper.get("publishedAt")) or _text(entry.get("publishedAt"))
    date, year = parse_loose_date(published) if published else (None, None)
    featured = _text(paper.get("submittedOnDailyAt")) or _text(entry.get("submittedOnDailyAt"))
    listing_date = featured[:10] if featured else (listing.value if listing.key == "date" else None)
    organization = paper.get("organization") or entry.get("organization")
    urls = []
    if arxiv_id:
        urls += [f"https://arxiv.org/abs/{arxiv_id}", f"https://huggingface.co/papers/{arxiv_id}"]
    urls += [u for u in (_text(paper.get("githubRepo")), _text(paper.get("projectPage"))) if u]
    extra = {
        name: value
        for name, value in (
            ("ai_keywords", paper.get("ai_keywords")),
            ("ai_summary", paper.get("ai_summary")),
            ("githubStars", paper.get("githubStars")),
            ("numComments", entry.get("numComments")),
        )
        if value not in (None, "", [])
    }
    return Paper(
        title=title,
        abstract=_text(paper.get("summary")) or _text(entry.get("summary")),
        authors=authors,
        n_authors=len(authors) or None,
        organization=_organization(organization),
        date=date,
        date_raw=published,
        year=year,
        upvotes=paper.get("upvotes") if isinstance(paper.get("upvotes"), int) else None,
        urls=urls,
        arxiv_id=arxiv_id,
        sources=[Source(file=listing.name, format=FORMAT, listing_date=listing_date, position=position)],
        extra=extra,
    )


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _organization(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    handle = _text(value.get("name"))
    name = _text(value.get("fullname")) or handle
    return {"handle": handle or name, "name": name} if name else None
