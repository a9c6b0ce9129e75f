"""The `litkb` command: global options, the commands, and the one place errors become exit codes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from .errors import AmbiguousError, LitkbError


@dataclass
class AppState:
    kb_path: Path | None = None
    debug: bool = False
    chroma_url: str | None = None


class LitkbGroup(TyperGroup):
    """Turns LitkbError (a user's mistake) into `Error: ...` on stderr and its exit code; `--debug` shows
    the traceback instead. Anything else is a bug: said as such, traceback with `--debug`."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:
            if _is_usage_error(exc):  # a bad global option: one line, like every other error
                _usage_error(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LitkbError as exc:
            if ctx.params.get("debug"):
                raise
            _say(f"Error: {exc}")
            if isinstance(exc, AmbiguousError):
                for paper_id, year, title in exc.candidates:
                    _say(f"  {paper_id}  {year or '----'}  {title}")
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            raise  # the reader went away (`litkb list | head`): Typer ends quietly
        except KeyboardInterrupt:
            _say("Interrupted.")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_usage_error(exc):  # a bad option or argument of a command
                _usage_error(exc)
            if _is_cli_exception(exc) or ctx.params.get("debug"):
                raise
            _say(
                f"Error: unexpected failure ({type(exc).__name__}: {exc}); "
                "run again with --debug to see the traceback"
            )
            raise typer.Exit(1) from None


def _is_usage_error(exc: BaseException) -> bool:
    """A bad option or argument: click's UsageError (Typer may carry its own copy of click)."""
    return any(c.__name__ == "UsageError" for c in type(exc).__mro__) and hasattr(exc, "format_message")


def _usage_error(exc: Any) -> None:
    """`Error: No such option: --bogus (see litkb search --help)`, exit 2; `litkb` alone still shows
    the help."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        raise exc
    where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "litkb"
    message = " ".join(str(exc.format_message()).split())
    _say(f"Error: {message} (see `{where} --help`)")
    raise typer.Exit(getattr(exc, "exit_code", 2))


_TYPE_WORDS = {"bool": None, "int": "N", "float": "NUMBER", "str": "TEXT", "path": "PATH", "file": "FILE"}


def _plain_metavar(shown: str | None, param: Any) -> str | None:
    """What help shows after an option: nothing for a flag, else a plain word for its type (N, TEXT,
    PATH, a|b|c) instead of Python's (`<bool>`, `<list[str]>`, `<int range>`)."""
    if shown is None or param.metavar is not None:
        return shown
    if getattr(param, "is_flag", False):
        return None
    if isinstance(param, TyperArgument):
        return str(param.name).upper() + ("..." if param.nargs != 1 else "")
    inner = shown.strip("<>.").removeprefix("list[").removesuffix("]")
    if "|" in inner:
        return inner
    first = inner.split(" ")[0].split("[")[0]
    return _TYPE_WORDS.get(first, "TEXT")


def _patch_metavars() -> None:
    for kind in (TyperOption, TyperArgument):
        original = getattr(kind, "display_type_rich", None)
        if original is None:  # another Typer: it shows its own metavars
            continue

        def shown(self: Any, ctx: Any, _original: Any = original) -> str | None:
            return _plain_metavar(_original(self, ctx), self)

        kind.display_type_rich = shown  # type: ignore[method-assign]


_patch_metavars()


def _is_cli_exception(exc: Exception) -> bool:
    """Exit, Abort and usage errors belong to Typer (and the click it is built on): let them through."""
    return isinstance(exc, (typer.Exit, typer.Abort)) or type(exc).__module__.startswith(("typer", "click"))


def _say(message: str) -> None:
    print(message, file=sys.stderr)


app = typer.Typer(
    cls=LitkbGroup,
    name="litkb",
    help="A literature knowledge base: listings of papers to YAML records, searched offline.\n\n"
    'Example: litkb ingest data/hf-daily-papers-2025-11-18.txt && litkb index && litkb search "rag"',
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Docs: docs/tutorial.md (start here), docs/reference/commands.md (every command), in a clone of "
    "litkb; `bash scripts/docs.sh` builds them as a site.",
)

DOCS = "docs/reference/commands.md"  # each command's --help ends with a link to its section there


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"litkb {__version__}")
        raise typer.Exit()


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
    version: bool = typer.Option(
        False, "--version", help="Show litkb's version and exit.", is_eager=True, callback=_show_version
    ),
) -> None:
    """litkb: from a pasted listing of papers to a searchable knowledge base.

    Example: litkb ingest data/hf-daily-papers-2025-11-18.txt && litkb index && litkb search "rag"
    """
    ctx.obj = AppState(kb_path=kb, debug=debug, chroma_url=chroma_url)


def _register() -> None:
    from .commands import (
        dedup,
        doctor,
        export,
        fetch,
        fulltext,
        ingest,
        mcp,
        personal,
        records,
        search,
        serve,
        themes,
    )

    for module in (
        ingest,
        fetch,
        search,
        records,
        fulltext,
        themes,
        export,
        dedup,
        personal,
        doctor,
        mcp,
        serve,
    ):
        module.register(app)
    _one_line_summaries(app)
    _link_docs(app, ["litkb"])


def _one_line_summaries(group: typer.Typer) -> None:
    """Each command's summary in a list of commands: the first paragraph of its help, on one line (Typer
    keeps the docstring's line breaks there)."""
    import inspect

    for info in group.registered_commands:
        if info.short_help is None:
            text = info.help or inspect.getdoc(info.callback) or ""
            info.short_help = " ".join(text.split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


def _link_docs(group: typer.Typer, path: list[str]) -> None:
    """End every command's --help with `Docs: docs/reference/commands.md#litkb-search` (the section
    scripts/docs.py writes for it; the path works from a clone and in the built site)."""
    from typer.models import DefaultPlaceholder

    for command in group.registered_commands:
        name = command.name or str(getattr(command.callback, "__name__", "")).lower().replace("_", "-")
        if command.epilog is None:
            command.epilog = f"Docs: {DOCS}#{'-'.join([*path, name])}"
    for sub in group.registered_groups:
        name = str(sub.name)
        if sub.epilog is None or isinstance(sub.epilog, DefaultPlaceholder):
            sub.epilog = f"Docs: {DOCS}#{'-'.join([*path, name])}"
        if sub.typer_instance is not None:
            _link_docs(sub.typer_instance, [*path, name])


_register()


def run() -> None:
    """Console-script entry point."""
    app()
