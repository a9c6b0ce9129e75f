"""Choosing papers: a filter made concrete for a knowledge base (its theme and area turned into the ids of
the saved themes, its tags and sources checked against every paper), and the papers it lets through, in
the order asked for. `KnowledgeBase.resolve`, `select` and its filtered searches call these."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .filters import PaperFilter, SortKey, newest_first, sort_papers
from .models import Paper
from .themes.service import ThemeService


def resolve(where: PaperFilter, papers: Sequence[Paper], themes: ThemeService) -> PaperFilter:
    """A copy of `where` with its theme and area turned into ids, its tags and sources checked against
    `papers`, the whole knowledge base (a tag no paper has is a typo, not an empty selection)."""
    where.check_values(list(papers))
    ids = where.ids
    for members in (
        set(themes.theme_members(where.theme)[1]) if where.theme is not None else None,
        set(themes.area_members(where.area)[1]) if where.area is not None else None,
    ):
        if members is not None:
            ids = frozenset(members if ids is None else ids & members)
    return dataclasses.replace(where, ids=ids, theme=None, area=None)


def allowed(
    theme: str | None,
    where: PaperFilter | None,
    papers: Callable[[], Sequence[Paper]],
    themes: ThemeService,
) -> set[str] | None:
    """The ids a filtered search may return (of `papers()`, read only when something is filtered), or
    None when nothing is."""
    if theme is None and (where is None or not where.active()):
        return None
    where = where or PaperFilter()
    if theme is not None:
        where = dataclasses.replace(where, theme=theme)
    every = papers()
    keep = resolve(where, every, themes)
    return {p.id for p in every if keep(p)}


def named(keep: PaperFilter, ids: Sequence[str]) -> PaperFilter:
    """`keep` narrowed to the papers `ids` (resolved ids)."""
    chosen = frozenset(ids)
    return dataclasses.replace(keep, ids=chosen if keep.ids is None else keep.ids & chosen)


def chosen(
    papers: Sequence[Paper],
    keep: PaperFilter,
    ranked: Sequence[str] | None = None,
    sort: SortKey | None = None,
    reverse: bool = False,
) -> list[Paper]:
    """The papers `keep` lets through: in the order of the `ranked` ids (a search's, of those that have
    a record) when given, else by `sort` (default: newest first)."""
    if ranked is not None:
        by_id = {p.id: p for p in papers}
        return [by_id[pid] for pid in ranked if pid in by_id and keep(by_id[pid])]
    kept = [p for p in papers if keep(p)]
    return sort_papers(kept, sort, reverse) if sort is not None else newest_first(kept)
