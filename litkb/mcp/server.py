"""The MCP server: litkb's tools and paper resources, registered with the official SDK's `MCPServer`.

Read tools (8 at most): search, related, get_paper, read_text, list_papers, whats_new, themes, export. With
`allow_write`, also: tag, note, mark, rate. One `KnowledgeBase` serves every request, so the query encoder,
the passage snapshot and the keyword index load once (on first use) and stay warm; calls are served one
at a time (the knowledge base is not shared between threads). A litkb error, and an argument of the
wrong type or value, is an MCP error result with litkb's one-line message; the server stays up. Where a
tool takes a list of texts (tag, status, papers, tags), one text is taken as a list of one.
"""

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import BeforeValidator, ValidationError

from ..errors import LitkbError
from ..kb import KnowledgeBase
from . import tools

WRITE_TOOLS = ("tag", "note", "mark", "rate")
T = TypeVar("T")

Mode = Literal["hybrid", "semantic", "keyword"]
Sort = Literal["date", "upvotes", "year", "title", "id"]
Scope = Literal["all", "abstract", "full"]
Status = Literal["to-read", "reading", "read"]
Rating = Literal["like", "dislike", "none"]
Format = Literal["bibtex", "csl-json"]
Texts = Annotated[list[str], BeforeValidator(tools.one_or_many)]  # one text is taken as a list of one

FILTERS = (
    "Filters (all optional, all must hold): year ('2023' or '2022..2024'), since (a date), tag (all of "
    "them), author (part of a name), source (an input file or format), status (to-read, reading, read, "
    "unread), theme and area (id or label), min_upvotes."
)


class LitkbServer(MCPServer):
    """MCPServer that answers a write tool's call without --allow-write with litkb's own message."""

    allow_write = False

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if name in WRITE_TOOLS and not self.allow_write:
            raise ToolError(
                f"'{name}' changes records, and this server is read-only; start it with "
                "`litkb mcp --allow-write` to allow it"
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):  # arguments of the wrong type or value
                raise ToolError(
                    f"Error executing tool {name}: {tools.argument_error(exc.__cause__)}"
                ) from None
            raise


