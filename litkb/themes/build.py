"""Building a theme set: cluster the papers, group the themes into areas, label both, and pick each
theme's representative papers (see `litkb.themes.cluster` and `litkb.themes.labels`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .cluster import cluster, group_areas, representatives
from .labels import label_terms, make_label
from .themeset import Area, Theme, ThemeSet

if TYPE_CHECKING:
    import numpy as np


def build_theme_set(
    ids: Sequence[str], matrix: np.ndarray, texts: Sequence[str], k: int | None, model: str
) -> ThemeSet:
    """Cluster the papers (rows of `matrix`, texts for labels) into themes, group the themes into areas,
    label both, and pick each theme's representative papers."""
    found = cluster(matrix, k)
    theme_areas = group_areas(matrix, found.labels, found.k)
    terms = label_terms(texts, found.labels, found.k, groups=theme_areas)
    closest = representatives(matrix, found.labels, found.k)
    n_areas = max(theme_areas) + 1
    area_terms = label_terms(texts, [theme_areas[c] for c in found.labels], n_areas)
    return ThemeSet(
        model=model,
        criterion=found.criterion,
        themes=[
            Theme(
                id=c + 1,
                label=make_label(terms[c]),
                terms=terms[c],
                representative=[ids[i] for i in closest[c]],
                area=theme_areas[c] + 1,
            )
            for c in range(found.k)
        ],
        assignments={pid: label + 1 for pid, label in zip(ids, found.labels, strict=True)},
        areas=[
            Area(
                id=a + 1,
                label=make_label(area_terms[a]),
                terms=area_terms[a],
                themes=[c + 1 for c in range(found.k) if theme_areas[c] == a],
            )
            for a in range(n_areas)
        ],
    )


def add_areas(theme_set: ThemeSet, ids: Sequence[str], matrix: np.ndarray, texts: Sequence[str]) -> None:
    """Group the themes of a saved set that has no areas (written by an older litkb) into areas, in
    place: the themes, their ids and labels stay as they were."""
    present = sorted({theme_set.assignments[pid] for pid in ids})  # themes with papers in the index
    labels = [present.index(theme_set.assignments[pid]) for pid in ids]
    grouped = group_areas(matrix, labels, len(present))
    area_of = {theme_id: grouped[i] for i, theme_id in enumerate(present)}
    count = max(grouped) + 1
    area_terms = label_terms(texts, [grouped[c] for c in labels], count)
    for theme in theme_set.themes:
        theme.area = area_of.get(theme.id, 0) + 1  # a theme left without papers joins the largest area
    theme_set.areas = [
        Area(
            id=a + 1,
            label=make_label(area_terms[a]),
            terms=area_terms[a],
            themes=[t.id for t in theme_set.themes if t.area == a + 1],
        )
        for a in range(count)
    ]
