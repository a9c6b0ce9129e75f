"""Output: Rich tables for people, JSON for pipes. Data goes to stdout, messages and progress to stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .doctor import Finding
from .identity import Duplicate, source_kind
from .index.search import SearchResult
from .index.snippets import matched_terms
from .models import Paper
from .themes.themeset import Area, Theme, ThemeSet
from .themes.trends import Trend
from .wording import plural

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay one line each


def print_json(data: Any, lines: bool = False) -> None:
    """JSON on stdout, never wrapped or coloured; `lines` prints one compact object per line."""
    if lines:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2))


def line(text: str) -> None:
    """One line of plain data on stdout, never wrapped (a terminal folds it; a pipe gets it whole)."""
    out.print(escape(text), soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {escape(message)}")


def error(message: str) -> None:
    """An error the command goes on after (it exits non-zero at its end): one line, as the CLI says them."""
    err.print(f"[red]Error:[/red] {escape(message)}")


def info(message: str) -> None:
    err.print(escape(message))


def highlighted(text: str, query: str | None) -> Text:
    """`text` with the words that match the query in bold."""
    out = Text(text)
    if query:
        words = matched_terms(query, text)
        if words:
            out.highlight_regex(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", "bold yellow")
    return out


def results_table(results: Sequence[SearchResult], heading: str, query: str | None = None) -> None:
    if not results:
        info("No results.")
        return
    table = Table(title=escape(heading), show_lines=True, title_justify="left")
    table.add_column("#", justify="right", style="bold")
    table.add_column("title", style="cyan", ratio=2)
    table.add_column("year", justify="right")
    labelled = any(hit["match"] is not None for hit in results)
    by_meaning = any(hit["similarity"] is not None for hit in results)
    table.add_column("match" if labelled else "similarity" if by_meaning else "score", justify="right")
    table.add_column("snippet", ratio=3, style="dim")
    for hit in results:
        if hit["match"] is not None and hit["similarity"] is not None:
            closeness = f"{hit['match']}\n{hit['similarity']:.2f}"  # how close in meaning, in words
        elif hit["similarity"] is not None:
            closeness = f"{hit['similarity']:.2f}"
        else:
            closeness = f"{hit['score']:.3f}"
        snippet = highlighted(hit["snippet"], query)
        if hit.get("page") is not None:  # found through the full text: the page and the quote first
            found = Text(f"p. {hit['page']}: ", style="bold")
            found.append_text(highlighted(f"\u201c{hit.get('quote') or ''}\u201d", query))
            snippet = found.append("\n").append_text(snippet) if hit["snippet"] else found
        title = highlighted(hit["title"], query)
        table.add_row(str(hit["rank"]), title, str(hit["year"] or ""), closeness, snippet)
    out.print(table)


_CRITERIA = {"size": "chosen from the collection's size", "silhouette": "chosen by silhouette"}


def themes_table(
    theme_set: ThemeSet, by_id: dict[str, Paper], trends: dict[int, Trend], since: str | None
) -> None:
    """The themes grouped under their areas; with `since`, a column of the papers dated since then."""
    criterion = _CRITERIA.get(theme_set.criterion, "as asked")
    title = f"{theme_set.k} themes in {plural(len(theme_set.areas), 'area')}, {criterion}"
    table = _groups_table(title, since, "representative papers")
    order: list[tuple[Area | None, list[Theme]]] = [
        (a, [t for t in theme_set.themes if t.area == a.id]) for a in theme_set.areas
    ] or [(None, theme_set.themes)]
    for area, members in order:
        if area is not None:
            size = len(theme_set.area_members(area.id))
            heading = Text(f"Area {area.id}: {area.label} ({plural(size, 'paper')})", style="bold magenta")
            table.add_section()
            table.add_row("", heading, "", *([""] if since is not None else []), "")
        for theme in members:
            titles = [escape(by_id[pid].title) for pid in theme.representative if pid in by_id]
            cells = [str(theme.id), escape(theme.label), str(theme_set.size(theme.id))]
            if since is not None:
                cells.append(_since_cell(trends[theme.id]))
            table.add_row(*cells, "\n".join(titles))
    out.print(table)


def areas_table(theme_set: ThemeSet, trends: dict[int, Trend], since: str | None) -> None:
    table = _groups_table(plural(len(theme_set.areas), "area"), since, "themes")
    for area in theme_set.areas:
        themes = [f"{t.id}. {t.label}" for t in theme_set.themes if t.id in area.themes]
        cells = [str(area.id), escape(area.label), str(len(theme_set.area_members(area.id)))]
        if since is not None:
            cells.append(_since_cell(trends[area.id]))
        table.add_row(*cells, escape("\n".join(themes)))
    out.print(table)


def _groups_table(title: str, since: str | None, last: str) -> Table:
    """A table of themes or areas: id, label, size, papers new since a date (when given), `last`."""
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("id", justify="right", style="bold")
    table.add_column("label", style="cyan", ratio=2)
    table.add_column("size", justify="right")
    if since is not None:
        table.add_column(f"new since {since}", justify="right")
    table.add_column(last, ratio=3)
    return table


def _since_cell(trend: Trend) -> str:
    """`12 (x2.1) ▲`: papers since the date, their share against the knowledge base's, rising mark."""
    text = f"{trend.since}"
    if trend.growth is not None:
        text += f" (x{trend.growth:.1f})"
    return text + (" ▲" if trend.rising else "")


