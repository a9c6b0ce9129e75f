"""Markdown export: a reading list grouped by theme (or by year), and one note per paper with YAML
front matter for note-taking tools such as Obsidian."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from ..fsutil import write_new_files
from ..models import Paper
from ..text import sentences
from . import ExportContext, exporter, paper_url

SENTENCES = 2
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md_escape(text: str) -> str:
    """Text that Markdown shows as itself (no emphasis, links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def first_sentences(text: str | None, count: int = SENTENCES) -> str:
    if not text:
        return ""
    return " ".join(sentences(text)[:count])


def _byline(paper: Paper) -> str:
    from ..names import display_names

    parts = []
    if paper.authors:
        parts.append(display_names(paper))
    elif paper.n_authors:
        parts.append(f"{paper.n_authors} author{'s' if paper.n_authors != 1 else ''}")
    if paper.organization:
        parts.append(f"posted by {paper.organization['name']}")
    if paper.upvotes is not None:
        parts.append(f"{paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}")
    if paper.tags:
        parts.append("tags: " + ", ".join(paper.tags))
    return md_escape(" · ".join(parts))


def paper_section(paper: Paper, level: int = 3, context: ExportContext | None = None) -> str:
    year = f" ({paper.year})" if paper.year else ""
    url = paper_url(paper)
    title = md_escape(paper.title)
    heading = f"{'#' * level} [{title}](<{url}>){year}" if url else f"{'#' * level} {title}{year}"
    lines = [heading, ""]
    byline = _byline(paper)
    if byline:
        lines += [byline, ""]
    summary = first_sentences(paper.abstract)
    if summary:
        lines += [md_escape(summary), ""]
    files = (context or ExportContext()).file_paths(paper)
    if files:
        links = [f"[{md_escape(p.name)}](<{p.as_uri() if p.is_absolute() else p.as_posix()}>)" for p in files]
        lines += ["PDF: " + ", ".join(links), ""]
    return "\n".join(lines)


def _groups(papers: Sequence[Paper], context: ExportContext) -> list[tuple[str, list[Paper]]]:
    if context.themes is not None and any(p.id in context.themes.assignments for p in papers):
        groups = []
        for theme in context.themes.themes:
            members = [p for p in papers if context.themes.assignments.get(p.id) == theme.id]
            if members:
                groups.append((f"Theme {theme.id}: {theme.label}", members))
        rest = [p for p in papers if p.id not in context.themes.assignments]
        if rest:
            groups.append(("Not yet in a theme", rest))
        return groups
    years = sorted({p.year for p in papers if p.year}, reverse=True)
    groups = [(str(y), [p for p in papers if p.year == y]) for y in years]
    undated = [p for p in papers if not p.year]
    if undated:
        groups.append(("Year unknown", undated))
    return groups


@exporter("markdown")
def to_markdown(papers: Sequence[Paper], context: ExportContext) -> str:
    out = [f"# Reading list ({len(papers)} paper{'s' if len(papers) != 1 else ''})", ""]
    for heading, members in _groups(papers, context):
        out += [f"## {md_escape(heading)} ({len(members)})", ""]
        out += [paper_section(p, context=context) for p in members]
    return "\n".join(out).rstrip() + "\n"


def paper_note(paper: Paper, context: ExportContext) -> str:
    """One paper as a Markdown note with YAML front matter (title, id, year, tags, theme)."""
    front = {
        "title": paper.title,
        "id": paper.id,
        "year": paper.year,
        "tags": list(paper.tags),
        "theme": context.theme_label(paper.id),
    }
    if paper.id in context.citekeys:
        front["citekey"] = context.citekeys[paper.id]
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    body = [paper_section(paper, level=1, context=context)]
    if paper.abstract:
        body += ["## Abstract", "", md_escape(paper.abstract), ""]
    if paper.notes:
        body += ["## Notes", "", paper.notes.strip(), ""]
    return f"---\n{head}---\n\n" + "\n".join(body).rstrip() + "\n"


def write_notes(papers: Sequence[Paper], context: ExportContext, directory: Path, force: bool = False) -> int:
    """One note per paper (`<id>.md`, see `paper_note`) in `directory`; files already there are replaced
    only with `force`. How many were written."""
    notes = [(f"{p.id}.md", paper_note(p, context)) for p in papers]
    return write_new_files(directory, notes, force, "note")
