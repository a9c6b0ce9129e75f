"""`litkb doctor`: check the knowledge base; `--repair` rebuilds the index from the records."""

from __future__ import annotations

import dataclasses

import typer

from .. import doctor as checks
from .. import render
from . import open_kb


def doctor(
    ctx: typer.Context,
    repair: bool = typer.Option(
        False, "--repair", help="Rebuild the index from the records (in a new folder, swapped in when done)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Check records, index, snapshot, keyword index and query encoder; say what is wrong.

    Exits 1 while problems remain. Example: litkb doctor --repair
    """
    kb = open_kb(ctx)
    kb.papers(require=not repair)  # says whether the knowledge base is missing or empty
    findings = checks.diagnose(kb)
    repaired = None
    if repair:
        with render.progress_bar("rebuilding") as update:
            repaired = checks.repair(kb, progress=update)
        findings = checks.diagnose(open_kb(ctx))
    if as_json:
        render.print_json(
            {
                "findings": [dataclasses.asdict(f) for f in findings],
                "repaired": dataclasses.asdict(repaired) if repaired else None,
            }
        )
    else:
        render.doctor_table(findings)
        if repaired is not None:
            for warning in repaired.warnings:
                render.warn(warning)
            render.info(repaired.summary())
        render.info(checks.summary(findings))
    if any(f.level == "problem" for f in findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
