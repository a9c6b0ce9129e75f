"""`litkb serve`: the knowledge base in a browser, on this machine."""

from __future__ import annotations

import typer

from .. import render
from ..config import check_port_free, is_loopback
from ..errors import UsageError
from . import open_kb


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="The address to bind (default: loopback only)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="The port."),
    token: str | None = typer.Option(
        None, "--token", help="Required with another --host: every request must carry it (?token=...)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the inbox in the web browser."),
) -> None:
    """Serve the knowledge base in a browser: inbox, search, papers, themes, reading list.

    Example: litkb serve --port 8000 --open
    """
    import uvicorn

    from ..web.app import Settings, create_app

    loopback = is_loopback(host)
    if not loopback and not token:
        raise UsageError(f"--host {host} is reachable from other machines: give --token too")
    kb = open_kb(ctx)
    kb.papers(require=True)  # says whether the knowledge base is missing or empty, before serving
    names = ["127.0.0.1", "localhost", "[::1]"] if loopback else [host]
    settings = Settings(
        hosts=[f"{name}:{port}" for name in names],
        origins=[f"http://{name}:{port}" for name in names],
        token=token,
    )
    check_port_free(host, port)
    address = f"http://{'127.0.0.1' if loopback else host}:{port}/" + (f"?token={token}" if token else "")
    render.info(f"litkb at {address} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(address)
    uvicorn.run(create_app(kb, settings), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
