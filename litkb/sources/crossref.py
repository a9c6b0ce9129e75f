"""Crossref's REST API: `GET /works/{doi}` gives one work's metadata (`message`: `title`, `author`
[{given, family, name}], `issued`/`published` date parts, `container-title`, `DOI`, `abstract` in JATS
XML, `type`, `URL`). A `mailto` from config.yaml goes into the User-Agent (Crossref's polite pool)."""

from __future__ import annotations

import html
import re
import urllib.parse
from typing import Any

from ..errors import UsageError
from ..models import Paper, Source
from .http import Fetched, FetchError, HttpClient, NotAsked

SERVICE = "Crossref"
FORMAT = "crossref"
LIFETIME = 7 * 86400.0  # a work's metadata: a week
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_TAG = re.compile(r"<[^>]+>")


def check_doi(text: str) -> str:
    """A DOI as given, or as a doi.org link; lower-case."""
    value = text.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    if not _DOI.match(value):
        raise UsageError(f"'{text}' is not a DOI (such as 10.1145/3397271.3401075)")
    return value.lower()


def by_dois(client: HttpClient, base: str, dois: list[str]) -> Fetched:
    out = Fetched()
    for position, doi in enumerate(dict.fromkeys(check_doi(d) for d in dois), start=1):
        url = f"{base}/works/{urllib.parse.quote(doi, safe='/')}"
        try:
            data = client.get_json(SERVICE, url, LIFETIME)
            paper = to_paper(data, position, url)
        except NotAsked:
            continue  # summed up by the client's notes
        except FetchError as exc:
            out.failures.append(f"{doi}: {exc}")
            continue
        out.papers.append(paper)
    return out


def to_paper(data: Any, position: int, url: str) -> Paper:
    message = data.get("message") if isinstance(data, dict) else None
    titles = message.get("title") if isinstance(message, dict) else None
    title = " ".join(str(titles[0]).split()) if isinstance(titles, list) and titles else None
    if not isinstance(message, dict) or not title:
        raise FetchError(
            f"{SERVICE}: {url} answered without a work's title; not a /works message", SERVICE, url
        )
    authors = []
    for author in message.get("author") or []:
        if isinstance(author, dict):
            name = " ".join(str(p) for p in (author.get("given"), author.get("family")) if p) or author.get(
                "name"
            )
            if name:
                authors.append(str(name))
    parts = _date_parts(message)
    date = "-".join(f"{p:02d}" if i else f"{p:04d}" for i, p in enumerate(parts)) if len(parts) == 3 else None
    containers = message.get("container-title") or []
    extra: dict[str, Any] = {"type": message.get("type")} if message.get("type") else {}
    if containers and isinstance(containers, list):
        extra["container"] = str(containers[0])
    doi = str(message.get("DOI") or "").lower() or None
    return Paper(
        title=title,
        abstract=jats_text(message.get("abstract")),
        authors=authors,
        n_authors=len(authors) or None,
        date=date,
        year=parts[0] if parts else None,
        urls=[f"https://doi.org/{doi}"] if doi else [],
        doi=doi,
        sources=[Source(file="crossref-api", format=FORMAT, position=position)],
        extra=extra,
    )


def _date_parts(message: dict[str, Any]) -> list[int]:
    for key in ("published", "issued", "published-print", "published-online", "created"):
        value = message.get(key)
        if isinstance(value, dict):
            parts = (value.get("date-parts") or [[]])[0]
            if parts and all(isinstance(p, int) for p in parts):
                return list(parts)
    return []


def jats_text(value: Any) -> str | None:
    """An abstract in JATS XML (`<jats:p>...</jats:p>`) as plain text; its heading ("Abstract") dropped."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"<jats:title>.*?</jats:title>", " ", value, flags=re.DOTALL)
    text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split()) or None
