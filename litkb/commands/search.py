"""`litkb search` and `litkb related`: the papers that answer a query, or that are near a paper."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .. import render
from ..errors import InputError, UsageError
from ..filters import PaperFilter
from ..personal import options_text
from ..queries import read_queries
from ..wording import shorten
from . import open_kb
from .options import IDS_ONLY, JSON, K, filtered


def read_like(source: str) -> str:
    """The text of `--like FILE` (`-` for stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read: {exc}") from exc
    if not text.strip():
        raise InputError(f"{source}: is empty; paste the abstract or paragraph to match")
    return text


def search(
    ctx: typer.Context,
    query: str | None = typer.Argument(None, help="What to look for, in your own words.", show_default=False),
    k: int = K,
    as_json: bool = JSON,
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), semantic or keyword."),
    scope: str = typer.Option(
        "all", "--in", help="Where to look: all (abstracts and full text, the default), abstract or full."
    ),
    like: str | None = typer.Option(
        None,
        "--like",
        help="Find papers close to this text: a file with an abstract or a draft paragraph, - for stdin.",
    ),
    queries: Path | None = typer.Option(
        None,
        "--queries",
        help="Answer many queries: one per line, or JSON Lines with id/_id and text. Prints JSON Lines.",
        show_default=False,
    ),
    export_format: str | None = typer.Option(
        None, "--export", help="Print the results in an export format (bibtex, markdown, csl-json)."
    ),
    save: str | None = typer.Option(
        None, "--save", help="Also save this search under a name (see `litkb saved`)."
    ),
    force: bool = typer.Option(False, "--force", help="With --save: replace a saved search of that name."),
    ids_only: bool = IDS_ONLY,
    *,
    where: PaperFilter,
) -> None:
    """Find the papers that best answer a query, by keywords and meaning together.

    --mode semantic or --mode keyword uses one of them; --like FILE searches with a pasted abstract.

    Example: litkb search "speculative decoding" -k 5 --year 2024..2025

    Example: litkb search "ablation rotary embeddings" --in full
    """
    kb = open_kb(ctx)
    given = [name for name, value in (("QUERY", query), ("--like", like), ("--queries", queries)) if value]
    if len(given) > 1:
        raise UsageError(f"give one of QUERY, --like FILE or --queries FILE, not {' and '.join(given)}")
    if queries is not None:
        batch = read_queries(queries)
        answers = kb.search_many([text for _, text in batch], k=k, mode=mode, where=where, scope=scope)
        for (query_id, _), results in zip(batch, answers, strict=True):
            render.print_json({"query_id": query_id, "results": results}, lines=True)
        return
    text = read_like(like) if like is not None else query
    if not text:
        raise UsageError('say what to search for, e.g. litkb search "speculative decoding"')
    results = kb.search(text, k=k, mode=mode, where=where, scope=scope)
    if save is not None:  # saved once it has run: a search that fails is not kept
        replaced = kb.save_search(save, text, k, mode, where, force=force)
        verb = "replaced" if replaced else "saved as"
        render.info(f"{verb} '{save}'; run it again with `litkb saved run {save}`")
    if export_format is not None:
        print(kb.export(export_format, [hit["id"] for hit in results]), end="")
    elif as_json:
        render.print_json(results)
    elif ids_only:
        render.print_ids([hit["id"] for hit in results])
    else:
        heading = f"Search: {text}" if like is None else f"Papers like {like}"
        render.results_table(results, heading, query=text)


def related(
    ctx: typer.Context,
    papers: list[str] = typer.Argument(
        ...,
        help="One or more papers: ids or titles (case and punctuation do not matter; a prefix will do).",
    ),
    k: int = K,
    as_json: bool = JSON,
    ids_only: bool = IDS_ONLY,
    *,
    where: PaperFilter,
) -> None:
    """Find the papers nearest in meaning to a paper, or to several papers together.

    The papers given are themselves left out.

    Example: litkb related "Hopfield Networks is All You Need" "MoM: Linear Sequence" --year 2023..
    """
    kb = open_kb(ctx)
    targets = [kb.get(paper) for paper in papers]
    results = kb.related([t.id for t in targets], k=k, where=where)
    if as_json:
        render.print_json(results)
    elif ids_only:
        render.print_ids([hit["id"] for hit in results])
    else:
        render.results_table(results, "Related to: " + "; ".join(t.title for t in targets))


def saved_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List the saved searches (`litkb saved run NAME` runs one).

    Example: litkb saved
    """
    if ctx.invoked_subcommand is not None:
        return
    searches = open_kb(ctx).saved_searches()
    if as_json:
        render.print_json(searches)
        return
    if not searches:
        render.info("No saved searches yet; save one with litkb search QUERY --save NAME")
    for name, search in sorted(searches.items()):
        render.line(f"{name}: {shorten(search['query'], 80)}  {options_text(search)}")


def saved_remove(
    ctx: typer.Context, name: str = typer.Argument(..., help="The saved search's name.")
) -> None:
    """Remove a saved search.

    Example: litkb saved rm weekly-rag
    """
    open_kb(ctx).remove_saved_search(name)
    render.info(f"removed the saved search '{name}'")


def saved_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The saved search's name."),
    as_json: bool = JSON,
    ids_only: bool = IDS_ONLY,
) -> None:
    """Run a saved search again.

    Example: litkb saved run weekly-rag
    """
    search, results = open_kb(ctx).run_saved_search(name)
    query = str(search["query"])
    if as_json:
        render.print_json(results)
    elif ids_only:
        render.print_ids([hit["id"] for hit in results])
    else:
        render.results_table(results, f"{name}: {query}", query=query)


def register(app: typer.Typer) -> None:
    app.command()(filtered()(search))
    app.command()(filtered()(related))
    saved = typer.Typer(
        help="Saved searches: list them, or run one again.\n\nExample: litkb saved run weekly-rag",
        invoke_without_command=True,
    )
    saved.callback()(saved_list)
    saved.command("run")(saved_run)
    saved.command("rm")(saved_remove)
    app.add_typer(saved, name="saved")
