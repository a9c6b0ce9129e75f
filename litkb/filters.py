"""Selecting papers: the one filter that `search`, `related`, `list` and `export` share, and the orders
papers are listed in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import UsageError
from .models import STATUSES, UNREAD, Paper, parse_iso_date

_RANGE = re.compile(r"^\s*(\d{4})?\s*(?:\.\.|-)\s*(\d{4})?\s*$")


@dataclass(frozen=True)
class YearRange:
    low: int | None
    high: int | None

    def __contains__(self, year: object) -> bool:
        if not isinstance(year, int):
            return False
        return (self.low is None or year >= self.low) and (self.high is None or year <= self.high)


def parse_years(text: str) -> YearRange:
    """`2023`, `2022..2024`, `2022..` or `..2024`."""
    value = text.strip()
    if value.isdigit() and len(value) == 4:
        return YearRange(int(value), int(value))
    match = _RANGE.match(value)
    if match and (match.group(1) or match.group(2)):
        low = int(match.group(1)) if match.group(1) else None
        high = int(match.group(2)) if match.group(2) else None
        if low is not None and high is not None and low > high:
            raise UsageError(f"--year {text}: the range is empty (from {low} to {high})")
        return YearRange(low, high)
    raise UsageError(f"--year {text}: expected a year such as 2023 or a range such as 2022..2024")


def parse_since(text: str) -> str:
    """`--since 2024-06-01` (or `2024-06`, `2024`) as the ISO date it starts from."""
    value = text.strip()
    for candidate in (value, f"{value}-01", f"{value}-01-01"):
        if parse_iso_date(candidate) is not None and len(candidate) == 10:
            return candidate
    raise UsageError(f"--since {text}: expected a date such as 2024-06-01, 2024-06 or 2024")


def parse_statuses(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`--status` values, each one of the reading statuses or `unread`; an error naming the valid ones."""
    known = (*STATUSES, UNREAD)
    for value in values:
        if value not in known:
            raise UsageError(f"--status {value}: unknown reading status; use one of {', '.join(known)}")
    return tuple(values)


@dataclass
class PaperFilter:
    """Conditions a paper must all meet; an unset one lets every paper through."""

    years: YearRange | None = None
    since: str | None = None
    min_upvotes: int | None = None
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    ids: frozenset[str] | None = None
    # A theme and an area (id or label): the knowledge base turns them into `ids` (see
    # `KnowledgeBase.resolve`) before the filter is applied.
    theme: str | None = None
    area: str | None = None
    # The options as they were typed (`--year 2022..2024`), kept for saving a search.
    typed: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_options(
        cls,
        year: str | None = None,
        since: str | None = None,
        min_upvotes: int | None = None,
        tag: Sequence[str] = (),
        author: Sequence[str] = (),
        source: Sequence[str] = (),
        status: Sequence[str] = (),
        theme: str | None = None,
        area: str | None = None,
    ) -> PaperFilter:
        """The filter the command-line options (or a saved search's) ask for; an error naming a bad value."""
        typed = {
            "theme": theme, "area": area, "year": year, "since": since, "min_upvotes": min_upvotes,
            "tag": list(tag), "author": list(author), "source": list(source), "status": list(status),
        }  # fmt: skip
        return cls(
            years=parse_years(year) if year else None,
            since=parse_since(since) if since else None,
            min_upvotes=min_upvotes,
            tags=tuple(tag),
            authors=tuple(author),
            sources=tuple(source),
            statuses=parse_statuses(tuple(status)),
            theme=theme,
            area=area,
            typed={name: value for name, value in typed.items() if value not in (None, [])},
        )

    def active(self) -> bool:
        conditions = (
            self.years,
            self.since,
            self.min_upvotes is not None,
            self.tags,
            self.authors,
            self.sources,
        )
        return (
            any(conditions)
            or bool(self.statuses)
            or self.ids is not None
            or self.theme is not None
            or self.area is not None
        )

    def check_values(self, papers: list[Paper]) -> None:
        """A tag or source that no paper has is a mistake (a typo), not an empty selection: say so, with
        the values there are."""
        if self.tags:
            known = sorted({tag for paper in papers for tag in paper.tags})
            for tag in self.tags:
                if tag not in known:
                    shown = ", ".join(known[:20]) or "none yet"
                    raise UsageError(f"--tag {tag}: no paper has this tag (tags: {shown})")
        if self.sources:
            names = {value for paper in papers for s in paper.sources for value in (s.file, s.format)}
            folded = {name.casefold() for name in names}
            for source in self.sources:
                if source.casefold() not in folded:
                    shown = ", ".join(sorted(names)[:20])
                    raise UsageError(
                        f"--source {source}: no paper came from a file or format of that name ({shown})"
                    )

    def __call__(self, paper: Paper) -> bool:
        if self.years is not None and paper.year not in self.years:
            return False
        if self.since is not None and (paper.date or f"{paper.year or 0:04d}-12-31") < self.since:
            return False
        if self.min_upvotes is not None and (paper.upvotes or 0) < self.min_upvotes:
            return False
        if self.tags and not all(tag in paper.tags for tag in self.tags):
            return False
        if self.authors and not all(_has_author(paper, name) for name in self.authors):
            return False
        if self.sources and not any(_from_source(paper, source) for source in self.sources):
            return False
        if self.statuses and not any(
            paper.unread if status == UNREAD else paper.status == status for status in self.statuses
        ):
            return False
        return self.ids is None or paper.id in self.ids


def _has_author(paper: Paper, name: str) -> bool:
    wanted = name.casefold().strip()
    names = list(paper.authors) + ([paper.organization["name"]] if paper.organization else [])
    return any(wanted in author.casefold() for author in names)


def _from_source(paper: Paper, source: str) -> bool:
    wanted = source.casefold()
    return any(wanted in (s.file.casefold(), s.format.casefold()) for s in paper.sources)


class SortKey(StrEnum):
    DATE = "date"
    UPVOTES = "upvotes"
    YEAR = "year"
    TITLE = "title"
    ID = "id"


def sort_papers(papers: Sequence[Paper], key: SortKey, reverse: bool = False) -> list[Paper]:
    """Newest / most upvoted first for date, year and upvotes; A-Z for title and id. Unknown values last."""
    descending = key in (SortKey.DATE, SortKey.UPVOTES, SortKey.YEAR)
    if reverse:
        descending = not descending

    if key is SortKey.DATE:
        values = [p.date or (f"{p.year:04d}" if p.year else None) for p in papers]
    elif key is SortKey.TITLE:
        values = [p.title.casefold() for p in papers]
    else:
        values = [getattr(p, key.value) for p in papers]
    known = sorted(
        ((v, p.id, p) for v, p in zip(values, papers, strict=True) if v is not None),
        key=lambda row: (row[0], row[1]),
        reverse=descending,
    )
    unknown = [p for v, p in zip(values, papers, strict=True) if v is None]
    return [p for _, _, p in known] + unknown


def newest_first(papers: Sequence[Paper]) -> list[Paper]:
    """By date (or year), newest first; ties and undated papers by id, descending."""
    return sorted(papers, key=lambda p: (p.date or f"{p.year or 0:04d}", p.id), reverse=True)
