"""The web interface: pages (inbox, search, paper, themes, reading list, papers), the changes a click
makes (form POSTs), exports and a JSON API under /api/ with the CLI's `--json` shapes.

Safety: the Host header must name this server (against DNS rebinding); with a token (required off the
loopback address) every request carries it; every change is a POST with the CSRF token and, when the
browser says where it comes from, the same origin; templates escape everything; a Content-Security-Policy
allows only the server's own origin. Changes take the knowledge base's write lock (409 "busy" at once
when another litkb process holds it). One `KnowledgeBase` serves every request, one request at a time,
so the encoder, snapshot and keyword index stay loaded.
"""

from __future__ import annotations

import hmac
import re
import secrets
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..errors import (
    AmbiguousError,
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
    KnowledgeBaseBusy,
    LitkbError,
    NotFoundError,
    UsageError,
)
from ..filters import PaperFilter, SortKey, newest_first
from ..index.search import SearchResult
from ..index.snippets import matched_terms
from ..kb import KnowledgeBase
from ..models import STATUSES, Paper, paper_url
from ..names import display_names
from ..personal import awaiting, suggestion_objects
from ..text import sentences
from ..themes.objects import area_objects, theme_objects
from ..themes.themeset import THEMES_FILE, ThemeSet
from ..wording import plural
from .fields import record_fields

HERE = Path(__file__).parent
PAGE = 50
RECHECK = 10.0  # seconds: a record edited by hand, in place, shows within this (litkb's own writes at once)
EXPORTS = {"bibtex": ("bib", "application/x-bibtex"), "csl-json": ("json", "application/json"),
           "markdown": ("md", "text/markdown")}  # fmt: skip
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
MAP_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
PDF_CSP = "default-src 'none'; object-src 'self'; plugin-types application/pdf; frame-ancestors 'self'"


@dataclass
class Settings:
    hosts: list[str]  # Host header values that name this server
    origins: list[str]  # origins a change may come from
    token: str | None = None  # required on every request when set


