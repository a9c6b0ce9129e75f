"""Selecting papers: the filters that `export`, `list` and `search` share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError
from .models import Paper

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


@dataclass
class PaperFilter:
    """Conditions a paper must all meet; an unset one lets every paper through."""

    years: YearRange | None = None
    tags: tuple[str, ...] = ()
    ids: frozenset[str] | None = None

    def __call__(self, paper: Paper) -> bool:
        if self.years is not None and paper.year not in self.years:
            return False
        if self.tags and not all(tag in paper.tags for tag in self.tags):
            return False
        return self.ids is None or paper.id in self.ids
