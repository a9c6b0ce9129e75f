"""Options that several commands share, declared once so every command spells them the same way.

The filter options (`--theme`, `--area`, `--year`, `--since`, `--min-upvotes`, `--tag`, `--author`,
`--source`, `--status`) are added to a command by `@filtered(...)`, which hands the command one
`PaperFilter` as its `where` parameter.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import typer

from ..filters import PaperFilter

K = typer.Option(10, "-k", "--top", min=1, max=1000, help="How many papers to show.")
JSON = typer.Option(False, "--json", help="Print a JSON array instead of a table.")
IDS_ONLY = typer.Option(False, "--ids-only", help="Print only the papers' ids, one per line (for scripts).")

FILTERS: dict[str, tuple[Any, Any]] = {  # name: (type, option)
    "theme": (str | None, typer.Option(None, "--theme", help="Only this theme's papers (id or label).")),
    "area": (
        str | None,
        typer.Option(None, "--area", help="Only this area's papers: a group of themes (id or label)."),
    ),
    "year": (
        str | None,
        typer.Option(None, "--year", help="Only this year or range: 2023, 2022..2024, 2022.., ..2024."),
    ),
    "since": (
        str | None,
        typer.Option(None, "--since", help="Only papers dated on or after: 2024-06-01, 2024-06, 2024."),
    ),
    "min_upvotes": (
        int | None,
        typer.Option(None, "--min-upvotes", min=0, help="Only papers with at least this many upvotes."),
    ),
    "tag": (list[str], typer.Option([], "--tag", help="Only papers with this tag (repeat: all must match).")),
    "author": (
        list[str],
        typer.Option(
            [], "--author", help="Only papers with an author (or organisation) whose name contains this."
        ),
    ),
    "source": (
        list[str],
        typer.Option(
            [], "--source", help="Only papers seen in this input file name or format (hf-daily, csv, ...)."
        ),
    ),
    "status": (
        list[str],
        typer.Option(
            [],
            "--status",
            help="Only papers with this reading status: to-read, reading, read, or unread (not marked read: "
            "no status, to-read or reading). Repeat for several.",
            metavar="STATUS",
        ),
    ),
}
ALL_FILTERS = tuple(FILTERS)


def filtered(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the filter options `names` (all of them when none is named); the command receives
    them as one `where: PaperFilter`."""
    chosen = names or ALL_FILTERS

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "where"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=FILTERS[name][1], annotation=FILTERS[name][0]
            )
            for name in chosen
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            values = {name: kwargs.pop(name) for name in chosen}
            command(*args, where=PaperFilter.from_options(**values), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return wrapper

    return decorate
