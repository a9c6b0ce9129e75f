"""`litkb attach`, `litkb detach`, `litkb open`: the PDFs beside the records."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import typer

from .. import render
from ..errors import LitkbError, UsageError
from ..filters import PaperFilter
from ..fulltext.service import FileOutcome
from . import open_kb
from .options import filtered

PAPER = typer.Argument(..., help="A paper's id or title (forgiving: case, punctuation, unique prefix).")
WHICH = typer.Option(
    None, "--file", help="Which of the paper's files: its name or number (default: all/first)."
)


def say(outcomes: list[FileOutcome]) -> None:
    """One line per file: what came of it."""
    for outcome in outcomes:
        line = "; ".join([outcome.message, *outcome.notes])
        if outcome.action == "failed":
            render.warn(line)
        else:
            render.info(line)


def attach(
    ctx: typer.Context,
    args: list[str] = typer.Argument(
        None,
        help="PAPER FILE.pdf: the paper (id or title) and its PDF; with --download, the papers to download "
        "for (default: every selected paper with an arXiv id and no file).",
        show_default=False,
    ),
    link: bool = typer.Option(
        False, "--link", help="Keep only the file's path (no copy in the knowledge base)."
    ),
    download: bool = typer.Option(
        False, "--download", help="Download the papers' PDFs from arXiv and attach them."
    ),
    *,
    where: PaperFilter,
) -> None:
    """Attach a PDF to a paper, or, with --download, the PDFs of papers from arXiv.

    The PDF is copied into the knowledge base's files/ folder (with --link, only its path is kept).

    Its text is extracted for `litkb index`; --download fetches one PDF every 3 seconds, as arXiv asks.

    Example: litkb attach "hydra sequentially" ~/Downloads/hydra.pdf    (or: litkb attach --download --tag x)
    """
    kb = open_kb(ctx)
    if download:
        papers = kb.select(where, ids=args or None)
        with render.progress_bar("reading PDFs") as update:
            report = kb.fulltext.download(papers, progress=update, named=bool(args))
        say(report.outcomes)
        render.info(report.summary())
        if report.failed and not report.added:
            raise LitkbError("no PDF was downloaded (each paper's line above says why)")
        return
    if len(args or []) != 2 or where.active():
        raise UsageError("give a paper and a PDF (litkb attach PAPER FILE.pdf), or --download")
    record = kb.get(args[0])
    say([kb.fulltext.attach(record.id, Path(args[1]).expanduser(), link=link)])


def detach(
    ctx: typer.Context,
    paper: str = PAPER,
    which: str | None = WHICH,
    delete: bool = typer.Option(
        False,
        "--delete",
        help="Delete the copied file too (unless another record has it; never a linked file).",
    ),
) -> None:
    """Take a paper's PDF off its record; the file stays in files/ unless --delete.

    Example: litkb detach hydra --delete
    """
    kb = open_kb(ctx)
    record, detached, deleted = kb.fulltext.detach(kb.get(paper).id, which, delete)
    for path in detached:
        if path in deleted:
            fate = "; deleted"
        elif delete:
            fate = "; the file is kept: another record has it, or it is a linked file"
        else:
            fate = "; the file is kept"
        render.info(f"{record.id}: detached {path}{fate}")


def _opener() -> list[str] | None:
    """The platform's command that opens a file in the user's viewer (None: there is none)."""
    if sys.platform == "darwin":
        return ["open"]
    if os.name == "nt":
        return []  # os.startfile
    found = shutil.which("xdg-open")
    return [found] if found else None


def open_command(
    ctx: typer.Context,
    paper: str = PAPER,
    page: int | None = typer.Option(
        None, "--page", min=1, help="Open at this page (where the viewer allows)."
    ),
    which: str | None = WHICH,
) -> None:
    """Open a paper's PDF in your viewer, at a page if asked.

    The viewer is xdg-open, open (macOS) or Windows' default.

    Example: litkb open hydra --page 4
    """
    kb = open_kb(ctx)
    record = kb.get(paper)
    path = kb.fulltext.path(record, which)
    if page is not None:
        pages = kb.fulltext.text(record, which).meta.get("page_count")
        if isinstance(pages, int) and page > pages:
            raise UsageError(f"--page {page}: {record.id}'s file has {pages} pages")
    opener = _opener()
    if opener is None:
        raise LitkbError(f"no program to open files with (xdg-open is not installed); the file is {path}")
    target = path.as_uri() + (f"#page={page}" if page else "")
    if opener == []:
        os.startfile(str(path))  # type: ignore[attr-defined]  # Windows only
    else:
        try:
            subprocess.run([*opener, target if page else str(path)], check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise LitkbError(f"{opener[0]} could not open {path}: {exc}") from None
    render.info(f"opened {path}" + (f" at page {page}" if page else ""))


def register(app: typer.Typer) -> None:
    app.command()(filtered("theme", "area", "tag", "status")(attach))
    app.command()(detach)
    app.command("open")(open_command)
