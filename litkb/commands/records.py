"""`litkb show` and `litkb list`: what is in the knowledge base."""

from __future__ import annotations

from enum import StrEnum

import typer

from .. import render
from ..filters import PaperFilter, parse_statuses
from ..models import Paper
from . import open_kb
from .options import AREA, IDS_ONLY, STATUS, TAG


class SortKey(StrEnum):
    DATE = "date"
    UPVOTES = "upvotes"
    YEAR = "year"
    TITLE = "title"
    ID = "id"


def show(
    ctx: typer.Context,
    paper: str = typer.Argument(
        ..., help="A paper's id or title (forgiving: case, punctuation, unique prefix)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Show one paper's record in full.

    Example: litkb show "Mirror Speculative Decoding"
    """
    record = open_kb(ctx).get(paper)
    if as_json:
        render.print_json(record.to_dict())
    else:
        render.paper_detail(record)


def sort_papers(papers: list[Paper], key: SortKey, reverse: bool = False) -> list[Paper]:
    """Newest / most upvoted first for date, year and upvotes; A-Z for title and id. Unknown values last."""
    descending = key in (SortKey.DATE, SortKey.UPVOTES, SortKey.YEAR)
    if reverse:
        descending = not descending

    if key is SortKey.DATE:
        values = [p.date or (f"{p.year:04d}" if p.year else None) for p in papers]
    elif key is SortKey.TITLE:
        values = [p.title.casefold() for p in papers]
    else:
        values = [getattr(p, key.value) for p in papers]
    known = sorted(
        ((v, p.id, p) for v, p in zip(values, papers, strict=True) if v is not None),
        key=lambda row: (row[0], row[1]),
        reverse=descending,
    )
    unknown = [p for v, p in zip(values, papers, strict=True) if v is None]
    return [p for _, _, p in known] + unknown


def list_papers(
    ctx: typer.Context,
    sort: SortKey = typer.Option(SortKey.DATE, "--sort", "-s", help="Order by this field."),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Reverse the order."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Show at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON array."),
    theme: str | None = typer.Option(None, "--theme", help="Only the papers of this theme (id or label)."),
    area: str | None = AREA,
    tag: list[str] = TAG,
    status: list[str] = STATUS,
    ids_only: bool = IDS_ONLY,
) -> None:
    """List the papers in the knowledge base (newest first by default).

    Example: litkb list --sort upvotes -n 10
    """
    kb = open_kb(ctx)
    papers = kb.papers(require=True)
    keep = PaperFilter(tags=tuple(tag), statuses=parse_statuses(status))
    keep.check_values(papers)  # against the whole knowledge base: a tag used elsewhere is no typo
    if theme is not None:
        members = set(kb.theme_members(theme)[1])
        papers = [p for p in papers if p.id in members]
    if area is not None:
        members = set(kb.area_members(area)[1])
        papers = [p for p in papers if p.id in members]
    papers = [p for p in papers if keep(p)]
    ordered = sort_papers(papers, sort, reverse)
    shown = ordered[:limit] if limit else ordered
    if as_json:
        render.print_json([p.to_dict() for p in shown])
    elif ids_only:
        render.print_ids([p.id for p in shown])
    else:
        render.papers_table(shown, len(papers))


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command("list")(list_papers)