def create_app(kb: KnowledgeBase, settings: Settings) -> Starlette:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates = Jinja2Templates(env=env)
    kb.store.recheck = RECHECK
    kb.lock_timeout = 0  # a change while another process writes answers 409 busy at once
    csrf = secrets.token_urlsafe(32)
    lock = threading.Lock()

    themes_seen: dict[str, Any] = {}

    def saved_themes() -> ThemeSet | None:
        """The saved themes, read again only when themes.yaml changed (it holds every paper's theme)."""
        try:
            stat = (kb.root / THEMES_FILE).stat()
            key: Any = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            key = None
        if themes_seen.get("key") != key or "value" not in themes_seen:
            themes_seen.update(key=key, value=ThemeSet.load(kb.root) if key else None)
        value: ThemeSet | None = themes_seen["value"]
        return value

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        # What the CLI would say on stderr (a weak match, unindexed papers, a broken record): on the page.
        context.update(csrf=csrf, path=request.url.path, query=dict(request.query_params))
        context.setdefault("notices", list(kb.warnings))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def guarded(handler: Callable[[Request], Response], api: bool = False) -> Callable[[Request], Response]:
        """A handler run one at a time; its litkb errors become a page (or JSON) with a fitting status."""

        def run(request: Request) -> Response:
            with lock:
                try:
                    return handler(request)
                except LitkbError as exc:
                    status = _status(exc)
                    text = _message(exc)
                    if api or "application/json" in request.headers.get("accept", ""):
                        return JSONResponse({"error": text}, status_code=status)
                    return page(request, "error.html", status=status, message=text)
                finally:
                    kb.warnings.clear()

        return run

    def post(handler: Callable[[Request, dict[str, str]], Response]) -> Callable[[Request], Any]:
        """A change: the CSRF token and the origin checked before anything is read or written."""

        async def run(request: Request) -> Response:
            form = {k: str(v) for k, v in (await request.form()).items()}
            given = form.get("csrf") or request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(given, csrf):
                return _refused(
                    request, 403, "the form's token is missing or stale; reload the page and try again"
                )
            origin = request.headers.get("origin") or _origin_of(request.headers.get("referer"))
            if origin and origin not in settings.origins:
                return _refused(request, 403, f"a change from another site ({origin}) is refused")
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(guarded(lambda r: handler(r, form)), request)

        return run

    # -- pages -----------------------------------------------------------------------------------

    def inbox(request: Request) -> Response:
        where = _filter(request, ("since", "source", "theme", "tag"))
        saved = saved_themes()
        papers = kb.papers(require=True)
        keep = kb.resolve(where, papers)
        waiting = [p for p in papers if awaiting(p) and keep(p)]
        if any(p.rating == "like" or (p.status == "read" and p.rating != "dislike") for p in papers):
            found = kb.next_papers(PAGE, where)
            rows = [_row(p, saved, because=s.because, similarity=s.similarity) for p, s in found]
            ranking = "ranked by fit to the papers you liked and read"
        else:
            rows = [_row(p, saved) for p in newest_first(waiting)[:PAGE]]
            ranking = "newest first: like or read papers and the inbox ranks by what you like"
        shown = plural(len(waiting), "unread paper")
        count = f"{len(rows)} of {shown}" if len(rows) < len(waiting) else shown
        return page(request, "inbox.html", rows=rows, count=count, ranking=ranking,
                    themes=_theme_choices(saved))  # fmt: skip

    def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        mode = request.query_params.get("mode", "hybrid")
        saved = saved_themes()
        results: list[dict[str, Any]] = []
        if q:
            k = _int(request, "k", 20)
            scope = request.query_params.get("in", "all")
            hits = kb.search(q, k=k, mode=mode, where=_filter(request), scope=scope)
            by_id = {p.id: p for p in (kb.get(h["id"]) for h in hits)}
            for hit in hits:
                row = _row(by_id[hit["id"]], saved)
                snippet = _mark(hit["snippet"], q if mode != "semantic" else "")
                if hit["page"] is not None:  # found in the full text: the page (linked) and the quote
                    snippet = _found_in_text(hit["id"], hit["page"], hit["quote"] or "", q) + snippet
                row.update(hit=hit, snippet=snippet)
                row.update(zip(("closeness", "closeness_title"), _closeness(hit), strict=True))
                results.append(row)
        return page(request, "search.html", q=q, mode=mode, results=results, themes=_theme_choices(saved))

    def paper(request: Request) -> Response:
        record = kb.get(request.path_params["id"])
        saved = saved_themes()
        try:
            near = [_row(kb.get(h["id"]), saved) for h in kb.related(record.id, k=5)]
        except LitkbError:
            near = []
        bibtex = kb.export("bibtex", [record])
        q = request.query_params.get("q", "").strip()
        found = []  # the passages of its full text that answer the search it was opened from
        if q and record.files:
            with suppress(LitkbError):
                found = [dict(f, quote=_mark(str(f["quote"]), q)) for f in kb.passages(record.id, q, k=5)]
        return page(
            request, "paper.html", p=_row(record, saved), record=record, related=near, bibtex=bibtex,
            statuses=STATUSES, fields=record_fields(record), authors=display_names(record),
            q=q, passages=found,
        )  # fmt: skip

    def paper_file(request: Request) -> Response:
        """An attached file, only as the record lists it (see `PaperText.path`: no path out of files/)."""
        record = kb.get(request.path_params["id"])
        path = kb.paper_text(record.id).path(_int(request, "n", 1) - 1)  # ?n=2: the second file
        name = re.sub(r"[^A-Za-z0-9._-]", "_", path.name) or "paper.pdf"
        return FileResponse(
            path, media_type="application/pdf", content_disposition_type="inline", filename=name,
            headers={"Content-Security-Policy": PDF_CSP, "Cache-Control": "private, no-cache"},
        )  # fmt: skip

    def themes(request: Request) -> Response:
        saved = saved_themes()
        if saved is None:
            return page(request, "themes.html", themes=[], areas=[])
        papers = kb.papers()
        by_id = {p.id: p for p in papers}
        trends = kb.theme_trends(saved, None, papers)
        listed = theme_objects(saved, trends["themes"], by_id)
        for theme in listed:
            theme["representative"] = [
                (pid, by_id[pid].title) for pid in theme["representative"] if pid in by_id
            ]
        return page(request, "themes.html", themes=listed, areas=area_objects(saved, trends["areas"]))

    def theme_map(request: Request) -> Response:
        saved = saved_themes()
        if saved is None:
            raise NotFoundError("no themes yet; run `litkb themes`")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "map.html"
            kb.theme_map(path, saved)
            html = path.read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": MAP_CSP})

    def reading(request: Request) -> Response:
        saved = saved_themes()
        papers = kb.papers(require=True)
        groups = [
            (s, [_row(p, saved) for p in papers if p.status == s]) for s in ("reading", "to-read", "read")
        ]
        return page(request, "reading.html", groups=groups)

    def papers_page(request: Request) -> Response:
        saved = saved_themes()
        sort = request.query_params.get("sort", "date")
        if sort not in {s.value for s in SortKey}:
            raise UsageError(f"sort '{sort}': use one of {', '.join(s.value for s in SortKey)}")
        chosen = kb.select(_filter(request), sort=SortKey(sort))
        return page(request, "papers.html", rows=[_row(p, saved) for p in chosen[:500]], total=len(chosen))

    def export(request: Request) -> Response:
        fmt = request.query_params.get("format", "bibtex")
        if fmt not in EXPORTS:
            raise UsageError(f"format '{fmt}': use one of {', '.join(EXPORTS)}")
        q = request.query_params.get("q") or None
        chosen = kb.select(_filter(request), query=q, k=_int(request, "k", 50))
        if not chosen:
            raise NotFoundError("no paper matches the selection; nothing to export")
        suffix, media = EXPORTS[fmt]
        return PlainTextResponse(
            kb.export(fmt, chosen),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="litkb-export.{suffix}"'},
        )

    # -- changes ---------------------------------------------------------------------------------

    def changed(request: Request, form: dict[str, str], record: Paper) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"ok": True, "paper": _brief(record)})
        back = form.get("next", "")
        target = back if back.startswith("/") and not back.startswith("//") else f"/paper/{record.id}"
        return RedirectResponse(target, status_code=303)

    def rate(value: str | None) -> Callable[[Request, dict[str, str]], Response]:
        def handle(request: Request, form: dict[str, str]) -> Response:
            record = kb.update_record(request.path_params["id"], lambda p: setattr(p, "rating", value))
            return changed(request, form, record)

        return handle

    def status(request: Request, form: dict[str, str]) -> Response:
        import datetime as dt

        value = form.get("status", "")
        if value not in STATUSES:
            raise UsageError(f"status '{value}': use one of {', '.join(STATUSES)}")

        def change(p: Paper) -> None:
            p.status, p.status_date = value, dt.date.today().isoformat()

        return changed(request, form, kb.update_record(request.path_params["id"], change))

    def tags(request: Request, form: dict[str, str]) -> Response:
        add = [t for t in re.split(r"[,\s]+", form.get("add", "")) if t]
        remove = [t for t in re.split(r"[,\s]+", form.get("remove", "")) if t]
        if not add and not remove:
            raise UsageError("give a tag to add or remove")

        def change(p: Paper) -> None:
            p.tags = [t for t in p.tags if t not in remove] + [t for t in add if t not in p.tags]

        return changed(request, form, kb.update_record(request.path_params["id"], change))

    def note(request: Request, form: dict[str, str]) -> Response:
        text = form.get("text", "").replace("\r\n", "\n").strip()
        record = kb.update_record(request.path_params["id"], lambda p: setattr(p, "notes", text or None))
        return changed(request, form, record)

    # -- the JSON API ----------------------------------------------------------------------------

    def api_search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        hits = kb.search(q, k=_int(request, "k", 10), mode=request.query_params.get("mode", "hybrid"),
                         where=_filter(request))  # fmt: skip
        return JSONResponse(hits)

    def api_paper(request: Request) -> Response:
        return JSONResponse(kb.get(request.path_params["id"]).to_dict())

    def api_related(request: Request) -> Response:
        return JSONResponse(kb.related(request.path_params["id"], k=_int(request, "k", 10)))

    def api_themes(request: Request) -> Response:
        saved = saved_themes()
        if saved is None:
            raise NotFoundError("the knowledge base has no themes yet; run `litkb themes`")
        papers = kb.papers()
        trends = kb.theme_trends(saved, None, papers)
        return JSONResponse(theme_objects(saved, trends["themes"], {p.id: p for p in papers}))

    def api_next(request: Request) -> Response:
        found = kb.next_papers(_int(request, "k", 10))
        return JSONResponse(suggestion_objects(found))

    def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": f"no such page: {request.url.path}"}, status_code=404)
        return page(request, "error.html", status=404, message=f"no such page: {request.url.path}")

    routes = [
        Route("/", guarded(inbox)),
        Route("/search", guarded(search)),
        Route("/paper/{id}", guarded(paper)),
        Route("/paper/{id}/file", guarded(paper_file)),
        Route("/themes", guarded(themes)),
        Route("/themes/map", guarded(theme_map)),
        Route("/reading", guarded(reading)),
        Route("/papers", guarded(papers_page)),
        Route("/export", guarded(export)),
        Route("/paper/{id}/like", post(rate("like")), methods=["POST"]),
        Route("/paper/{id}/dislike", post(rate("dislike")), methods=["POST"]),
        Route("/paper/{id}/status", post(status), methods=["POST"]),
        Route("/paper/{id}/tags", post(tags), methods=["POST"]),
        Route("/paper/{id}/note", post(note), methods=["POST"]),
        Route("/api/search", guarded(api_search, api=True)),
        Route("/api/papers/{id}", guarded(api_paper, api=True)),
        Route("/api/related/{id}", guarded(api_related, api=True)),
        Route("/api/themes", guarded(api_themes, api=True)),
        Route("/api/next", guarded(api_next, api=True)),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    async def safety(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if request.headers.get("host", "") not in settings.hosts:
            return PlainTextResponse("unknown host: this server answers only to its own address", 400)
        if settings.token is not None:
            given = (
                request.query_params.get("token")
                or request.headers.get("x-litkb-token")
                or request.cookies.get("litkb_token")
                or ""
            )
            if not hmac.compare_digest(given, settings.token):
                return PlainTextResponse("a token is needed: open the address litkb serve printed", 401)
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if settings.token is not None and request.query_params.get("token"):
            response.set_cookie("litkb_token", settings.token, httponly=True, samesite="strict")
        return response

    return Starlette(
        routes=routes,
        exception_handlers={404: not_found},
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=safety)],
    )


