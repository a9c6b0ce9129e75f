"""Output formats: each exporter is a plain function `(papers, context) -> text`, registered by name.

The command decides where the text goes (stdout or a file); exporters never write anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..models import Paper, paper_url
from ..names import citation_keys
from ..registry import Registry
from ..themes.themeset import ThemeSet

__all__ = ["ExportContext", "Exporter", "export_formats", "exporter", "get_exporter", "paper_url"]


@dataclass
class ExportContext:
    """What an exporter may need beyond the papers: stable citation keys and the saved themes."""

    citekeys: dict[str, str] = field(default_factory=dict)
    themes: ThemeSet | None = None
    ascii: bool = False  # BibTeX: plain ASCII (accent commands, `?` for other scripts) instead of UTF-8
    files_root: Path | None = None  # the knowledge base's folder: attached files are shown by absolute path

    def file_paths(self, paper: Paper) -> list[Path]:
        """Where a paper's attached files are: absolute (a copy's path under `files_root`; a linked file's
        own), or as recorded when there is no root."""
        out = []
        for entry in paper.files:
            path = Path(str(entry.get("path", "")))
            if not path.is_absolute() and self.files_root is not None:
                path = (self.files_root / path).resolve()
            out.append(path)
        return out

    @classmethod
    def of(cls, papers: Sequence[Paper], root: Path, ascii: bool = False) -> ExportContext:
        """The context for exporting from the knowledge base at `root`: citation keys over all its `papers`
        (so a paper's key never depends on the selection), and its saved themes."""
        return cls(citekeys=citation_keys(papers), themes=ThemeSet.load(root), ascii=ascii, files_root=root)

    def theme_label(self, paper_id: str) -> str | None:
        if self.themes is None or paper_id not in self.themes.assignments:
            return None
        theme_id = self.themes.assignments[paper_id]
        return next((t.label for t in self.themes.themes if t.id == theme_id), None)


Exporter = Callable[[Sequence[Paper], ExportContext], str]
EXPORTERS: Registry[Exporter] = Registry("export format", __name__, ("bibtex", "csl_json", "markdown"))


def exporter(name: str) -> Callable[[Exporter], Exporter]:
    def register(function: Exporter) -> Exporter:
        return EXPORTERS.add(name, function)

    return register


def get_exporter(name: str) -> Exporter:
    return EXPORTERS.get(name)


def export_formats() -> list[str]:
    return EXPORTERS.names()
