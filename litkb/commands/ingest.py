"""`litkb ingest` and `litkb index`: the commands that write."""

from __future__ import annotations

import dataclasses
import sys

import typer

from .. import render
from ..errors import InputError
from ..fulltext.service import anything_added
from ..ingest import IngestReport
from ..parsers import format_names
from . import open_kb
from .fulltext import say


def ingest(
    ctx: typer.Context,
    files: list[str] = typer.Argument(
        ...,
        help="Listings, PDFs (folders with --recursive), Zotero's zotero.sqlite or data folder; - is stdin.",
        show_default=False,
    ),
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
    collection: str | None = typer.Option(
        None,
        "--collection",
        help='Of a Zotero library, only this collection and its subcollections ("Thesis/Related work").',
        metavar="PATH",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and warnings as JSON."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Read the PDFs and listings in folders."),
    fetch: bool = typer.Option(False, "--fetch", help="Fill a PDF's new record from arXiv or Crossref."),
    link: bool = typer.Option(
        False, "--link", help="Keep only the PDFs' paths (no copy in the knowledge base)."
    ),
    copy_files: bool = typer.Option(
        False,
        "--copy-files",
        help="Copy a Zotero library's PDFs into the knowledge base (default: attached by reference).",
    ),
) -> None:
    """Read listings, PDFs and Zotero libraries into YAML records, one per paper.

    PDFs are identified (arXiv id, DOI, title), attached to their record or made one.

    A Zotero library (its zotero.sqlite, read without changing it) is kept in step.

    Its PDFs are attached by reference (copied with --copy-files).

    Running it again changes nothing.

    A newer copy of a listing updates what changed and keeps your tags and notes.

    Example: litkb ingest data/hf-daily-papers-2025-11-18.txt ~/Downloads/2402.05109v2.pdf
    """
    kb = open_kb(ctx)

    def listings(named: list[str]) -> IngestReport:
        return kb.ingest(
            named,
            format=format,
            year=year,
            stdin=sys.stdin.buffer.read,
            encoding=encoding,
            collection=collection,
            copy_files=copy_files,
        )

    with render.progress_bar("reading PDFs") as update:
        progress = None if as_json else update
        listed, pdfs = kb.fulltext.ingest(
            files, listings, recursive, fetch=fetch, link=link, progress=progress, format=format
        )
    if as_json:
        data = dataclasses.asdict(listed) if listed else {}
        render.print_json({**data, "pdfs": [dataclasses.asdict(o) for o in pdfs.outcomes]})
    else:
        for warning in (listed.warnings if listed else []) + pdfs.warnings:
            render.warn(warning)
        say(pdfs.outcomes)
        if listed:
            render.info(listed.summary())
            for failure in listed.failed:
                render.error(failure)
        if pdfs.outcomes:
            render.info(pdfs.summary())
    if not anything_added(listed, pdfs):
        raise InputError("nothing was added (each file's line above says why)")
    if listed and listed.failed:  # a file gave nothing: the others were written, but not all was done
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

    First extracts the text of attached PDFs that the text cache (.cache/text/) lacks (Zotero's PDFs).

    Example: litkb index            (litkb index --device cuda on a machine with a GPU)
    """
    kb = open_kb(ctx)
    if as_json:
        render.print_json(dataclasses.asdict(kb.index(rebuild=rebuild, device=device, prune=prune)))
        return
    read = [0]  # files whose text the cache lacked
    with (
        render.progress_bar("extracting text", finish=True) as extract,
        render.progress_bar("embedding") as update,
    ):

        def extracting(done: int, total: int) -> None:
            read[0] = total
            extract(done, total)

        report = kb.index(rebuild=rebuild, progress=update, device=device, prune=prune, extracting=extracting)
    for warning in report.warnings:
        render.warn(warning)
    if read[0]:
        render.info(f"read the text of {read[0]} attached file(s) that the text cache (.cache/text/) lacked")
    render.info(report.summary())


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(index)
