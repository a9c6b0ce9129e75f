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

from .errors import AmbiguousError, LitkbError, NotFoundError
from .fsutil import atomic_write_text
from .themes import Theme

THEMES_FILE = "themes.yaml"
THEMES_SCHEMA = 1


@dataclass
class ThemeSet:
    model: str
    criterion: str
    themes: list[Theme]
    assignments: dict[str, int] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.themes)

    def members(self, theme_id: int) -> list[str]:
        return sorted(pid for pid, tid in self.assignments.items() if tid == theme_id)

    def size(self, theme_id: int) -> int:
        return sum(1 for tid in self.assignments.values() if tid == theme_id)

    def find(self, ref: str) -> Theme:
        """A theme by its id, or by its label (case-insensitive; a unique part of it will do)."""
        text = ref.strip()
        if text.isdigit():
            for theme in self.themes:
                if theme.id == int(text):
                    return theme
            raise NotFoundError(f"no theme {text}; themes are 1-{self.k} (see `litkb themes`)")
        wanted = text.casefold()
        exact = [t for t in self.themes if t.label.casefold() == wanted]
        partial = [t for t in self.themes if wanted and wanted in t.label.casefold()]
        for found in (exact, partial):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                shown = "; ".join(f"{t.id} ({t.label})" for t in found)
                raise AmbiguousError(f"'{ref}' matches several themes: {shown}; give a theme id")
        raise NotFoundError(f"no theme matches '{ref}'; see `litkb themes`")

    def dump(self) -> str:
        data = {
            "schema": THEMES_SCHEMA,
            "model": self.model,
            "criterion": self.criterion,
            "themes": [
                {"id": t.id, "label": t.label, "terms": t.terms, "representative": t.representative}
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
                )
                for t in data["themes"]
            ]
            assignments = {str(k): int(v) for k, v in (data.get("assignments") or {}).items()}
            return cls(
                model=str(data["model"]),
                criterion=str(data["criterion"]),
                themes=themes,
                assignments=assignments,
            )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LitkbError(
                f"{path}: the saved themes cannot be read ({type(exc).__name__}); "
                "run `litkb themes --rebuild`"
            ) from exc
