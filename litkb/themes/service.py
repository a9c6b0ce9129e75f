"""Running themes on a knowledge base: clustering its indexed papers (or keeping the saved themes and
putting newly indexed papers into the nearest one), looking themes and areas up, their trends, the map."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from ..errors import IndexMissingError, NotFoundError, UsageError
from ..fsutil import atomic_write_text
from ..index.vectors import VectorIndex
from ..models import Paper, paper_url
from ..wording import count_is, plural
from .build import add_areas, build_theme_set
from .cluster import centroids
from .map import MapPoint, layout_2d, render_map
from .themeset import Area, Theme, ThemeSet
from .trends import Trend, trends


class ThemeService:
    """The themes of the knowledge base at `root` (saved in its `themes.yaml`), from the vectors of
    `vectors`; `writing` holds its write lock while it saves, `warn` is told what the caller should hear."""

    def __init__(
        self,
        root: Path,
        vectors: VectorIndex,
        writing: Callable[[], AbstractContextManager[None]],
        warn: Callable[[str], None],
    ) -> None:
        self.root = root
        self.vectors = vectors
        self.model = vectors.model
        self.writing = writing
        self.warn = warn

    def themes(self, papers: Sequence[Paper], k: int | None = None, rebuild: bool = False) -> ThemeSet:
        """The saved themes (with papers indexed since then assigned to the nearest theme), or a new
        clustering when none is saved, `rebuild` is set or `k` differs."""
        saved = ThemeSet.load(self.root)
        if saved is not None and not rebuild and k in (None, saved.k) and saved.model == self.model:
            if not self._out_of_date(saved, [p.id for p in papers]):
                return saved  # read without the write lock: a read-only knowledge base shows its themes
            with self.writing():
                saved = ThemeSet.load(self.root) or saved  # as it is now that no one else writes it
                self.assign_new_papers(saved, [p.id for p in papers])
                if not saved.areas:  # saved by an older litkb: group its themes, keep the themes as they are
                    self._add_areas(saved, papers)
            return saved
        ids, matrix = self.vectors.own_vectors([p.id for p in papers])
        if len(ids) < 2:
            raise IndexMissingError(
                "themes need at least 2 indexed papers; add papers with `litkb ingest` and run `litkb index`"
            )
        if k is not None and k > len(ids):
            indexed = plural(len(ids), "indexed paper")
            raise UsageError(f"asked for {k} themes but the knowledge base has {indexed}")
        if len(ids) < len(papers):
            self.warn(f"{count_is(len(papers) - len(ids), 'paper')} not indexed yet; run `litkb index`")
        by_id = {p.id: p for p in papers}
        texts = [by_id[i].embedded_text() for i in ids]
        theme_set = build_theme_set(ids, matrix, texts, k, self.model)
        with self.writing():
            theme_set.save(self.root)
        return theme_set

    def saved(self) -> ThemeSet:
        """The saved themes; an error when there are none."""
        saved = ThemeSet.load(self.root)
        if saved is None:
            raise NotFoundError("the knowledge base has no themes yet; run `litkb themes`")
        return saved

    def theme_members(self, ref: str) -> tuple[Theme, list[str]]:
        """A saved theme (by id or label) and its papers' ids."""
        saved = self.saved()
        theme = saved.find(ref)
        return theme, saved.members(theme.id)

    def area_members(self, ref: str) -> tuple[Area, list[str]]:
        """A saved area (by id or label) and its papers' ids."""
        saved = self.saved()
        area = saved.find_area(ref)
        return area, saved.area_members(area.id)

    def trends(
        self, theme_set: ThemeSet, papers: Sequence[Paper], since: str | None = None
    ) -> dict[str, dict[int, Trend]]:
        """Papers per month of every theme and area, and with `since` what grew (see `trends`)."""
        return trends(theme_set, {p.id: p.date for p in papers}, since)

    def forget(self, paper_ids: Sequence[str]) -> None:
        """Take removed papers out of the saved themes (the caller holds the write lock)."""
        saved = ThemeSet.load(self.root)
        if saved is not None and any(pid in saved.assignments for pid in paper_ids):
            for pid in paper_ids:
                saved.assignments.pop(pid, None)
            saved.save(self.root)

    def after_index(self, ids: Iterable[str]) -> None:
        """After the index changed: papers (of `ids`, every paper's) new to it join the nearest saved theme
        (the caller holds the write lock)."""
        saved = ThemeSet.load(self.root)
        if saved is not None and saved.model == self.model:
            self.assign_new_papers(saved, ids)

    def _out_of_date(self, saved: ThemeSet, ids: Sequence[str]) -> bool:
        """Whether the saved themes lack areas, name a removed paper, or lack an indexed paper."""
        if not saved.areas or not saved.assignments.keys() <= set(ids):
            return True
        new = [pid for pid in ids if pid not in saved.assignments]
        return bool(new) and bool(self.vectors.own_vectors(new)[0])

    def assign_new_papers(self, saved: ThemeSet, ids: Iterable[str]) -> None:
        """Put papers (of `ids`, every paper's) indexed since the clustering into the nearest theme; forget
        removed papers."""
        current = set(ids)
        changed = False
        for gone in [pid for pid in saved.assignments if pid not in current]:
            del saved.assignments[gone]
            changed = True
        new = sorted(current - set(saved.assignments))
        if new:
            new_ids, new_vectors = self.vectors.own_vectors(new)
            old_ids, old_vectors = self.vectors.own_vectors(sorted(saved.assignments))
            if new_ids and old_ids:
                labels = [saved.assignments[pid] - 1 for pid in old_ids]
                present = sorted(set(labels))
                cents = centroids(old_vectors, [present.index(x) for x in labels], len(present))
                nearest = (new_vectors @ cents.T).argmax(axis=1)
                for pid, index in zip(new_ids, nearest.tolist(), strict=True):
                    saved.assignments[pid] = present[index] + 1
                changed = True
        if changed:
            saved.save(self.root)

    def _add_areas(self, saved: ThemeSet, papers: Sequence[Paper]) -> None:
        """Group saved themes (of a themes.yaml without areas) into areas, and save."""
        ids, matrix = self.vectors.own_vectors(sorted(saved.assignments))
        if not ids:
            return
        by_id = {p.id: p for p in papers}
        add_areas(saved, ids, matrix, [by_id[i].embedded_text() for i in ids])
        saved.save(self.root)

    def write_map(self, path: Path, theme_set: ThemeSet, papers: Sequence[Paper]) -> int:
        """Write the themes' map (self-contained HTML) to `path`; returns the number of papers drawn."""
        ids, matrix = self.vectors.own_vectors(sorted(theme_set.assignments))
        by_id = {p.id: p for p in papers}
        points = [
            MapPoint(
                title=by_id[pid].title,
                year=by_id[pid].year,
                theme=theme_set.assignments[pid],
                id=pid,
                url=paper_url(by_id[pid]),
                area=area.id if (area := theme_set.area_of(theme_set.assignments[pid])) else 1,
            )
            for pid in ids
        ]
        html = render_map(points, layout_2d(matrix).tolist(), theme_set.themes, theme_set.areas)
        atomic_write_text(path, html)
        return len(points)
