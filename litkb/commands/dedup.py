"""`litkb dedup`: records that look like the same paper, and merging them when asked."""

from __future__ import annotations

import typer

from .. import render
from ..errors import UsageError
from . import open_kb


def dedup(
    ctx: typer.Context,
    apply: bool = typer.Option(
        False, "--apply", help="Merge each group into its kept record, as listed (otherwise only list them)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the likely duplicates (the default)."),
    as_json: bool = typer.Option(False, "--json", help="Print the pairs as a JSON array."),
) -> None:
    """List records that look like the same paper, and why; --apply merges them.

    Example: litkb dedup --dry-run
    """
    if apply and dry_run:
        raise UsageError("give --apply or --dry-run, not both")
    kb = open_kb(ctx)
    found = kb.duplicates()  # the plan: what the dry run shows is exactly what --apply merges
    if as_json:
        render.print_json([{"keep": d.keep, "drop": d.drop, "reason": d.reason} for d in found])
    else:
        ids = dict.fromkeys(i for d in found for i in (d.keep, d.drop))
        render.duplicates_table(found, {pid: kb.get(pid) for pid in ids})
    if apply and found:
        merged = kb.merge_duplicates(found)
        kept = len({d.keep for d in found})
        render.info(
            f"merged {render.plural(merged, 'duplicate record')} into {render.plural(kept, 'record')}; "
            "run `litkb index` to update the index"
        )


def register(app: typer.Typer) -> None:
    app.command()(dedup)
