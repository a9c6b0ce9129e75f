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
from ..fulltext.service import FileOutcome
from . import open_kb

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
    paper: str = PAPER,
    file: Path = typer.Argument(..., help="The PDF to attach.", show_default=False),
    link: bool = typer.Option(
        False, "--link", help="Keep only the file's path (no copy in the knowledge base)."
    ),
) -> None:
    """Attach a PDF to a paper: copied into the knowledge base's files/ folder (or, with --link, only its
    path kept) and its text extracted for `litkb index`.

    Example: litkb attach "hydra sequentially" ~/Downloads/hydra.pdf
    """
    kb = open_kb(ctx)
    record = kb.get(paper)
    say([kb.fulltext.attach(record.id, file.expanduser(), link=link)])


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
        render.info(
            f"{record.id}: detached {path}" + ("; deleted" if path in deleted else "; the file is kept")
        )


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
    """Open a paper's PDF in your viewer (xdg-open, open, or Windows' default), at a page if asked.

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
    app.command()(attach)
    app.command()(detach)
    app.command("open")(open_command)