# -- helpers ---------------------------------------------------------------------------------------


def _status(exc: LitkbError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, KnowledgeBaseBusy):
        return 409
    if isinstance(exc, (IndexMissingError, IndexMismatchError)):
        return 409
    if isinstance(exc, IndexDamagedError):
        return 500
    return 400


def _message(exc: LitkbError) -> str:
    if isinstance(exc, KnowledgeBaseBusy):
        return f"busy: {exc}"
    text = str(exc)
    if isinstance(exc, AmbiguousError):
        text += " " + "; ".join(f"{pid} ({title})" for pid, _, title in exc.candidates)
    return text


def _refused(request: Request, status: int, message: str) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    match = re.match(r"^(https?://[^/]+)", url)
    return match.group(1) if match else None


def _int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    if not str(value).isdigit() or not 1 <= int(str(value)) <= 1000:
        raise UsageError(f"{name} '{value}': give a number from 1 to 1000")
    return int(str(value))


def _filter(request: Request, names: tuple[str, ...] = ()) -> PaperFilter:
    """The CLI's filters from the query string (blank fields ignored)."""
    q = request.query_params

    def one(name: str) -> str | None:
        return (q.get(name) or "").strip() or None if not names or name in names else None

    def many(name: str) -> list[str]:
        return [v for v in q.getlist(name) if v.strip()] if not names or name in names else []

    upvotes = one("min_upvotes")
    if upvotes is not None and not upvotes.isdigit():
        raise UsageError(f"--min-upvotes {upvotes}: give a number")
    return PaperFilter.from_options(
        one("year"), one("since"), int(upvotes) if upvotes else None, many("tag"), many("author"),
        many("source"), many("status"), one("theme"), one("area"),
    )  # fmt: skip


