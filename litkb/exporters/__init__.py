"""Output formats: each exporter is a plain function `(papers, context) -> text`, registered by name.

The command decides where the text goes (stdout or a file); exporters never write anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import UsageError
from ..models import Paper
from ..themeset import ThemeSet


@dataclass
class ExportContext:
    """What an exporter may need beyond the papers: stable citation keys and the saved themes."""

    citekeys: dict[str, str] = field(default_factory=dict)
    themes: ThemeSet | None = None
    ascii: bool = False  # BibTeX: plain ASCII (accent commands, `?` for other scripts) instead of UTF-8

    def theme_label(self, paper_id: str) -> str | None:
        if self.themes is None or paper_id not in self.themes.assignments:
            return None
        theme_id = self.themes.assignments[paper_id]
        return next((t.label for t in self.themes.themes if t.id == theme_id), None)


def paper_url(paper: Paper) -> str | None:
    """The paper's own page where known (DOI, arXiv), else the first link it gives (often its code)."""
    if paper.doi:
        return f"https://doi.org/{paper.doi}"
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return paper.urls[0] if paper.urls else None


Exporter = Callable[[Sequence[Paper], ExportContext], str]
EXPORTERS: dict[str, Exporter] = {}


def exporter(name: str) -> Callable[[Exporter], Exporter]:
    def register(function: Exporter) -> Exporter:
        EXPORTERS[name] = function
        return function

    return register


def get_exporter(name: str) -> Exporter:
    _load_builtin()
    if name not in EXPORTERS:
        raise UsageError(f"unknown export format '{name}'; known formats: {', '.join(sorted(EXPORTERS))}")
    return EXPORTERS[name]


def export_formats() -> list[str]:
    _load_builtin()
    return sorted(EXPORTERS)


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        from . import bibtex, csl_json, markdown  # noqa: F401  (registering is the import's effect)

        _loaded = True
