"""Themes and areas as the plain objects `litkb themes --json` prints (and every other interface returns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import Paper
from .themeset import ThemeSet
from .trends import Trend


def trend_object(trend: Trend) -> dict[str, Any]:
    out: dict[str, Any] = {"months": trend.months, "undated": trend.undated}
    if trend.since is not None:
        out["since"] = {"papers": trend.since, "growth": trend.growth, "rising": trend.rising}
    return out


def theme_objects(
    theme_set: ThemeSet, trends: Mapping[int, Trend], by_id: Mapping[str, Paper]
) -> list[dict[str, Any]]:
    """Every theme: id, label, size, representative papers, area, trend and papers."""
    return [
        {
            "id": t.id,
            "label": t.label,
            "size": theme_set.size(t.id),
            "representative": t.representative,
            "area": {"id": area.id, "label": area.label} if (area := theme_set.area_of(t.id)) else None,
            **trend_object(trends[t.id]),
            "papers": [
                {"id": pid, "external_id": by_id[pid].external_id, "title": by_id[pid].title}
                for pid in theme_set.members(t.id)
                if pid in by_id
            ],
        }
        for t in theme_set.themes
    ]


def area_objects(theme_set: ThemeSet, trends: Mapping[int, Trend]) -> list[dict[str, Any]]:
    """Every area: id, label, size, its themes and trend."""
    return [
        {
            "id": a.id,
            "label": a.label,
            "size": len(theme_set.area_members(a.id)),
            "themes": a.themes,
            **trend_object(trends[a.id]),
        }
        for a in theme_set.areas
    ]