def _theme_choices(saved: ThemeSet | None) -> list[tuple[int, str]]:
    return [(t.id, t.label) for t in saved.themes] if saved else []


def _row(paper: Paper, saved: ThemeSet | None, **extra: Any) -> dict[str, Any]:
    """What a page shows of a paper in a list."""
    theme_id = saved.assignments.get(paper.id) if saved else None
    theme = next((t for t in saved.themes if t.id == theme_id), None) if saved and theme_id else None
    if paper.authors:
        shown = display_names(paper, limit=4)
    else:
        shown = f"{paper.n_authors} authors" if paper.n_authors else ""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": shown,
        "date": paper.date or (str(paper.year) if paper.year else ""),
        "upvotes": paper.upvotes,
        "theme": (theme.id, theme.label) if theme else None,
        "summary": " ".join(sentences(paper.abstract or "")[:2]),
        "url": paper_url(paper),
        "status": paper.status,
        "rating": paper.rating,
        "tags": paper.tags,
        **extra,
    }


def _brief(paper: Paper) -> dict[str, Any]:
    return {"id": paper.id, "title": paper.title, "status": paper.status, "status_date": paper.status_date,
            "rating": paper.rating, "tags": paper.tags, "notes": paper.notes}  # fmt: skip


def _closeness(hit: SearchResult) -> tuple[str, str]:
    """How well a result answers the query, as `litkb search` shows it: the match word (strong, fair,
    weak) with the similarity, the similarity alone for a model without words, else the keyword score."""
    if hit["match"] is not None and hit["similarity"] is not None:
        return f"{hit['match']} match · {hit['similarity']:.2f}", "match, and similarity in meaning"
    if hit["similarity"] is not None:
        return f"similarity {hit['similarity']:.2f}", "similarity in meaning"
    return f"score {hit['score']:.3f}", "keyword score"


def _found_in_text(paper_id: str, page: int, quote: str, query: str) -> Markup:
    """`p. N` linked to that page of the paper's file, then the quote with the query's words marked."""
    link = f"/paper/{paper_id}/file#page={page}"
    opened = f"/paper/{paper_id}?q="
    return (
        Markup('<a class="page" href="{}">p. {}</a>: “').format(link, page)
        + _mark(quote, query)
        + Markup('” <a class="passages" href="{}{}">passages</a><br>').format(opened, url_quote(query))
    )


def _mark(snippet: str, query: str) -> Markup:
    """The snippet, escaped, with the query's words marked."""
    words = matched_terms(query, snippet) if query else []
    if not words:
        return Markup(escape(snippet))
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"
    )
    out = Markup("")
    last = 0
    for match in pattern.finditer(snippet):
        out += (
            escape(snippet[last : match.start()])
            + Markup("<mark>")
            + escape(match.group(0))
            + Markup("</mark>")
        )
        last = match.end()
    return out + escape(snippet[last:])
