"""`litkb dedup`: records that look like the same paper, and merging them when asked."""

from __future__ import annotations

import typer

from .. import render
from . import open_kb


def dedup(
    ctx: typer.Context,
    apply: bool = typer.Option(False, "--apply", help="Merge each pair (otherwise only list them)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the likely duplicates (the default)."),
    as_json: bool = typer.Option(False, "--json", help="Print the pairs as a JSON array."),
) -> None:
    """List records that look like the same paper, and why; --apply merges them.

    Example: litkb dedup --dry-run
    """
    kb = open_kb(ctx)
    found = kb.duplicates()
    by_id = {p.id: p for p in kb.papers()}
    if as_json:
        render.print_json([{"keep": d.keep, "drop": d.drop, "reason": d.reason} for d in found])
    else:
        render.duplicates_table(found, by_id)
    if apply and not dry_run and found:
        merged = kb.merge_duplicates(found)
        render.info(f"merged {merged} duplicate records; run `litkb index` to update the index")


def register(app: typer.Typer) -> None:
    app.command()(dedup)
