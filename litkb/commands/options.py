"""Options that several commands share, so every command spells them the same way."""

from __future__ import annotations

import typer

from ..filters import PaperFilter, parse_since, parse_statuses, parse_years
from ..kb import KnowledgeBase

K = typer.Option(10, "-k", "--top", min=1, max=1000, help="How many papers to show.")
JSON = typer.Option(False, "--json", help="Print a JSON array instead of a table.")
IDS_ONLY = typer.Option(False, "--ids-only", help="Print only the papers' ids, one per line (for scripts).")
THEME = typer.Option(None, "--theme", help="Only this theme's papers (id or label).")
AREA = typer.Option(None, "--area", help="Only this area's papers: a group of themes (id or label).")
YEAR = typer.Option(None, "--year", help="Only this year or range: 2023, 2022..2024, 2022.., ..2024.")
SINCE = typer.Option(None, "--since", help="Only papers dated on or after: 2024-06-01, 2024-06, 2024.")
MIN_UPVOTES = typer.Option(None, "--min-upvotes", min=0, help="Only papers with at least this many upvotes.")
TAG = typer.Option([], "--tag", help="Only papers with this tag (repeat: all must match).")
AUTHOR = typer.Option(
    [], "--author", help="Only papers with an author (or organisation) whose name contains this."
)
STATUS = typer.Option(
    [],
    "--status",
    help="Only papers with this reading status: to-read, reading, read, or unread (not marked read: "
    "no status, to-read or reading). Repeat for several.",
    metavar="STATUS",
)
SOURCE = typer.Option(
    [], "--source", help="Only papers seen in this input file name or format (hf-daily, csv, ...)."
)


def in_area(kb: KnowledgeBase, where: PaperFilter, area: str | None) -> PaperFilter:
    """`where`, kept to the papers of an area (`--area`)."""
    if area is not None:
        members = frozenset(kb.area_members(area)[1])
        where.ids = members if where.ids is None else where.ids & members
    return where


def make_filter(
    year: str | None,
    since: str | None,
    min_upvotes: int | None,
    tag: list[str],
    author: list[str],
    source: list[str],
    status: list[str] | None = None,
) -> PaperFilter:
    return PaperFilter(
        years=parse_years(year) if year else None,
        since=parse_since(since) if since else None,
        min_upvotes=min_upvotes,
        tags=tuple(tag),
        authors=tuple(author),
        sources=tuple(source),
        statuses=parse_statuses(status or ()),
    )
