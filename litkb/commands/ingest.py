"""`litkb ingest` and `litkb index`: the commands that write."""

from __future__ import annotations

import dataclasses
import sys

import typer

from .. import render
from ..parsers import format_names
from . import open_kb


def ingest(
    ctx: typer.Context,
    files: list[str] = typer.Argument(..., help="Listing files to read; - reads stdin.", show_default=False),
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help=f"Input format (default: detected from the content): {', '.join(format_names())}.",
        metavar="FORMAT",
    ),
    encoding: str | None = typer.Option(
        None,
        "--encoding",
        help="Text encoding of the files, e.g. cp1252, shift_jis, utf-16 (default: detected).",
        metavar="ENCODING",
    ),
    year: int | None = typer.Option(
        None, "--year", help="Year of a Daily Papers page, for dates shown without one (default: inferred)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and warnings as JSON."),
) -> None:
    """Parse listings (Daily Papers, BibTeX, CSL JSON, JSON Lines, CSV) into YAML records.

    One record per paper; running it again changes nothing.

    A newer copy of a listing updates what changed and keeps your tags and notes.

    Example: litkb ingest data/hf-daily-papers-2025-11-18.txt
    """
    kb = open_kb(ctx)
    report = kb.ingest(files, format=format, year=year, stdin=sys.stdin.buffer.read, encoding=encoding)
    if as_json:
        render.print_json(dataclasses.asdict(report))
    else:
        for warning in report.warnings:
            render.warn(warning)
        render.info(report.summary())
        for failure in report.failed:
            render.error(failure)
    if report.failed:  # a file gave nothing: the others were written, but the command did not do it all
        raise typer.Exit(1)


def index(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and embed every record again."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (no progress bar)."),
    device: str | None = typer.Option(
        None,
        "--device",
        help="Run the model on cpu, cuda (cuda:N) or auto (a GPU when there is one); "
        "default: the knowledge base's config (cpu).",
    ),
    prune: bool = typer.Option(
        False, "--prune", help="On a Chroma server: also remove papers that have no record here."
    ),
) -> None:
    """Embed new and changed records into the index; remove what is gone from the records.

    Example: litkb index            (litkb index --device cuda on a machine with a GPU)
    """
    kb = open_kb(ctx)
    if as_json:
        render.print_json(dataclasses.asdict(kb.index(rebuild=rebuild, device=device, prune=prune)))
        return
    with render.progress_bar("embedding") as update:
        report = kb.index(rebuild=rebuild, progress=update, device=device, prune=prune)
    for warning in report.warnings:
        render.warn(warning)
    render.info(report.summary())


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(index)