def build(kb: KnowledgeBase, allow_write: bool = False) -> LitkbServer:
    """The server for `kb`; with `allow_write`, the tools that change records too."""
    lock = threading.Lock()
    kb.lock_timeout = 0  # a change while another process writes answers "busy" at once

    def call(action: Callable[[], T]) -> T:
        with lock:
            try:
                return action()
            except LitkbError as exc:
                raise ToolError(tools.message(exc)) from None
            finally:
                kb.warnings.clear()

    def as_text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    server = LitkbServer(
        "litkb", instructions=call(lambda: tools.instructions(kb)), version=_version(), log_level="WARNING"
    )
    server.allow_write = allow_write

    @server.tool(structured_output=False)
    def search(
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        cursor: str | None = None,
        year: str | None = None,
        since: str | None = None,
        tag: Texts | None = None,
        author: Texts | None = None,
        source: Texts | None = None,
        status: Texts | None = None,
        theme: str | None = None,
        area: str | None = None,
        min_upvotes: int | None = None,
        search_in: Scope = "all",
    ) -> str:
        """Find the user's papers that answer a question or topic, best first (keywords and meaning;
        mode semantic or keyword for one of them), in abstracts and attached full texts (search_in
        abstract or full for one). Use it first for any question about papers the user has. Returns a
        page of k results (id, title, year, similarity, match, snippet; page and quote when found in the
        full text) and next_cursor for the next page."""
        return as_text(
            call(
                lambda: tools.search(
                    kb,
                    query,
                    k,
                    mode,
                    cursor,
                    tools.where(year, since, tag, author, source, status, theme, area, min_upvotes),
                    search_in,
                )
            )
        )

    search.__doc__ = (search.__doc__ or "") + FILTERS

    @server.tool(structured_output=False)
    def related(
        papers: Texts,
        k: int = 10,
        cursor: str | None = None,
        year: str | None = None,
        since: str | None = None,
        tag: Texts | None = None,
        status: Texts | None = None,
        theme: str | None = None,
    ) -> str:
        """Papers closest in meaning to one paper or to several together (ids or titles), themselves
        left out. Use it to widen from a paper the user names. A page of k results and next_cursor."""
        return as_text(
            call(
                lambda: tools.related(
                    kb, papers, k, cursor, tools.where(year, since, tag, None, None, status, theme)
                )
            )
        )

    @server.tool(structured_output=False)
    def get_paper(paper: str, max_chars: int = 4000) -> str:
        """One paper's record in full (id, DOI, arXiv id or title): authors, date, links, tags, the
        user's notes and reading status, and the abstract; abstract and notes are cut at max_chars
        (truncated says so)."""
        return as_text(call(lambda: tools.get_paper(kb, paper, max_chars)))

    @server.tool(structured_output=False)
    def read_text(
        paper: str, first_page: int = 1, last_page: int | None = None, max_chars: int = 8000
    ) -> str:
        """The extracted text of a paper's attached PDF, pages first_page to last_page (1-based, as
        search's page), at most max_chars; next_page says where to go on. Use it to read around a quote."""
        return as_text(call(lambda: tools.read_text(kb, paper, first_page, last_page, max_chars)))

    @server.tool(structured_output=False)
    def list_papers(
        sort: Sort = "date",
        k: int = 10,
        cursor: str | None = None,
        tag: Texts | None = None,
        status: Texts | None = None,
        theme: str | None = None,
        area: str | None = None,
        year: str | None = None,
        since: str | None = None,
    ) -> str:
        """Browse the papers (newest first by default), optionally only a tag, reading status, theme,
        area, year or those dated since a date: a page of k papers with abstracts cut to 600 characters,
        total, and next_cursor."""
        return as_text(
            call(
                lambda: tools.list_papers(
                    kb, tools.where(year, since, tag, None, None, status, theme, area), sort, k, cursor
                )
            )
        )

    @server.tool(structured_output=False)
    def whats_new(since: str, k: int = 10) -> str:
        """Papers dated on or after a date (2025-11-18, 2025-11), ranked by how well they fit what the
        user liked and read (newest first until they have liked or read something)."""
        return as_text(call(lambda: tools.whats_new(kb, since, k)))

    @server.tool(structured_output=False)
    def themes() -> str:
        """The topics the user's papers fall into: saved themes (id, label, size) grouped into areas. Use
        a theme's id or label as the theme filter of search and list_papers."""
        return as_text(call(lambda: tools.themes(kb)))

    @server.tool(structured_output=False)
    def export(papers: Texts, format: Format = "bibtex") -> str:
        """Citations for papers (ids or titles), as BibTeX or CSL JSON, with stable citation keys."""
        return as_text(call(lambda: tools.export(kb, papers, format)))

    if allow_write:

        @server.tool(structured_output=False)
        def tag(paper: str, tags: Texts) -> str:
            """Add tags to a paper's record."""
            return as_text(call(lambda: tools.tag(kb, paper, tags)))

        @server.tool(structured_output=False)
        def note(paper: str, text: str) -> str:
            """Append text to a paper's notes."""
            return as_text(call(lambda: tools.note(kb, paper, text)))

        @server.tool(structured_output=False)
        def mark(paper: str, status: Status) -> str:
            """Set a paper's reading status (to-read, reading, read)."""
            return as_text(call(lambda: tools.mark(kb, paper, status)))

        @server.tool(structured_output=False)
        def rate(paper: str, rating: Rating) -> str:
            """Like or dislike a paper (what whats_new ranks by); none clears it."""
            return as_text(call(lambda: tools.rate(kb, paper, rating)))

    @server.resource("litkb://paper/{paper_id}", mime_type="text/markdown")
    def paper(paper_id: str) -> str:
        """A paper as Markdown with YAML front matter."""
        with lock:
            try:
                return tools.paper_markdown(kb, paper_id)
            except LitkbError as exc:
                raise ResourceError(tools.message(exc)) from None

    return server


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("litkb")
    except metadata.PackageNotFoundError:
        return "0"
