"""One module per group of commands; each has `register(app)`. Command bodies parse options, call
the knowledge base (`litkb.kb`) and hand the result to `litkb.render`."""

from __future__ import annotations

import typer

from ..kb import KnowledgeBase


def open_kb(ctx: typer.Context) -> KnowledgeBase:
    """The knowledge base named by the global `--kb` option (or LITKB_HOME, or the default)."""
    from .. import render

    state = ctx.find_root().obj
    kb = KnowledgeBase.open(getattr(state, "kb_path", None), chroma_url=getattr(state, "chroma_url", None))

    def show_warnings() -> None:
        for message in kb.warnings:
            render.warn(message)

    kb.on_wait = render.info  # a writer that must wait for the lock says so
    ctx.call_on_close(show_warnings)  # what the core had to say, once the command is done
    return kb
