"""`litkb fetch` and `litkb enrich`: papers from the services that publish them (the only commands that
use the network)."""

from __future__ import annotations

import dataclasses

import typer

from .. import render
from ..errors import UsageError
from ..filters import PaperFilter
from ..sources import http
from ..sources.arxiv import check_id
from ..sources.service import FetchReport
from . import open_kb
from .fulltext import say
from .options import filtered

REFRESH = typer.Option(False, "--refresh", help="Ask the service again even when the cache holds the answer.")
REPORT_JSON = typer.Option(False, "--json", help="Print the report as one JSON object.")
INDEX = typer.Option(False, "--index", help="Also index what was added (as `litkb index`).")
TIME_LIMIT = typer.Option(
    http.TIME_LIMIT,
    "--time-limit",
    min=0,
    metavar="SECONDS",
    help="Stop asking the services after this many seconds in all (0: no limit); what was fetched is kept.",
)


def hf(
    ctx: typer.Context,
    date: str | None = typer.Option(
        None, "--date", help="One day's Daily Papers: 2025-11-18 (default: today, UTC)."
    ),
    week: str | None = typer.Option(None, "--week", help="One week's: 2025-W47."),
    month: str | None = typer.Option(None, "--month", help="One month's: 2025-11."),
    start: str | None = typer.Option(None, "--from", help="From this day (with --to): one request a day."),
    end: str | None = typer.Option(None, "--to", help="To this day, included."),
    refresh: bool = REFRESH,
    index: bool = INDEX,
    time_limit: float = TIME_LIMIT,
    as_json: bool = REPORT_JSON,
) -> None:
    """Fetch the Hugging Face Daily Papers of a day, a week, a month or a range (all pages).

    Example: litkb fetch hf --date 2025-11-18 --index
    """
    options = {"date": date, "week": week, "month": month, "start": start, "end": end}
    _run(ctx, "hf", refresh, index, time_limit, as_json, **options)


def arxiv(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(None, help="arXiv ids (2505.12345, 2401.00001v2: kept without version)."),
    query: str | None = typer.Option(None, "--query", "-q", help="An arXiv search query instead of ids."),
    most: int = typer.Option(100, "--max", min=1, max=10000, help="At most this many results of --query."),
    refresh: bool = REFRESH,
    index: bool = INDEX,
    time_limit: float = TIME_LIMIT,
    as_json: bool = REPORT_JSON,
    pdf: bool = typer.Option(
        False, "--pdf", help="Also download the papers' PDFs and attach them (ids only)."
    ),
) -> None:
    """Fetch papers from arXiv by id, or by a search query.

    One request every 3 seconds, as arXiv asks.

    Example: litkb fetch arxiv --query 'cat:cs.CL AND abs:"speculative decoding"' --max 200
    """
    if pdf and not ids:
        raise UsageError(
            "--pdf downloads the PDFs of the ids given; after --query, use `litkb attach --download`"
        )
    _run(ctx, "arxiv", refresh, index, time_limit, as_json, ids=ids or [], query=query, most=most)
    if pdf:
        kb = open_kb(ctx)
        report = kb.fulltext.download(kb.select(ids=[check_id(i) for i in ids]))
        say(report.outcomes)
        render.info(report.summary())


def doi(
    ctx: typer.Context,
    dois: list[str] = typer.Argument(..., help="DOIs (10.1145/3397271.3401075, or doi.org links)."),
    refresh: bool = REFRESH,
    index: bool = INDEX,
    time_limit: float = TIME_LIMIT,
    as_json: bool = REPORT_JSON,
) -> None:
    """Fetch papers by DOI from Crossref.

    Example: litkb fetch doi 10.1145/3397271.3401075
    """
    _run(ctx, "doi", refresh, index, time_limit, as_json, dois=dois)


def _run(
    ctx: typer.Context,
    source: str,
    refresh: bool,
    index: bool,
    time_limit: float,
    as_json: bool,
    **options: object,
) -> None:
    kb = open_kb(ctx)
    report: FetchReport = kb.fetch(source, refresh=refresh, time_limit=time_limit, **options)
    indexed = None
    if index and (report.imported or report.updated):
        if as_json:
            indexed = kb.index()
        else:
            with render.progress_bar("embedding") as update:
                indexed = kb.index(progress=update)
    if as_json:
        out = dataclasses.asdict(report)
        out["index"] = dataclasses.asdict(indexed) if indexed else None
        render.print_json(out)
    else:
        for message in report.warnings + (indexed.warnings if indexed else []):
            render.warn(message)
        for failure in report.failures:
            render.warn(f"failed: {failure}")
        render.info(report.summary())
        if indexed is not None:
            render.info(indexed.summary())
    if report.failures:
        raise typer.Exit(1)


def enrich(
    ctx: typer.Context,
    papers: list[str] = typer.Argument(
        None, help="Only these papers (ids or titles); default: all selected."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be filled in."),
    refresh: bool = REFRESH,
    time_limit: float = TIME_LIMIT,
    as_json: bool = REPORT_JSON,
    *,
    where: PaperFilter,
) -> None:
    """Fill what records lack (arXiv id, DOI, author names, links) from arXiv and Crossref.

    Each paper is looked up by arXiv id or DOI where known, else by title.

    A value is filled only when the titles match, and never overwrites one the record has.

    Example: litkb enrich --source hf-daily --dry-run
    """
    changes, failures = open_kb(ctx).enrich(
        where, papers or [], dry_run=dry_run, refresh=refresh, time_limit=time_limit
    )
    if as_json:
        render.print_json({"changes": [dataclasses.asdict(c) for c in changes], "failures": failures})
    else:
        for change in changes:
            value = ", ".join(change.value) if isinstance(change.value, list) else change.value
            render.line(f"{change.id}: {change.field} = {value}  (from {change.source})")
        for failure in failures:
            render.warn(f"failed: {failure}")
        records = len({c.id for c in changes})
        verb = "would fill" if dry_run else "filled"
        render.info(f"{verb} {render.plural(len(changes), 'value')} in {render.plural(records, 'record')}")
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    fetch = typer.Typer(
        help="Fetch papers from Hugging Face Daily Papers (hf), arXiv (arxiv) or Crossref (doi).\n\n"
        "Example: litkb fetch hf --date 2025-11-18",
        no_args_is_help=True,
    )
    fetch.command()(hf)
    fetch.command()(arxiv)
    fetch.command()(doi)
    app.add_typer(fetch, name="fetch")
    app.command()(filtered()(enrich))
