"""`litkb themes`: the knowledge base clustered by topic, themes grouped into areas, with trends."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import render
from ..filters import parse_since
from ..themes.objects import area_objects, theme_objects
from ..wording import plural
from . import open_kb
from .options import JSON


def themes(
    ctx: typer.Context,
    k: int | None = typer.Option(
        None, "-k", min=1, max=500, help="Number of themes (default: chosen from the collection's size)."
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Cluster again instead of using the saved themes."),
    areas: bool = typer.Option(False, "--areas", help="Show the areas (groups of related themes) alone."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Also show how many papers of each theme are dated on or after this date (2025-11-01, "
        "2025-11, 2025), and mark the themes that grew most.",
    ),
    as_json: bool = JSON,
    map_file: Path | None = typer.Option(
        None, "--map", help="Also write a map of the papers (HTML) to this file."
    ),
) -> None:
    """Cluster the papers into themes with readable labels, grouped into areas.

    The themes are saved (themes.yaml), so reruns give the same themes until --rebuild or another -k.

    Example: litkb themes --since 2025-11-01 --map themes.html
    """
    kb = open_kb(ctx)
    start = parse_since(since) if since else None
    theme_set = kb.themes(k=k, rebuild=rebuild)
    by_id = {p.id: p for p in kb.papers()}
    trends = kb.theme_trends(theme_set, start, list(by_id.values()))
    if map_file is not None:
        drawn = kb.theme_map(map_file, theme_set)
        render.info(f"wrote the map of {plural(drawn, 'paper')} to {map_file}")
    if as_json and areas:
        render.print_json(area_objects(theme_set, trends["areas"]))
    elif as_json:
        render.print_json(theme_objects(theme_set, trends["themes"], by_id))
    elif areas:
        render.areas_table(theme_set, trends["areas"], start)
    else:
        render.themes_table(theme_set, by_id, trends["themes"], start)


def register(app: typer.Typer) -> None:
    app.command()(themes)
