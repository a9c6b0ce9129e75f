"""arXiv's API (`GET /api/query`, Atom), read with litkb's own Atom parser: papers by id (`id_list`, in
batches) or by a search query (`search_query`, paged with `start` and `max_results`). arXiv asks for one
request every 3 seconds: the HTTP layer keeps that interval for this service's host."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import UsageError
from ..parsers import ParseOptions
from ..parsers.arxiv import NS
from ..parsers.arxiv import parse as parse_atom
from .http import Fetched, FetchError, HttpClient, NotAsked

SERVICE = "arXiv"
PATH = "/api/query"
INTERVAL = 3.0
BATCH = 100  # ids a request
PAGE = 100  # results a page of a search
ID_LIFETIME = 7 * 86400.0  # a paper by id: a week (a new version is a new id in the request)
QUERY_LIFETIME = 3600.0  # a search: an hour
PDF_PATH = "/pdf/"
PDF_LIFETIME = 30 * 86400.0  # a paper's PDF: a month (the latest version; a new one is rare)
PDF_MAX_BYTES = 100 * 2**20  # papers with many figures run to tens of MB
_ID = re.compile(r"^(?:arxiv:)?((?:\d{4}\.\d{4,5})|(?:[a-z\-]+(?:\.[A-Z]{2})?/\d{7}))(v\d+)?$", re.IGNORECASE)


def check_id(text: str) -> str:
    """An arXiv id as given (`2505.12345`, `2401.00001v2`, `arXiv:hep-th/9901001`), without its version."""
    match = _ID.match(text.strip())
    if not match:
        raise UsageError(f"'{text}' is not an arXiv id (such as 2505.12345 or 2401.00001v2)")
    return match.group(1)


def pdf(client: HttpClient, base: str, arxiv_id: str) -> Path:
    """A paper's PDF (arXiv's /pdf/<id> address under the arXiv endpoint), downloaded into the cache."""
    url = f"{base}{PDF_PATH}{check_id(arxiv_id)}"
    return client.get_file(SERVICE, url, PDF_LIFETIME, "application/pdf", PDF_MAX_BYTES)


def by_ids(client: HttpClient, base: str, ids: list[str]) -> Fetched:
    out = Fetched()
    wanted = list(dict.fromkeys(check_id(i) for i in ids))
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        params = {"id_list": ",".join(batch), "max_results": len(batch)}
        _read(client, f"{base}{PATH}", params, ID_LIFETIME, out, f"ids {batch[0]}…")
    return out


def search(client: HttpClient, base: str, query: str, most: int) -> Fetched:
    if not query.strip():
        raise UsageError("--query is empty; e.g. --query 'cat:cs.CL AND abs:\"speculative decoding\"'")
    out = Fetched()
    for start in range(0, most, PAGE):
        size = min(PAGE, most - start)
        params: dict[str, object] = {"search_query": query, "start": start, "max_results": size}
        found = _read(client, f"{base}{PATH}", params, QUERY_LIFETIME, out, f"results {start + 1}…")
        if found < size:
            break
    return out


def _read(
    client: HttpClient, url: str, params: dict[str, object], lifetime: float, out: Fetched, part: str
) -> int:
    """Add one response's papers to `out`; how many entries it had (-1 when it failed)."""
    try:
        text = client.get_text(SERVICE, url, lifetime, params)
        entries = _check(text, url)
    except NotAsked:
        return -1  # summed up by the client's notes
    except FetchError as exc:
        out.failures.append(f"{part}: {exc}")
        return -1
    result = parse_atom(text, ParseOptions(source_name="arxiv-api"))
    for paper in result.papers:
        paper.arxiv_id = check_id(paper.arxiv_id) if paper.arxiv_id else None
        if paper.arxiv_id:  # the abstract page first, as a Daily Papers record has it
            abstract_page = f"https://arxiv.org/abs/{paper.arxiv_id}"
            paper.urls = [abstract_page, *(u for u in paper.urls if u != abstract_page)]
    out.papers += result.papers
    out.warnings += result.warnings
    out.skipped += result.skipped
    return entries


def _check(text: str, url: str) -> int:
    """The number of entries of an Atom response; an error for anything else, or for arXiv's own error
    entry (`.../api/errors#...`)."""
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        what = (
            "an HTML page" if text.lstrip()[:1] == "<" and "<html" in text[:500].lower() else "malformed XML"
        )
        raise FetchError(f"{SERVICE}: {url} answered {what} ({exc}); try again later", SERVICE, url) from None
    if root.tag != f"{{{NS['atom']}}}feed":
        raise FetchError(
            f"{SERVICE}: {url} answered XML that is not an Atom feed; try again later", SERVICE, url
        )
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        if "/api/errors" in (entry.findtext("atom:id", "", NS) or ""):
            message = " ".join((entry.findtext("atom:summary", "", NS) or "").split())
            raise FetchError(f"{SERVICE}: the query was refused: {message}", SERVICE, url)
    return len(entries)
