"""The `litkb` command: global options, the commands, and the one place errors become exit codes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from .errors import LitkbError


@dataclass
class AppState:
    kb_path: Path | None = None
    debug: bool = False
    chroma_url: str | None = None


class LitkbGroup(TyperGroup):
    """Turns LitkbError (a user's mistake) into `Error: ...` on stderr and its exit code; `--debug` shows
    the traceback instead. Anything else is a bug: said as such, traceback with `--debug`."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LitkbError as exc:
            if ctx.params.get("debug"):
                raise
            _say(f"Error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _say("Interrupted.")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_cli_exception(exc) or ctx.params.get("debug"):
                raise
            _say(
                f"Error: unexpected failure ({type(exc).__name__}: {exc}); "
                "run again with --debug to see the traceback"
            )
            raise typer.Exit(1) from None


def _is_cli_exception(exc: Exception) -> bool:
    """Exit, Abort and usage errors belong to Typer (and the click it is built on): let them through."""
    return isinstance(exc, (typer.Exit, typer.Abort)) or type(exc).__module__.startswith(("typer", "click"))


def _say(message: str) -> None:
    print(message, file=sys.stderr)


app = typer.Typer(
    cls=LitkbGroup,
    name="litkb",
    help="A literature knowledge base: parse paper listings into YAML records, search them by meaning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    ctx: typer.Context,
    kb: Path | None = typer.Option(
        None,
        "--kb",
        help="Knowledge-base folder (default: $LITKB_HOME, else ~/.local/share/litkb).",
        show_default=False,
    ),
    chroma_url: str | None = typer.Option(
        None,
        "--chroma-url",
        help="Keep the vectors on a Chroma server (http://host:port) instead of inside the knowledge base "
        "(default: $LITKB_CHROMA_URL, else the config's chroma_url, else embedded).",
        show_default=False,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """litkb: from a pasted listing of papers to a searchable knowledge base.

    Example: litkb ingest data/hf-daily-papers-2025-11-18.txt && litkb index && litkb search "rag"
    """
    ctx.obj = AppState(kb_path=kb, debug=debug, chroma_url=chroma_url)


def _register() -> None:
    from .commands import dedup, doctor, export, ingest, personal, records, search, themes

    for module in (ingest, search, records, themes, export, dedup, personal, doctor):
        module.register(app)


_register()


def run() -> None:
    """Console-script entry point."""
    app()
