"""`litkb search` and `litkb related`: the papers that answer a query, or that are near a paper."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from .. import render
from ..errors import InputError, UsageError
from ..queries import read_queries
from . import open_kb
from .options import (
    AREA,
    AUTHOR,
    IDS_ONLY,
    JSON,
    MIN_UPVOTES,
    SINCE,
    SOURCE,
    STATUS,
    TAG,
    THEME,
    YEAR,
    K,
    in_area,
    make_filter,
)


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
    theme: str | None = THEME,
    area: str | None = AREA,
    year: str | None = YEAR,
    since: str | None = SINCE,
    min_upvotes: int | None = MIN_UPVOTES,
    tag: list[str] = TAG,
    author: list[str] = AUTHOR,
    source: list[str] = SOURCE,
    status: list[str] = STATUS,
    export_format: str | None = typer.Option(
        None, "--export", help="Print the results in an export format (bibtex, markdown, csl-json)."
    ),
    save: str | None = typer.Option(
        None, "--save", help="Also save this search under a name (see `litkb saved`)."
    ),
    force: bool = typer.Option(False, "--force", help="With --save: replace a saved search of that name."),
    ids_only: bool = IDS_ONLY,
) -> None:
    """Find the papers that best answer a query: keywords and meaning together (--mode to choose one).

    Example: litkb search "speculative decoding" -k 5 --year 2024..2025
    """
    kb = open_kb(ctx)
    where = in_area(kb, make_filter(year, since, min_upvotes, tag, author, source, status), area)
    given = [name for name, value in (("QUERY", query), ("--like", like), ("--queries", queries)) if value]
    if len(given) > 1:
        raise UsageError(f"give one of QUERY, --like FILE or --queries FILE, not {' and '.join(given)}")
    if queries is not None:
        batch = read_queries(queries)
        answers = kb.search_many([text for _, text in batch], k=k, mode=mode, theme=theme, where=where)
        for (query_id, _), results in zip(batch, answers, strict=True):
            render.print_json({"query_id": query_id, "results": results}, lines=True)
        return
    text = read_like(like) if like is not None else query
    if not text:
        raise UsageError('say what to search for, e.g. litkb search "speculative decoding"')
    results = kb.search(text, k=k, mode=mode, theme=theme, where=where)
    if save is not None:  # saved once it has run: a search that fails is not kept
        options = {
            "theme": theme, "area": area, "year": year, "since": since, "min_upvotes": min_upvotes,
            "tag": tag, "author": author, "source": source, "status": status,
        }  # fmt: skip
        saved = {
            "query": text,
            "k": k,
            "mode": mode,
            **{n: v for n, v in options.items() if v not in (None, [])},
        }
        replaced = kb.save_search(save, saved, force=force)
        verb = "replaced" if replaced else "saved as"
        render.info(f"{verb} '{save}'; run it again with `litkb saved run {save}`")
    if export_format is not None:
        print(kb.export(export_format, [kb.store.load(hit["id"]) for hit in results]), end="")
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
    theme: str | None = THEME,
    area: str | None = AREA,
    year: str | None = YEAR,
    since: str | None = SINCE,
    min_upvotes: int | None = MIN_UPVOTES,
    tag: list[str] = TAG,
    author: list[str] = AUTHOR,
    source: list[str] = SOURCE,
    status: list[str] = STATUS,
    ids_only: bool = IDS_ONLY,
) -> None:
    """Find the papers nearest to a paper, or to several papers together (they themselves left out).

    Example: litkb related "Hopfield Networks is All You Need" "MoM: Linear Sequence" --year 2023..
    """
    kb = open_kb(ctx)
    targets = [kb.get(paper) for paper in papers]
    where = in_area(kb, make_filter(year, since, min_upvotes, tag, author, source, status), area)
    results = kb.related([t.id for t in targets], k=k, theme=theme, where=where)
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
        render.out.print(render.escape(f"{name}: {search['query'][:80]}  {saved_options(search)}"))


def saved_options(search: dict[str, object]) -> str:
    """A saved search's options as they are typed: `-k 3 --mode semantic --tag a --tag b`."""
    words = []
    for key, value in search.items():
        if key == "query":
            continue
        flag = "-k" if key == "k" else f"--{key.replace('_', '-')}"
        for item in value if isinstance(value, list) else [value]:
            words.append(f"{flag} {shlex.quote(str(item))}")
    return " ".join(words)


def saved_remove(
    ctx: typer.Context, name: str = typer.Argument(..., help="The saved search's name.")
) -> None:
    """Remove a saved search.

    Example: litkb saved rm weekly-rag
    """
    open_kb(ctx).remove_saved_search(name)
    render.info(f"removed the saved search '{name}'")


def saved_run(
    ctx: typer.Context, name: str = typer.Argument(..., help="The saved search's name."), as_json: bool = JSON
) -> None:
    """Run a saved search again.

    Example: litkb saved run weekly-rag
    """
    kb = open_kb(ctx)
    search = kb.saved_search(name)
    where = make_filter(
        search.get("year"), search.get("since"), search.get("min_upvotes"), search.get("tag", []),
        search.get("author", []), search.get("source", []), search.get("status", []),
    )  # fmt: skip
    where = in_area(kb, where, search.get("area"))
    query = str(search["query"])
    mode = str(search.get("mode", "hybrid"))
    results = kb.search(query, k=int(search.get("k", 10)), mode=mode, theme=search.get("theme"), where=where)
    if as_json:
        render.print_json(results)
    else:
        render.results_table(results, f"{name}: {query}", query=query)


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(related)
    saved = typer.Typer(
        help="Saved searches: list them, or run one again.\n\nExample: litkb saved run weekly-rag",
        invoke_without_command=True,
    )
    saved.callback()(saved_list)
    saved.command("run")(saved_run)
    saved.command("rm")(saved_remove)
    app.add_typer(saved, name="saved")
