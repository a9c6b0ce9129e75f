"""Selecting papers: the filters that `export`, `list` and `search` share."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

    def active(self) -> bool:
        conditions = (
            self.years,
            self.since,
            self.min_upvotes is not None,
            self.tags,
            self.authors,
            self.sources,
        )
        return any(conditions) or bool(self.statuses) or self.ids is not None

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
