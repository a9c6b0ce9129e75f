"""`litkb mcp`: the knowledge base as an MCP server for AI assistants (Claude Desktop, Cursor, agents)."""

from __future__ import annotations

import typer

from .. import render
from ..config import check_port_free, is_loopback
from . import open_kb


def mcp(
    ctx: typer.Context,
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP instead of stdio."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="With --http: the address to bind (default: loopback)."
    ),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="With --http: the port."),
    allow_write: bool = typer.Option(
        False, "--allow-write", help="Also offer the tools that change records (tag, note, mark, rate)."
    ),
) -> None:
    """Serve the knowledge base to AI assistants over MCP (Model Context Protocol).

    On stdio, which is what Claude Desktop, Claude Code, Cursor and VS Code start.

    With --http, streamable HTTP on 127.0.0.1.

    Example: litkb mcp --http --port 8765
    """
    from mcp.server.transport_security import TransportSecuritySettings

    from ..mcp.server import build

    kb = open_kb(ctx)
    kb.papers(require=True)  # says whether the knowledge base is missing or empty, before serving
    server = build(kb, allow_write=allow_write)
    if not http:
        server.run("stdio")
        return
    loopback = is_loopback(host)
    if not loopback:
        render.warn(f"serving on {host}: anyone who can reach this address can read the knowledge base")
    names = ["127.0.0.1", "localhost", "[::1]"] if loopback else [host]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:{port}" for name in names],
        allowed_origins=[f"http://{name}:{port}" for name in names],
    )
    check_port_free(host, port)
    render.info(f"MCP over streamable HTTP at http://{host}:{port}/mcp")
    server.run("streamable-http", host=host, port=port, transport_security=security)


def register(app: typer.Typer) -> None:
    app.command()(mcp)
