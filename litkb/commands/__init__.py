"""One module per group of commands; each has `register(app)`. Command bodies parse options, call
the knowledge base (`litkb.kb`) and hand the result to `litkb.render`."""

from __future__ import annotations

import typer

from ..kb import KnowledgeBase


def open_kb(ctx: typer.Context) -> KnowledgeBase:
    """The knowledge base named by the global `--kb` option (or LITKB_HOME, or the default)."""
    state = ctx.find_root().obj
    return KnowledgeBase.open(getattr(state, "kb_path", None), chroma_url=getattr(state, "chroma_url", None))