def doctor_table(findings: Sequence[Finding]) -> None:
    styles = {"ok": "green", "warning": "yellow", "problem": "bold red"}
    table = Table(title="litkb doctor", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("area", style="cyan", no_wrap=True)
    table.add_column("finding", ratio=1)
    for finding in findings:
        table.add_row(Text(finding.level, style=styles[finding.level]), finding.area, escape(finding.message))
    out.print(table)


def next_table(rows: Sequence[tuple[Paper, float, list[str]]]) -> None:
    """Suggestions: each with the liked or read paper it is closest to and their similarity."""
    if not rows:
        info("Nothing unread to suggest.")
        return
    table = Table(title="What to read next", title_justify="left", show_lines=True)
    table.add_column("#", justify="right", style="bold")
    table.add_column("title", style="cyan", ratio=3)
    table.add_column("year", justify="right")
    table.add_column("similar to what you liked or read", ratio=3, style="dim")
    table.add_column("similarity", justify="right")
    for rank, (paper, similarity, because) in enumerate(rows, start=1):
        table.add_row(
            str(rank),
            escape(paper.title),
            str(paper.year or ""),
            escape("; ".join(because)),
            f"{similarity:.2f}",
        )
    out.print(table)


def duplicates_table(found: Sequence[Duplicate], papers: dict[str, Paper]) -> None:
    """The merge plan, grouped under each record kept: every record on its own lines, its whole id first
    (never wrapped or cut: it is copied into other commands), then its title, and its year and inputs
    (the better-sourced record is the one kept), then why it is a duplicate."""
    if not found:
        info("No likely duplicates.")
        return
    groups = len({d.keep for d in found})
    out.print(f"{plural(len(found), 'record')} to merge into {plural(groups, 'kept record')}", style="bold")
    previous = None
    for dup in found:
        if dup.keep != previous:
            out.print()
            _plan_entry("keep", dup.keep, papers.get(dup.keep), "cyan")
            previous = dup.keep
        _plan_entry("merge", dup.drop, papers.get(dup.drop), "")
        out.print(escape(f"       why: {dup.reason}"), style="dim")


def _plan_entry(label: str, paper_id: str, paper: Paper | None, style: str) -> None:
    out.print(f"{label:<6} {paper_id}", style=style or None, no_wrap=True, crop=False, overflow="ignore")
    if paper is None:
        return
    out.print(escape(f"       {paper.title}"))
    inputs = ", ".join(f"{s.file} ({source_kind(s.format)})" for s in paper.sources)
    facts = [str(paper.year) if paper.year else "", inputs]
    out.print(escape("       " + " · ".join(f for f in facts if f)), style="dim")


WIDE = 130  # from this many columns, `list` is a table with a column of whole ids


def papers_table(papers: Sequence[Paper], total: int) -> None:
    """The papers with their ids, never wrapped or cut (a copied id must be the whole id): a table on a
    wide terminal, else each paper on three lines (title; date, upvotes, authors; id)."""
    heading = f"{len(papers)} of {plural(total, 'paper')}"
    if out.width < WIDE:
        out.print(heading, style="bold")
        for number, paper in enumerate(papers):
            if number:
                out.print()
            facts = [paper.date or (str(paper.year) if paper.year else "")]
            if paper.upvotes is not None:
                facts.append(plural(paper.upvotes, "upvote"))
            facts.append(authors_text(paper, short=True))
            out.print(f"[cyan]{escape(paper.title)}[/cyan]")
            out.print(escape(" · ".join(f for f in facts if f)), style="dim")
            out.print(paper.id, no_wrap=True, crop=False, overflow="ignore")
        return
    table = Table(title=heading, title_justify="left")
    table.add_column("title", style="cyan", ratio=3, min_width=20)
    table.add_column("date", no_wrap=True)
    table.add_column("upvotes", justify="right")
    table.add_column("authors", ratio=1)
    width = max((len(p.id) for p in papers), default=2)
    table.add_column("id", style="dim", no_wrap=True, overflow="ignore", min_width=width)
    for paper in papers:
        table.add_row(
            escape(paper.title),
            paper.date or (str(paper.year) if paper.year else ""),
            "" if paper.upvotes is None else str(paper.upvotes),
            authors_text(paper, short=True),
            paper.id,
        )
    out.print(table)


def print_ids(ids: Sequence[str]) -> None:
    """One id per line, nothing else (`--ids-only`, for scripts)."""
    for paper_id in ids:
        print(paper_id)


def authors_text(paper: Paper, short: bool = False) -> str:
    """The authors as people read them (`Zachary Ankner; Rishab Parthasarathy`); `short`: the first
    with `et al.` after three."""
    from .names import display_name, display_names

    if paper.authors:
        if short and len(paper.authors) > 3:
            return escape(f"{display_name(paper.authors[0])} et al.")
        return escape(display_names(paper))
    if paper.n_authors is not None:
        return f"{paper.n_authors} author{'s' if paper.n_authors != 1 else ''}"
    return ""


def paper_detail(paper: Paper) -> None:
    out.print(f"[bold cyan]{escape(paper.title)}[/bold cyan]")
    status = paper.status or "unread"
    if paper.status_date:
        status += f" (since {paper.status_date})"
    rows = [
        ("id", paper.id),
        ("also known as", ", ".join(paper.aliases) or None),  # ids of records merged into it
        ("citation key", paper.citation_key),
        ("external id", paper.external_id),
        ("authors", authors_text(paper) or None),
        ("posted by", paper.organization["name"] if paper.organization else None),
        ("date", paper.date or (str(paper.year) if paper.year else None)),
        ("date as written", paper.date_raw),
        ("upvotes", None if paper.upvotes is None else str(paper.upvotes)),
        ("doi", paper.doi),
        ("arxiv", paper.arxiv_id),
        ("urls", ", ".join(paper.urls) or None),
        ("tags", ", ".join(paper.tags) or None),
        ("status", status),
        ("rating", {"like": "liked", "dislike": "disliked"}.get(paper.rating or "")),
        ("sources", "; ".join(f"{s.file} ({s.format}, #{s.position})" for s in paper.sources) or None),
        ("files", "; ".join(f"{f['path']} ({f.get('pages', '?')} pages)" for f in paper.files) or None),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value:
            grid.add_row(label, value if label == "authors" else escape(value))
    for key, value in paper.extra.items():
        grid.add_row(escape(str(key)), escape(_zotero(value) if key == "zotero" else str(value)))
    out.print(grid)
    if paper.abstract:
        out.print()
        out.print(escape(paper.abstract))
    if paper.notes:
        out.print()
        out.print("[bold]notes[/bold]")
        out.print(escape(paper.notes))


def page_texts(pages: Sequence[tuple[int, str]]) -> None:
    """Pages of extracted text, each under a rule with its number."""
    for number, text in pages:
        out.rule(f"page {number}", style="dim")
        out.print(escape(text), soft_wrap=True)


def _zotero(info: Any) -> str:
    """A record's Zotero identity as shown: `user/KEY (modified ...)`, then its PDFs, a line each (the
    bookkeeping that keeps it in step left out)."""
    if not isinstance(info, dict):
        return str(info)
    lines = [f"{info.get('library')}/{info.get('key')} (modified in Zotero {info.get('modified')})"]
    for pdf in info.get("pdfs") or []:
        if isinstance(pdf, dict):
            lines.append(f"{pdf.get('path')}{' (missing)' if pdf.get('missing') else ''}")
    return "\n".join(lines)


@contextmanager
def progress_bar(description: str, finish: bool = False) -> Iterator[Any]:
    """A progress bar on stderr, shown from the first `update(done, total)` with work to do; with
    `finish`, taken away when all is done (so that another can follow inside the same `with`)."""
    bar: Progress | None = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if total <= 0:
                return
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
            )
            bar.start()
            task = bar.add_task(description, total=total)
        bar.update(task, completed=done, total=total)
        if finish and done >= total:
            bar.stop()
            bar = None

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()
