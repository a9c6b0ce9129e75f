"""The saved themes of a knowledge base: `themes.yaml` beside the records.

The records stay the truth: themes.yaml only says which theme each paper id was put in, with the
themes' labels, so `list`, `search` and exports use the same themes on every run until
`litkb themes --rebuild` (or another `-k`) clusters again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AmbiguousError, LitkbError, NotFoundError, UsageError
from ..fsutil import atomic_write_text


@dataclass
class Theme:
    id: int
    label: str
    terms: list[str]
    representative: list[str]
    papers: list[str] = field(default_factory=list)
    area: int = 1  # the id of the area (a group of related themes) it belongs to


@dataclass
class Area:
    """A group of related themes, the coarser level: its own label, its themes' ids."""

    id: int
    label: str
    terms: list[str]
    themes: list[int]


THEMES_FILE = "themes.yaml"
THEMES_SCHEMA = 2  # 2: areas


@dataclass
class ThemeSet:
    model: str
    criterion: str
    themes: list[Theme]
    assignments: dict[str, int] = field(default_factory=dict)
    areas: list[Area] = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.themes)

    def members(self, theme_id: int) -> list[str]:
        return sorted(pid for pid, tid in self.assignments.items() if tid == theme_id)

    def size(self, theme_id: int) -> int:
        return sum(1 for tid in self.assignments.values() if tid == theme_id)

    def area_of(self, theme_id: int) -> Area | None:
        return next((a for a in self.areas if theme_id in a.themes), None)

    def area_members(self, area_id: int) -> list[str]:
        area = next(a for a in self.areas if a.id == area_id)
        return sorted(pid for pid, tid in self.assignments.items() if tid in area.themes)

    def find(self, ref: str) -> Theme:
        """A theme by its id, or by its label (case-insensitive; a unique part of it will do)."""
        return _find(self.themes, ref, "theme", "themes", "`litkb themes`")

    def find_area(self, ref: str) -> Area:
        """An area by its id, or by its label (case-insensitive; a unique part of it will do)."""
        if not self.areas:
            raise NotFoundError("the saved themes have no areas; run `litkb themes --rebuild`")
        return _find(self.areas, ref, "area", "areas", "`litkb themes --areas`")

    def dump(self) -> str:
        data = {
            "schema": THEMES_SCHEMA,
            "model": self.model,
            "criterion": self.criterion,
            "areas": [
                {"id": a.id, "label": a.label, "terms": a.terms, "themes": a.themes} for a in self.areas
            ],
            "themes": [
                {
                    "id": t.id,
                    "label": t.label,
                    "terms": t.terms,
                    "representative": t.representative,
                    "area": t.area,
                }
                for t in self.themes
            ],
            "assignments": dict(sorted(self.assignments.items())),
        }
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    def save(self, root: Path) -> None:
        atomic_write_text(root / THEMES_FILE, self.dump())

    @classmethod
    def load(cls, root: Path) -> ThemeSet | None:
        path = root / THEMES_FILE
        if not path.exists():
            return None
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
            themes = [
                Theme(
                    id=int(t["id"]),
                    label=str(t["label"]),
                    terms=[str(x) for x in t.get("terms") or []],
                    representative=[str(x) for x in t.get("representative") or []],
                    area=int(t.get("area") or 1),
                )
                for t in data["themes"]
            ]
            areas = [
                Area(
                    id=int(a["id"]),
                    label=str(a["label"]),
                    terms=[str(x) for x in a.get("terms") or []],
                    themes=[int(x) for x in a.get("themes") or []],
                )
                for a in data.get("areas") or []
            ]
            assignments = {str(k): int(v) for k, v in (data.get("assignments") or {}).items()}
            return cls(
                model=str(data["model"]),
                criterion=str(data["criterion"]),
                themes=themes,
                assignments=assignments,
                areas=areas,
            )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LitkbError(
                f"{path}: the saved themes cannot be read ({type(exc).__name__}); "
                "run `litkb themes --rebuild`"
            ) from exc


def _find(items: list[Any], ref: str, noun: str, plural: str, see: str) -> Any:
    """A theme or an area by its id, or by its label (case-insensitive; a unique part of it will do)."""
    text = ref.strip()
    if text.isdigit():
        for item in items:
            if item.id == int(text):
                return item
        raise UsageError(f"no {noun} {text}; {plural} are 1-{len(items)} (see {see})")
    wanted = text.casefold()
    exact = [t for t in items if t.label.casefold() == wanted]
    partial = [t for t in items if wanted and wanted in t.label.casefold()]
    for found in (exact, partial):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AmbiguousError(
                f"'{ref}' matches several {plural}; give one of these ids:",
                candidates=[(str(t.id), None, t.label) for t in found],
            )
    raise UsageError(f"no {noun} matches '{ref}'; see {see}")
