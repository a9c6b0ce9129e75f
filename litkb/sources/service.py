"""Fetching and enriching: what `litkb fetch` and `litkb enrich` do, over the one HTTP client."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import KBConfig
from ..errors import LitkbError, UsageError
from ..ingest import IngestReport, save_parsed
from ..models import Paper, normalize_title
from ..wording import plural
from . import arxiv, crossref, hf
from .http import TIME_LIMIT as TIME_LIMIT  # the default, for the callers
from .http import Fetched, HttpClient

if TYPE_CHECKING:
    from ..store import RecordStore

SOURCES = ("hf", "arxiv", "doi")


@dataclass
class FetchReport(IngestReport):
    """An ingest's report, plus what could not be fetched and how many requests went out (0: all from
    the cache)."""

    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def summary(self) -> str:
        text = super().summary() + f"; {plural(self.requests, 'request')}"
        if self.failures:
            text += f"; {len(self.failures)} failed (run the command again to retry them)"
        return text


@dataclass
class Change:
    """A value `enrich` fills in (or would, with --dry-run): `field` of paper `id`, from `source`."""

    id: str
    title: str
    field: str
    value: Any
    source: str


def user_agent(config: KBConfig) -> str:
    try:
        version = metadata.version("litkb")
    except metadata.PackageNotFoundError:
        version = "0"
    contact = f"; mailto:{config.mailto}" if config.mailto else ""
    return f"litkb/{version} (a literature knowledge base{contact})"


class Sources:
    """The online sources with the knowledge base's settings and its response cache (`cache_dir`); one
    run (a fetch or an enrich) takes at most `time_limit` seconds (0: no limit)."""

    def __init__(
        self, config: KBConfig, cache_dir: Path | None, refresh: bool = False, time_limit: float = TIME_LIMIT
    ) -> None:
        self.hf_url = config.service_url("hf_url")
        self.arxiv_url = config.service_url("arxiv_url")
        self.crossref_url = config.service_url("crossref_url")
        arxiv_host = urllib.parse.urlsplit(self.arxiv_url).netloc
        self.client = HttpClient(
            user_agent(config),
            cache_dir,
            refresh,
            intervals={arxiv_host: arxiv.INTERVAL},
            time_limit=time_limit,
        )

    def fetch_into(
        self,
        store: RecordStore,
        writing: Callable[[], AbstractContextManager[None]],
        source: str,
        **options: Any,
    ) -> FetchReport:
        """Fetch, then save the papers as ingest does (matched against the records, under the write lock)."""
        fetched = self.fetch(source, **options)
        report = FetchReport(
            skipped=fetched.skipped,
            warnings=fetched.warnings,
            failures=fetched.failures,
            requests=fetched.requests,
        )
        if fetched.papers:
            with writing():
                save_parsed(store, fetched.papers, report)
        return report

    def fetch(self, source: str, **options: Any) -> Fetched:
        """Papers from `source` (hf: date, week, month, start, end; arxiv: ids, query, most; doi: dois)."""
        try:
            fetched = self._fetch(source, **options)
            fetched.failures += self.client.notes()
            fetched.requests = self.client.requests
            return fetched
        finally:
            self.client.close()

    def _fetch(self, source: str, **options: Any) -> Fetched:
        if source == "hf":
            return hf.fetch(self.client, self.hf_url, hf.listings(**options))
        if source == "arxiv":
            ids, query = options.get("ids") or [], options.get("query")
            if bool(ids) == bool(query):
                raise UsageError("give arXiv ids or --query, one of the two")
            if query:
                return arxiv.search(self.client, self.arxiv_url, query, int(options.get("most") or 100))
            return arxiv.by_ids(self.client, self.arxiv_url, ids)
        if source == "doi":
            if not options.get("dois"):
                raise UsageError("give one or more DOIs, e.g. litkb fetch doi 10.1145/3397271.3401075")
            return crossref.by_dois(self.client, self.crossref_url, options["dois"])
        raise UsageError(f"unknown source '{source}'; known sources: {', '.join(SOURCES)}")

    def pdfs(self, arxiv_ids: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
        """The PDFs of papers by arXiv id, downloaded into the cache (arXiv's 3 s between requests): the
        files by id, and what failed by id."""
        got: dict[str, Path] = {}
        failed: dict[str, str] = {}
        try:
            for arxiv_id in arxiv_ids:
                try:
                    got[arxiv_id] = arxiv.pdf(self.client, self.arxiv_url, arxiv_id)
                except LitkbError as exc:  # a FetchError, or an id arXiv could not have
                    failed[arxiv_id] = str(exc)
        finally:
            self.client.close()
        return got, failed

    def enrich(
        self, papers: list[Paper], update: Callable[[str, Callable[[Paper], None]], Paper] | None
    ) -> tuple[list[Change], list[str]]:
        """What each paper lacks (arXiv id, DOI, author names, links) and a matching record of arXiv or
        Crossref has, looked up by the paper's arXiv id or DOI, else by its title; only where the titles
        match (the identity rule). With `update` (KnowledgeBase.update_record), the records are filled;
        without, nothing is changed. The changes, and the lookups that failed."""
        wanting = [p for p in papers if not p.arxiv_id or not p.doi or not p.authors]
        failures: list[str] = []
        found: dict[str, list[Paper]] = {}
        try:
            by_arxiv = [p.arxiv_id for p in wanting if p.arxiv_id]
            if by_arxiv:
                fetched = arxiv.by_ids(self.client, self.arxiv_url, by_arxiv)
                failures += fetched.failures
                for paper in fetched.papers:
                    found.setdefault(normalize_title(paper.title), []).append(paper)
            by_doi = [p.doi for p in wanting if p.doi and not p.arxiv_id]
            if by_doi:
                fetched = crossref.by_dois(self.client, self.crossref_url, by_doi)
                failures += fetched.failures
                for paper in fetched.papers:
                    found.setdefault(normalize_title(paper.title), []).append(paper)
            for paper in wanting:
                if paper.arxiv_id or paper.doi or normalize_title(paper.title) in found:
                    continue
                query = f'ti:"{_title_words(paper.title)}"'
                fetched = arxiv.search(self.client, self.arxiv_url, query, 5)
                failures += fetched.failures
                for other in fetched.papers:
                    found.setdefault(normalize_title(other.title), []).append(other)
            failures += self.client.notes()
        finally:
            self.client.close()
        changes = [c for p in wanting for c in _fill(p, found.get(normalize_title(p.title), []))]
        if update is not None:
            for paper in wanting:
                mine = [c for c in changes if c.id == paper.id]
                if mine:
                    update(paper.id, lambda p, mine=mine: apply(p, mine))  # type: ignore[misc]
        return changes, failures


def _title_words(title: str) -> str:
    return " ".join(re.findall(r"\w+", title))


def _fill(paper: Paper, candidates: list[Paper]) -> list[Change]:
    """What the candidates (same title) give that the paper lacks; never a value it has."""
    out: list[Change] = []
    for other in candidates:
        source = other.sources[0].format + "-api" if other.sources else "online"
        for name in ("arxiv_id", "doi", "authors"):
            if not getattr(paper, name) and getattr(other, name) and not any(c.field == name for c in out):
                out.append(Change(paper.id, paper.title, name, getattr(other, name), source))
        links = [
            u for u in other.urls + ([f"https://arxiv.org/abs/{other.arxiv_id}"] if other.arxiv_id else [])
        ]
        new = [u for u in dict.fromkeys(links) if u not in paper.urls]
        if new and not any(c.field == "urls" for c in out):
            out.append(Change(paper.id, paper.title, "urls", new, source))
    return out


def apply(paper: Paper, changes: list[Change]) -> None:
    """Fill the paper's missing values (the caller writes the record)."""
    for change in changes:
        if change.field == "urls":
            paper.urls += [u for u in change.value if u not in paper.urls]
        elif not getattr(paper, change.field):
            setattr(paper, change.field, change.value)
            if change.field == "authors":
                paper.n_authors = paper.n_authors or len(change.value)
        paper.provenance[change.field] = change.source
