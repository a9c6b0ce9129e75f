"""`litkb show` and `litkb list`: what is in the knowledge base."""

from __future__ import annotations

import typer

from .. import render
from ..filters import PaperFilter, SortKey
from . import open_kb
from .options import IDS_ONLY, filtered


def show(
    ctx: typer.Context,
    paper: str = typer.Argument(
        ..., help="A paper's id or title (forgiving: case, punctuation, unique prefix)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    text: bool = typer.Option(False, "--text", help="Print the text extracted from the paper's PDF."),
    page: int | None = typer.Option(
        None, "--page", min=1, help="With --text: only this page (1 = the first)."
    ),
) -> None:
    """Show one paper's record in full (with --text: its PDF's extracted text, page by page).

    Example: litkb show "Mirror Speculative Decoding"      (litkb show hydra --text --page 4)
    """
    kb = open_kb(ctx)
    record = kb.get(paper)
    if text or page is not None:
        pages = kb.fulltext.pages(record, page)
        if as_json:
            render.print_json([{"page": n, "text": t} for n, t in pages])
        else:
            render.page_texts(pages)
        return
    if as_json:
        render.print_json(record.to_dict())
    else:
        render.paper_detail(record)


def list_papers(
    ctx: typer.Context,
    sort: SortKey = typer.Option(SortKey.DATE, "--sort", "-s", help="Order by this field."),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Reverse the order."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Show at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON array."),
    ids_only: bool = IDS_ONLY,
    *,
    where: PaperFilter,
) -> None:
    """List the papers in the knowledge base (newest first by default).

    Example: litkb list --sort upvotes -n 10
    """
    ordered = open_kb(ctx).select(where, sort=sort, reverse=reverse)
    shown = ordered[:limit] if limit else ordered
    if as_json:
        render.print_json([p.to_dict() for p in shown])
    elif ids_only:
        render.print_ids([p.id for p in shown])
    else:
        render.papers_table(shown, len(ordered))


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command("list")(filtered("theme", "area", "tag", "status")(list_papers))
