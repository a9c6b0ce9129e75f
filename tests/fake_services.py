"""A loopback HTTP server that answers as the online services do, in their real formats:

- the Hugging Face Daily Papers API: `GET /api/daily_papers?date=|week=|month=&limit=&p=`, a JSON list of
  entries (`paper` with `id`, `title`, `summary`, `authors` [{`_id`, `name`, `hidden`}], `publishedAt`,
  `submittedOnDailyAt`, `upvotes`, `githubRepo`, `ai_keywords`, ...; `numComments` beside it), paged;
- arXiv's API: `GET /api/query?id_list=|search_query=&start=&max_results=`, an Atom feed (with
  `opensearch:totalResults`), and arXiv's error entry for a bad id;
- arXiv's PDFs: `GET /pdf/{id}`, the bytes in `pdfs` (application/pdf), an HTML 404 for another id;
- Crossref: `GET /works/{doi}`, `{"status": "ok", "message-type": "work", "message": {...}}` with a JATS
  abstract, 404 "Resource not found." for an unknown DOI.

`script(path, *responses)` queues answers for a path (status, body, headers, delay) that come before the
normal one: a 429 with Retry-After, a 500, a slow answer, an HTML page, an oversize body, a redirect.
`requests` lists every request received.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class ArxivPaper:
    id: str
    title: str
    abstract: str
    authors: list[str]
    published: str = "2025-11-14T18:59:59Z"
    version: int = 1


class FakeServices:
    def __init__(self) -> None:
        self.days: dict[str, list[dict[str, Any]]] = {}
        self.arxiv: dict[str, ArxivPaper] = {}
        self.works: dict[str, dict[str, Any]] = {}
        self.pdfs: dict[str, bytes] = {}
        self.queued: dict[str, list[Answer]] = {}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeServices:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, path: str, *answers: Answer) -> None:
        self.queued.setdefault(path, []).extend(answers)

    # -- the services' answers -------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/api/daily_papers":
            return self._daily_papers(query)
        if path == "/api/query":
            return self._arxiv(query)
        if path.startswith("/pdf/"):
            pdf = self.pdfs.get(re.sub(r"v\d+$", "", path[len("/pdf/") :]))
            if pdf is None:
                return Answer(404, "<html><body>Paper not found</body></html>", {"Content-Type": "text/html"})
            return Answer(200, pdf, {"Content-Type": "application/pdf"})
        if path.startswith("/works/"):
            doi = urllib.parse.unquote(path[len("/works/") :]).lower()
            if doi not in self.works:
                return Answer(404, "Resource not found.", {"Content-Type": "text/plain"})
            message = {"status": "ok", "message-type": "work", "message-version": "1.0.0"}
            return _json({**message, "message": self.works[doi]})
        return Answer(404, "<html><body>Not Found</body></html>", {"Content-Type": "text/html"})

    def _daily_papers(self, query: dict[str, str]) -> Answer:
        if "date" in query:
            try:
                dt.date.fromisoformat(query["date"])
            except ValueError:
                return _json({"error": "Invalid date"}, 400)
            entries = self.days.get(query["date"], [])
        else:
            wanted = query.get("week") or query.get("month") or ""
            entries = [e for day, rows in sorted(self.days.items()) if _in(day, wanted) for e in rows]
        limit, page = int(query.get("limit", 50)), int(query.get("p", 0))
        return _json(entries[page * limit : (page + 1) * limit])

    def _arxiv(self, query: dict[str, str]) -> Answer:
        if "id_list" in query:
            found, errors = [], []
            for wanted in query["id_list"].split(","):
                if wanted in self.arxiv:
                    found.append(self.arxiv[wanted])
                elif not wanted[:4].isdigit():
                    errors.append(wanted)
            if errors:
                return _atom([], error=f"incorrect id format for {errors[0]}")
            return _atom(found)
        search = query.get("search_query", "")
        papers = sorted(self.arxiv.values(), key=lambda p: p.id)
        if search.startswith("ti:"):  # every word of the query in the title, as arXiv's search finds them
            words = set(re.findall(r"\w+", search[3:].lower()))
            papers = [p for p in papers if words <= set(re.findall(r"\w+", p.title.lower()))]
        start, size = int(query.get("start", 0)), int(query.get("max_results", 10))
        return _atom(papers[start : start + size], total=len(papers), start=start)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        services = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                services.requests.append(self.path)
                queued = services.queued.get(parts.path)
                if queued:
                    answer = queued.pop(0)
                else:
                    answer = services.answer(parts.path, dict(urllib.parse.parse_qsl(parts.query)))
                if answer.delay:
                    threading.Event().wait(answer.delay)
                body = answer.body.encode() if isinstance(answer.body, str) else answer.body
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _in(day: str, wanted: str) -> bool:
    if "-W" in wanted:
        year, week, _ = dt.date.fromisoformat(day).isocalendar()
        return f"{year:04d}-W{week:02d}" == wanted
    return day.startswith(wanted)


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(data), {"Content-Type": "application/json; charset=utf-8"})


def _atom(
    papers: list[ArxivPaper], total: int | None = None, start: int = 0, error: str | None = None
) -> Answer:
    entries = []
    for p in papers:
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p.authors)
        entries.append(
            f"""<entry>
    <id>http://arxiv.org/abs/{p.id}v{p.version}</id>
    <updated>{p.published}</updated>
    <published>{p.published}</published>
    <title>{escape(p.title)}</title>
    <summary>{escape(p.abstract)}</summary>
    {authors}
    <link href="http://arxiv.org/abs/{p.id}v{p.version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{p.id}v{p.version}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""
        )
    if error:
        entries = [
            f"""<entry><id>http://arxiv.org/api/errors#{escape(error.replace(" ", "_"))}</id>
    <title>Error</title><summary>{escape(error)}</summary><updated>2025-11-18T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#x" rel="alternate" type="text/html"/>
    <author><name>arXiv api core</name></author></entry>"""
        ]
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: fake</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2025-11-18T00:00:00-05:00</updated>
  <opensearch:totalResults>{total if total is not None else len(entries)}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>
  {"".join(entries)}
</feed>
"""
    return Answer(200, feed, {"Content-Type": "application/atom+xml; charset=utf-8"})


def daily_entry(
    arxiv_id: str,
    title: str,
    abstract: str,
    authors: list[str],
    featured: str,
    upvotes: int = 10,
    published: str = "2025-11-14",
) -> dict[str, Any]:
    """One Daily Papers entry as the API gives it."""
    paper = {
        "id": arxiv_id,
        "authors": [{"_id": f"a{i}", "name": name, "hidden": False} for i, name in enumerate(authors)],
        "publishedAt": f"{published}T18:59:59.000Z",
        "submittedOnDailyAt": f"{featured}T00:00:00.000Z",
        "title": title,
        "summary": abstract,
        "upvotes": upvotes,
        "discussionId": f"d{arxiv_id}",
        "githubRepo": f"https://github.com/example/{arxiv_id}",
        "ai_summary": f"In short: {title}.",
        "ai_keywords": ["speculative decoding", "LLM"],
        "githubStars": 42,
        "organization": {"_id": "o1", "name": "nvidia", "fullname": "NVIDIA", "avatar": "https://x/a.png"},
    }
    return {
        "paper": paper,
        "publishedAt": paper["publishedAt"],
        "title": title,
        "summary": abstract,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": 3,
        "submittedBy": {"_id": "u1", "fullname": "AK", "name": "akhaliq", "type": "user"},
        "isAuthorParticipating": False,
    }
