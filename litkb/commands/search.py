"""`litkb search` and `litkb related`: nearest papers by meaning."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import render
from ..queries import read_queries
from . import open_kb

K_OPTION = typer.Option(10, "-k", "--top", min=1, max=1000, help="How many papers to show.")
JSON_OPTION = typer.Option(False, "--json", help="Print a JSON array instead of a table.")


def search(
    ctx: typer.Context,
    query: str | None = typer.Argument(None, help="What to look for, in your own words.", show_default=False),
    k: int = K_OPTION,
    as_json: bool = JSON_OPTION,
    queries: Path | None = typer.Option(
        None,
        "--queries",
        help="Answer many queries: one per line, or JSON Lines with id/_id and text. Prints JSON Lines.",
        show_default=False,
    ),
    theme: str | None = typer.Option(None, "--theme", help="Search only this theme's papers (id or label)."),
    export_format: str | None = typer.Option(
        None, "--export", help="Print the results in an export format (bibtex, markdown, csl-json)."
    ),
) -> None:
    """Find the papers nearest to a query by meaning.

    Example: litkb search "speculative decoding" -k 5
    """
    kb = open_kb(ctx)
    if queries is not None:
        if query:
            raise typer.BadParameter("give a QUERY or --queries FILE, not both")
        batch = read_queries(queries)
        answers = kb.search_many([text for _, text in batch], k=k, theme=theme)
        for (query_id, _), results in zip(batch, answers, strict=True):
            render.print_json({"query_id": query_id, "results": results}, lines=True)
        return
    if not query:
        raise typer.BadParameter('say what to search for, e.g. litkb search "speculative decoding"')
    results = kb.search(query, k=k, theme=theme)
    if export_format is not None:
        print(kb.export(export_format, [kb.store.load(hit["id"]) for hit in results]), end="")
    elif as_json:
        render.print_json(results)
    else:
        render.results_table(results, f"Search: {query}")


def related(
    ctx: typer.Context,
    paper: str = typer.Argument(
        ..., help="A paper's id or title (case and punctuation do not matter; a unique prefix will do)."
    ),
    k: int = K_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Find the papers nearest to a paper in the knowledge base (the paper itself left out).

    Example: litkb related "Hopfield Networks is All You Need"
    """
    kb = open_kb(ctx)
    target = kb.get(paper)
    results = kb.related(target.id, k=k)
    if as_json:
        render.print_json(results)
    else:
        render.results_table(results, f"Related to: {target.title}")


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(related)
