"""`litkb export`: papers out to BibTeX, Markdown or CSL JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import render
from ..errors import UsageError
from ..filters import PaperFilter
from ..fsutil import atomic_write_text
from ..wording import plural
from . import open_kb
from .options import filtered


def write_output(text: str, output: Path | None, force: bool) -> None:
    """To stdout, or atomically to a file that is only replaced with `force`."""
    if output is None:
        print(text, end="")
        return
    if output.exists() and not force:
        raise UsageError(f"{output} exists; use --force to replace it")
    if output.is_dir():
        raise UsageError(f"{output} is a folder; give a file name")
    atomic_write_text(output, text)
    render.info(f"wrote {output}")


def export(
    ctx: typer.Context,
    format: str = typer.Option(..., "--format", "-f", help="bibtex, markdown or csl-json."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file (default: stdout)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
    ids: str | None = typer.Option(
        None, "--ids", help="Only these papers: ids (or titles), comma-separated."
    ),
    query: str | None = typer.Option(None, "--query", "-q", help="Only the top -k papers of this search."),
    k: int = typer.Option(20, "-k", min=1, help="How many search results --query takes."),
    per_paper: Path | None = typer.Option(
        None, "--per-paper", help="Markdown only: write one note per paper into this folder."
    ),
    ascii: bool = typer.Option(
        False,
        "--ascii",
        help="BibTeX in plain ASCII for old tools: accents as LaTeX commands, other scripts as '?' "
        "(default: UTF-8, which biber and LaTeX read).",
    ),
    *,
    where: PaperFilter,
) -> None:
    """Export papers (all, or a selection) as BibTeX, Markdown or CSL JSON.

    Example: litkb export --format bibtex --query "model editing" -k 20 -o refs.bib
    """
    kb = open_kb(ctx)
    from ..exporters import get_exporter

    get_exporter(format)  # an unknown format fails before any work
    id_list = [part.strip() for part in ids.split(",") if part.strip()] if ids else None
    papers = kb.select(where, ids=id_list, query=query, k=k)
    if not papers:
        raise UsageError("no paper matches the selection; nothing was exported")
    if per_paper is not None:
        if format != "markdown":
            raise UsageError("--per-paper writes Markdown notes; use it with --format markdown")
        written = kb.export_notes(papers, per_paper, force=force)
        render.info(f"wrote {plural(written, 'note')} to {per_paper}")
        return
    write_output(kb.export(format, papers, ascii=ascii), output, force)


def register(app: typer.Typer) -> None:
    app.command()(filtered("theme", "area", "tag", "year")(export))
