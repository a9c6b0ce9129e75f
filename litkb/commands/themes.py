"""`litkb themes`: the knowledge base clustered by topic."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import render
from . import open_kb


def themes(
    ctx: typer.Context,
    k: int | None = typer.Option(
        None, "-k", min=1, max=500, help="Number of themes (default: chosen automatically)."
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Cluster again instead of using the saved themes."),
    as_json: bool = typer.Option(False, "--json", help="Print the themes, with every paper, as JSON."),
    map_file: Path | None = typer.Option(
        None, "--map", help="Also write a map of the papers (HTML) to this file."
    ),
) -> None:
    """Cluster the papers into themes with readable labels (saved, so reruns give the same themes).

    Example: litkb themes -k 12 --map themes.html
    """
    kb = open_kb(ctx)
    theme_set = kb.themes(k=k, rebuild=rebuild)
    by_id = {p.id: p for p in kb.papers()}
    if map_file is not None:
        drawn = kb.theme_map(map_file, theme_set)
        render.info(f"wrote the map of {drawn} papers to {map_file}")
    if as_json:
        render.print_json(
            [
                {
                    "id": t.id,
                    "label": t.label,
                    "size": theme_set.size(t.id),
                    "representative": t.representative,
                    "papers": [
                        {"id": pid, "external_id": by_id[pid].external_id, "title": by_id[pid].title}
                        for pid in theme_set.members(t.id)
                        if pid in by_id
                    ],
                }
                for t in theme_set.themes
            ]
        )
    else:
        render.themes_table(theme_set, by_id)


def register(app: typer.Typer) -> None:
    app.command()(themes)
