"""Trends: how the papers of each theme and area are spread over the months, and what grew since a date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .themeset import ThemeSet


@dataclass
class Trend:
    """How a theme's (or an area's) papers are spread over time."""

    months: dict[str, int]
    undated: int
    since: int | None = None  # papers dated on or after the `since` date
    growth: float | None = None  # their share against the knowledge base's share (1.0 = as many as usual)
    rising: bool = False  # among the themes that grew most since then


RISING = 3  # themes marked as grown most, at most
RISING_MIN = 2  # new papers a theme needs to be marked


def months(dates: Sequence[str | None]) -> tuple[dict[str, int], int]:
    """Papers per month (`YYYY-MM`, in order) of these dates, and how many have none."""
    counted: dict[str, int] = {}
    for date in dates:
        if date:
            counted[date[:7]] = counted.get(date[:7], 0) + 1
    return dict(sorted(counted.items())), sum(1 for d in dates if not d)


def trends(
    theme_set: ThemeSet, dates: dict[str, str | None], since: str | None
) -> dict[str, dict[int, Trend]]:
    """Per theme and per area: papers per month, undated ones apart, and growth since `since`."""
    groups: dict[str, dict[int, list[str]]] = {
        "themes": {t.id: theme_set.members(t.id) for t in theme_set.themes},
        "areas": {a.id: theme_set.area_members(a.id) for a in theme_set.areas},
    }
    every = [dates.get(pid) for pid in theme_set.assignments]
    overall = sum(1 for d in every if d and since and d >= since) / max(1, len(every))
    out: dict[str, dict[int, Trend]] = {}
    for kind, members in groups.items():
        out[kind] = {}
        for key, ids in members.items():
            counted, undated = months([dates.get(pid) for pid in ids])
            trend = Trend(counted, undated)
            if since is not None:
                trend.since = sum(1 for pid in ids if (dates.get(pid) or "") >= since)
                share = trend.since / max(1, len(ids))
                trend.growth = round(share / overall, 2) if overall else None
            out[kind][key] = trend
        if since is not None:
            ranked = sorted(
                (t for t in out[kind].values() if (t.since or 0) >= RISING_MIN and (t.growth or 0) > 1.0),
                key=lambda t: -(t.growth or 0),
            )
            for trend in ranked[:RISING]:
                trend.rising = True
    return out
