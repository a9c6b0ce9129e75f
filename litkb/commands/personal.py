"""The owner's commands: tags, notes, reading status, likes, and `next`."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import typer

from .. import render
from ..errors import LitkbError, NothingLikedError, UsageError
from ..filters import PaperFilter
from ..models import STATUSES, Paper
from ..personal import newest_objects, suggestion_objects
from . import open_kb
from .options import IDS_ONLY, JSON, K, filtered

PAPER = typer.Argument(..., help="A paper's id or title (forgiving: case, punctuation, unique prefix).")


def _done(paper: Paper, as_json: bool, message: str) -> None:
    if as_json:
        render.print_json(paper.to_dict())
    else:
        render.info(message)


def tag(
    ctx: typer.Context,
    paper: str = PAPER,
    tags: list[str] = typer.Argument(..., help="Tags to add."),
    as_json: bool = JSON,
) -> None:
    """Add tags to a paper.

    Example: litkb tag "Hopfield Networks" rag to-cite
    """

    def add(p: Paper) -> None:
        p.tags += [t for t in dict.fromkeys(tags) if t not in p.tags]

    record = open_kb(ctx).update_record(paper, add)
    _done(record, as_json, f"{record.title}: tags {', '.join(record.tags)}")


def untag(
    ctx: typer.Context,
    paper: str = PAPER,
    tags: list[str] = typer.Argument(..., help="Tags to remove."),
    as_json: bool = JSON,
) -> None:
    """Remove tags from a paper.

    Example: litkb untag "Hopfield Networks" draft
    """

    record, absent = open_kb(ctx).untag(paper, tags)
    if absent:
        render.warn(f"it had no tag {', '.join(absent)}")
    _done(record, as_json, f"{record.title}: tags {', '.join(record.tags) or '(none)'}")


def note(
    ctx: typer.Context,
    paper: str = PAPER,
    message: str | None = typer.Option(
        None, "-m", "--message", help="Append this text instead of opening $EDITOR."
    ),
    as_json: bool = JSON,
) -> None:
    """Edit a paper's note in $EDITOR, or append to it with -m.

    Example: litkb note "Hopfield Networks" -m "Compare with MoM."
    """
    kb = open_kb(ctx)
    if message is not None:
        text = message
        record = kb.update_record(
            paper, lambda p: setattr(p, "notes", f"{p.notes}\n\n{text}" if p.notes else text)
        )
        _done(record, as_json, f"{record.title}: note updated")
        return
    current = kb.get(paper)
    edited = _edit(current.notes or "")
    record = kb.update_record(current.id, lambda p: setattr(p, "notes", edited.strip() or None))
    _done(record, as_json, f"{record.title}: note saved")


def _edit(text: str, suffix: str = ".md") -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError("set $EDITOR (or $VISUAL) to the editor to use, e.g. EDITOR=nano")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"edit{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            subprocess.run([*shlex.split(editor), str(path)], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise LitkbError(f"the editor '{editor}' failed ({exc}); nothing was changed") from exc
        return path.read_text(encoding="utf-8")


def mark(
    ctx: typer.Context,
    paper: str = PAPER,
    status: str = typer.Argument(..., help="to-read, reading or read."),
    as_json: bool = JSON,
) -> None:
    """Set a paper's reading status (the date it changed is kept).

    Example: litkb mark "Hopfield Networks" read
    """
    if status not in STATUSES:
        raise UsageError(f"unknown status '{status}'; use one of {', '.join(STATUSES)}")

    def change(p: Paper) -> None:
        if p.status != status:
            p.status, p.status_date = status, date.today().isoformat()

    record = open_kb(ctx).update_record(paper, change)
    _done(record, as_json, f"{record.title}: {record.status} since {record.status_date}")


def _rate(ctx: typer.Context, paper: str, rating: str, as_json: bool) -> None:
    record = open_kb(ctx).update_record(paper, lambda p: setattr(p, "rating", rating))
    _done(record, as_json, f"{record.title}: {rating}d")


def like(ctx: typer.Context, paper: str = PAPER, as_json: bool = JSON) -> None:
    """Like a paper: `litkb next` suggests papers like it.

    Example: litkb like "Hopfield Networks"
    """
    _rate(ctx, paper, "like", as_json)


def dislike(ctx: typer.Context, paper: str = PAPER, as_json: bool = JSON) -> None:
    """Dislike a paper: `litkb next` steers away from papers like it.

    Example: litkb dislike "Paging with Succinct Predictions"
    """
    _rate(ctx, paper, "dislike", as_json)


def next_command(
    ctx: typer.Context, k: int = K, as_json: bool = JSON, ids_only: bool = IDS_ONLY, *, where: PaperFilter
) -> None:
    """Rank the unread papers by how well they fit what you liked and read.

    Each with the liked or read paper it is closest to and how close (cosine similarity, 1 = same text).

    The filters choose among the unread papers.

    Example: litkb next -k 10 --source hf-api --since 2025-11-18
    """
    kb = open_kb(ctx)
    try:
        found = kb.next_papers(k, where)
    except NothingLikedError:
        unread = [p for p in kb.select(where) if p.status != "read" and p.rating is None]
        newest = unread[:k]
        render.info(
            "Nothing liked or read yet, so these are the newest unread papers; say what you like with "
            "`litkb like PAPER` (or `litkb mark PAPER read`) and `litkb next` ranks by it"
        )
        if as_json:
            render.print_json(newest_objects(newest))
        elif ids_only:
            render.print_ids([p.id for p in newest])
        else:
            render.papers_table(newest, len(unread))
        return
    if as_json:
        render.print_json(suggestion_objects(found))
        return
    if ids_only:
        render.print_ids([p.id for p, _ in found])
        return
    titles = kb.titles([b for _, s in found for b in s.because])
    render.next_table([(p, s.similarity, [titles[b] for b in s.because]) for p, s in found])


def rm(
    ctx: typer.Context,
    papers: list[str] = typer.Argument(..., help="Papers to remove: ids or titles."),
    as_json: bool = JSON,
) -> None:
    """Remove papers' records (their vectors go at the next `litkb index`).

    Example: litkb rm "Paging with Succinct Predictions"
    """
    removed = open_kb(ctx).remove(papers)
    if as_json:
        render.print_json([p.to_dict() for p in removed])
        return
    for paper in removed:
        render.info(f"removed {paper.id} ({paper.title})")
    render.info("run `litkb index` to drop them from the index")


def edit(ctx: typer.Context, paper: str = PAPER) -> None:
    """Edit a paper's YAML record in $EDITOR.

    It is checked when you save, and kept as it was if invalid.

    Example: litkb edit "Hopfield Networks"
    """
    kb = open_kb(ctx)
    current = kb.get(paper)
    edited = _edit(kb.record_text(current.id), suffix=".yaml")
    changed = kb.replace_record_text(current.id, edited)
    render.info(f"{current.id}: saved" if changed else f"{current.id}: unchanged")


def register(app: typer.Typer) -> None:
    for command in (tag, untag, note, mark, like, dislike):
        app.command()(command)
    app.command("next")(filtered()(next_command))
    app.command()(rm)
    app.command()(edit)
