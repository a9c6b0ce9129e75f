"""The knowledge base: the service layer that the CLI, the Python API (and every other interface) call.

>>> from litkb import KnowledgeBase
>>> kb = KnowledgeBase.open("~/papers-kb")
>>> kb.ingest(["data/hf-daily-papers-2025-11-18.txt"])
>>> kb.index()
>>> kb.search("speculative decoding", k=5)      # list of dicts, the same as `--json`

A façade: the records (`litkb.store`), ingesting (`litkb.ingest`), the index (`litkb.index`: built by its
`IndexBuilder`, searched by its `Searcher`) and the themes (`litkb.themes.service`) do the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import config as cfg
from . import selection
from .config import KBConfig
from .errors import NotFoundError, UsageError
from .exporters import ExportContext, get_exporter
from .exporters.markdown import write_notes
from .filters import PaperFilter, SortKey
from .fulltext.attached import PaperText
from .fulltext.service import FullText
from .identity import Duplicate, apply_merges, find_duplicates, find_paper
from .index.build import IndexBuilder, IndexReport, Progress
from .index.keyword import KeywordIndex
from .index.parts import IndexParts
from .index.records import DIGESTS_FILE, IndexRecords
from .index.search import SEARCH_MODES, Searcher, SearchResult, check_queries
from .index.vectors import VectorIndex
from .ingest import IngestReport, LibraryState, parse_inputs, save_parsed
from .lock import holding
from .models import Paper, is_valid_id, remove_tags
from .personal import SavedSearches, Suggestion, saved_filter, saved_form, saved_query, suggest
from .sources.service import TIME_LIMIT, Change, FetchReport, Sources
from .store import RecordStore
from .themes.service import ThemeService
from .themes.themeset import Area, Theme, ThemeSet
from .themes.trends import Trend

__all__ = ["SEARCH_MODES", "IndexReport", "IngestReport", "KnowledgeBase", "Progress", "SearchResult"]


class KnowledgeBase:
    """A knowledge-base folder: `records/` (the truth), `config.yaml`, and derived `index/` and `.cache/`."""

    def __init__(self, root: Path, chroma_url: str | None = None) -> None:
        self.root = root
        self.config = KBConfig.load(root) if root.is_dir() else KBConfig()
        self._given_url = chroma_url
        self.chroma_url = self.config.vector_server(chroma_url)
        self.store = RecordStore(root / cfg.RECORDS_DIR, cache_file=root / cfg.CACHE_DIR / "records.json")
        self.index_dir = root / cfg.INDEX_DIR
        self._parts: IndexParts | None = None
        # What the caller should be told (unreadable records, unindexed papers); the core never prints:
        # the CLI shows these on stderr when a command ends, a Python caller reads them.
        self.warnings: list[str] = []
        # How long a writer waits for a lock (None: $LITKB_LOCK_TIMEOUT, else 30 s; the web and MCP
        # servers set 0: a change answers "busy" at once), and who hears that it waits (the CLI says so).
        self.lock_timeout: float | None = None
        self.on_wait: Callable[[str], None] | None = None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @classmethod
    def open(cls, path: str | Path | None = None, chroma_url: str | None = None) -> KnowledgeBase:
        """The knowledge base at `path` (default: LITKB_HOME, then the documented default folder), its
        vectors on the Chroma server at `chroma_url` (default: LITKB_CHROMA_URL, then the config's
        `chroma_url`, else embedded in the knowledge base)."""
        root = cfg.resolve_home(path)
        if root.exists() and not root.is_dir():
            raise UsageError(f"{root}: is a file, not a knowledge-base folder; name a folder with --kb")
        return cls(root, chroma_url=chroma_url)

    # -- the index's parts and the engines that use them -----------------------------------------

    @property
    def parts(self) -> IndexParts:
        if self._parts is None:
            c = self.config
            self._parts = IndexParts.open(self.index_dir, c.collection, self.chroma_url, c.model, c.device)
        return self._parts

    @property
    def vectors(self) -> VectorIndex:
        return self.parts.vectors

    @property
    def keywords(self) -> KeywordIndex:
        return self.parts.keywords

    @property
    def builder(self) -> IndexBuilder:
        return IndexBuilder(self.store, self.parts, self.indexing)

    @property
    def searcher(self) -> Searcher:
        return Searcher(self.store, self.parts, self.warn)

    @property
    def theme_service(self) -> ThemeService:
        return ThemeService(self.root, self.vectors, self.writing, self.warn)

    # -- writing ---------------------------------------------------------------------------------

    def _ensure_created(self) -> None:
        server = self.chroma_url if self._given_url else None
        if cfg.create_folder(self.root, self.config, server):
            self._parts = None  # opened again with the new collection's name

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the records for writing (one process at a time; an index being built does not hold them).
        Waits up to `lock_timeout` seconds (None: $LITKB_LOCK_TIMEOUT, else 30; 0: not at all)."""
        self._ensure_created()
        cleaned = [self.root, self.root / cfg.RECORDS_DIR]
        with holding(self.root / cfg.LOCK_FILE, cleaned, self.lock_timeout, "writing to", self.on_wait):
            yield

    @contextmanager
    def indexing(self) -> Iterator[None]:
        """Hold the index for writing (one `litkb index` or repair at a time; Chroma's embedded store allows
        one writer). Records can change meanwhile: the index works from the records as they were when it
        started and catches up on its next run."""
        self._ensure_created()
        cache = self.root / cfg.CACHE_DIR
        cache.mkdir(exist_ok=True)
        lock = cache / cfg.INDEX_LOCK_FILE
        with holding(lock, [self.index_dir], self.lock_timeout, "indexing", self.on_wait):
            yield

    def ingest(
        self,
        paths: Sequence[str],
        format: str | None = None,
        year: int | None = None,
        stdin: Callable[[], bytes] | None = None,
        encoding: str | None = None,
        collection: str | None = None,
        copy_files: bool = False,
    ) -> IngestReport:
        """Parse input files (or a Zotero database, `collection` picking a collection: see `litkb.sync`) into
        records, all read before anything is written. A file that gives no paper is named in
        `report.failed` when others gave papers; when none does it is an error and nothing is written.
        A library's PDFs are attached by reference (copied with `copy_files`), their text not read yet."""
        report, libraries = IngestReport(), list[LibraryState]()
        parsed = parse_inputs(paths, report, format, year, stdin, encoding, collection, libraries)
        files = self.fulltext.library_files(parsed, copy_files)
        with self.writing():
            save_parsed(self.store, parsed, report, libraries, files)
            self.theme_service.forget(report.removed)
        return report

    def fetch(
        self, source: str, refresh: bool = False, time_limit: float = TIME_LIMIT, **options: Any
    ) -> FetchReport:
        """Papers from an online source (`hf`, `arxiv`, `doi`; see `litkb.sources`) saved as records, like
        ingest. What failed is in `report.failures`; what was fetched is written all the same."""
        return self._sources(refresh, time_limit).fetch_into(self.store, self.writing, source, **options)

    def enrich(
        self,
        where: PaperFilter | None = None,
        ids: Sequence[str] = (),
        dry_run: bool = False,
        refresh: bool = False,
        time_limit: float = TIME_LIMIT,
    ) -> tuple[list[Change], list[str]]:
        """Fill what the selected records lack (arXiv id, DOI, authors, links) from arXiv and Crossref,
        never overwriting a value; `dry_run`: only say what would change. The changes, and the lookups
        that failed."""
        papers = self.select(where, ids=list(ids) or None)
        return self._sources(refresh, time_limit).enrich(papers, None if dry_run else self.update_record)

    @property
    def fulltext(self) -> FullText:
        """Attached files (PDFs) and their text: `ingest`, `attach`, `detach`, `download`, `pages`, `path`."""
        return FullText(self.root, self.store, self.writing, lambda: self._sources(False, TIME_LIMIT))

    def _sources(self, refresh: bool, time_limit: float) -> Sources:
        return Sources(self.config, self.root / cfg.CACHE_DIR / "http", refresh, time_limit)

    def index(
        self,
        rebuild: bool = False,
        progress: Progress | None = None,
        device: str | None = None,
        prune: bool = False,
        extracting: Progress | None = None,
    ) -> IndexReport:
        """Embed new and changed records (all their passages), drop what is gone from the records, and
        bring the keyword index up to date. `device` overrides the config's (cpu, cuda, auto). On a
        Chroma server, papers with no record here may be another member's: they are removed only with
        `prune`. A local index found damaged is rebuilt from the records (see `IndexBuilder.run`).
        First the text of attached files that the text cache lacks is extracted (`extracting` hears how
        far; a file that fails is a line of `report.warnings`)."""
        if device is not None:
            self.config.device = cfg.check_device(device)
            self.parts.encoders.use_device(self.config.device)
        records = self._index_records()
        readable = records.vector_hashes  # an unreadable record is not read twice
        extraction = self.fulltext.extract_missing(
            lambda ids: records.papers(i for i in ids if i in readable), extracting, records.file_keys
        )
        report = self.builder.run(records, rebuild=rebuild, progress=progress, prune=prune)
        report.warnings[:0] = extraction.failed
        if report.embedded or report.deleted:
            with self.writing():
                self.theme_service.after_index(records.ids)
        return report

    def repair_index(self, progress: Progress | None = None) -> IndexReport:
        """Rebuild the index from the records (on a Chroma server: complete it); see `IndexBuilder.repair`.
        The text the text cache lacks is extracted first, as `index` does."""
        papers = self.papers(require=True)
        extraction = self.fulltext.extract_missing(lambda ids: papers)
        records = IndexRecords.of(papers, self.vectors.model)
        report = self.builder.repair(records, progress)
        report.warnings[:0] = extraction.failed
        with self.writing():
            self.theme_service.after_index(records.ids)
        return report

    def _index_records(self) -> IndexRecords:
        """The records as the index sees them: only those changed since the last run are read."""
        self._check_exists()
        records = IndexRecords.read(
            self.store, self.root / cfg.CACHE_DIR / DIGESTS_FILE, self.vectors.model, self.warn
        )
        if not records.ids:
            raise cfg.empty_error(self.root)
        return records

    # -- reading ---------------------------------------------------------------------------------

    def papers(self, require: bool = False) -> list[Paper]:
        """Every record. Records that cannot be read are left out and named in `warnings`."""
        if require:
            self._check_exists()
        papers, problems = self.store.load_all()  # none when there is no folder
        for problem in problems:
            self.warn(problem)
        if require and not papers:
            raise cfg.empty_error(self.root)
        return papers

    def _check_exists(self) -> None:
        if not self.root.is_dir():
            raise cfg.missing_error(self.root)

    def get(self, ref: str) -> Paper:
        """A paper by id, DOI, arXiv id, external id, or forgiving title (case, punctuation, prefix)."""
        ref = ref.strip()
        if not ref:
            raise NotFoundError("no paper named: give an id or a title")
        if is_valid_id(ref) and self.store.exists(ref):
            return self.store.load(ref)
        return find_paper(self.papers(require=True), ref)

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        """The title of each paper id (ids without a record are left out)."""
        return self.store.titles(ids)

    def resolve(self, where: PaperFilter, papers: Sequence[Paper] | None = None) -> PaperFilter:
        """A copy of `where` with its theme and area turned into ids, its tags and sources checked against
        the whole knowledge base (a tag no paper has is a typo, not an empty selection)."""
        return selection.resolve(where, self.papers() if papers is None else papers, self.theme_service)

    def select(
        self,
        where: PaperFilter | None = None,
        ids: Sequence[str] | None = None,
        query: str | None = None,
        k: int = 20,
        sort: SortKey | None = None,
        reverse: bool = False,
    ) -> list[Paper]:
        """The papers `where` lets through, of those named by `ids` (ids or titles) and of the top `k` of a
        search for `query`: in search rank order for a query, else by `sort` (default: newest first)."""
        papers = self.papers(require=True)
        where = where or PaperFilter()
        keep = self.resolve(where, papers)
        if ids:
            keep = selection.named(keep, [self.get(ref).id for ref in ids])
        ranked = None if query is None else [h["id"] for h in self.search(query, k=k, theme=where.theme)]
        return selection.chosen(papers, keep, ranked, sort, reverse)

    def unindexed(self) -> int:
        """How many records the index does not hold yet (new since the last `litkb index`)."""
        return self.vectors.unindexed(self.store)

    # -- searching -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        theme: str | None = None,
        where: PaperFilter | None = None,
        scope: str = "all",
    ) -> list[SearchResult]:
        """The `k` papers that best answer `query`, best first. `mode`: hybrid (default: keyword and
        meaning fused), semantic or keyword; `scope`: all, abstract or full (text). `theme` and `where`
        keep only the papers they allow."""
        return self.search_many([query], k, mode=mode, theme=theme, where=where, scope=scope)[0]

    def search_many(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: str = "hybrid",
        theme: str | None = None,
        where: PaperFilter | None = None,
        scope: str = "all",
    ) -> list[list[SearchResult]]:
        """Answer many queries with one model load and one encoding pass."""
        check_queries(queries, mode, scope)
        self._require_index()
        allowed = selection.allowed(theme, where, self.papers, self.theme_service)
        return self.searcher.search_many(queries, k, mode, allowed, scope)

    def related(
        self,
        refs: str | Sequence[str],
        k: int = 10,
        theme: str | None = None,
        where: PaperFilter | None = None,
    ) -> list[SearchResult]:
        """The `k` papers nearest by meaning to a paper, or to several together, the papers themselves
        excluded. Papers are compared as wholes (their title and abstract, passage 0); several seeds are
        met at the mean of their vectors, which ranks by the average closeness to all of them."""
        seeds = [self.get(ref) for ref in ([refs] if isinstance(refs, str) else refs)]
        self._require_index()
        return self.searcher.related(
            seeds, k, lambda: selection.allowed(theme, where, self.papers, self.theme_service)
        )

    def paper_text(self, ref: str) -> PaperText:
        """A paper's attached files and their text by page (see `litkb.fulltext.attached`)."""
        return PaperText(self.root, self.get(ref))

    def passages(self, ref: str, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The passages of a paper's full text that best answer `query`, with page and quote."""
        self._require_index()
        return self.searcher.passages(self.get(ref), query, k)

    def _require_index(self) -> None:
        if not self.store.any_record():
            self.papers(require=True)  # says whether the knowledge base is missing or empty
        self.vectors.check_usable(self.config.model)

    # -- themes ----------------------------------------------------------------------------------

    def themes(self, k: int | None = None, rebuild: bool = False) -> ThemeSet:
        """The knowledge base's themes: the saved ones (with papers indexed since then assigned to the
        nearest theme), or a new clustering when none is saved, `rebuild` is set or `k` differs."""
        papers = self.papers(require=True)
        self._require_index()
        return self.theme_service.themes(papers, k, rebuild)

    def theme_members(self, ref: str) -> tuple[Theme, list[str]]:
        """A saved theme (by id or label) and its papers' ids."""
        return self.theme_service.theme_members(ref)

    def area_members(self, ref: str) -> tuple[Area, list[str]]:
        """A saved area (by id or label) and its papers' ids."""
        return self.theme_service.area_members(ref)

    def theme_trends(
        self, theme_set: ThemeSet, since: str | None = None, papers: Sequence[Paper] | None = None
    ) -> dict[str, dict[int, Trend]]:
        """Papers per month of every theme and area, and with `since` what grew (see `litkb.themes.trends`).
        `papers`: the records, when the caller has them already."""
        return self.theme_service.trends(theme_set, papers if papers is not None else self.papers(), since)

    def theme_map(self, path: Path, theme_set: ThemeSet) -> int:
        """Write the themes' map (self-contained HTML) to `path`; returns the number of papers drawn."""
        return self.theme_service.write_map(path, theme_set, self.papers())

    # -- what the owner adds ---------------------------------------------------------------------

    def update_record(self, ref: str, change: Callable[[Paper], None]) -> Paper:
        """Apply `change` to one paper's record and write it (only the YAML file: the index is untouched
        unless the embedded text changes, and `litkb index` sees that by its hash)."""
        with self.writing():
            paper = self.get(ref)
            change(paper)
            Paper.from_dict(paper.to_dict(), paper.id)  # still a valid record
            self.store.save_many([paper])
        return paper

    def untag(self, ref: str, tags: Sequence[str]) -> tuple[Paper, list[str]]:
        """Remove tags from a paper; the record and the tags it did not have. None of them there is an
        error (nothing to do: a typo, most likely)."""
        absent: list[str] = []
        paper = self.update_record(ref, lambda p: absent.extend(remove_tags(p, tags)))
        return paper, absent

    def remove(self, refs: Sequence[str]) -> list[Paper]:
        """Remove papers' records (every reference is resolved before anything is removed); their
        vectors and keyword entries go at the next `litkb index`, their theme assignment now."""
        with self.writing():
            papers = list({p.id: p for p in (self.get(ref) for ref in refs)}.values())
            self.store.remove([p.id for p in papers])
            self.theme_service.forget([p.id for p in papers])
            self.fulltext.after_remove(papers)  # their copied files, where no other record has them
        return papers

    def record_text(self, paper_id: str) -> str:
        """A record's YAML as it is on disk."""
        return self.store.text(paper_id)

    def replace_record_text(self, paper_id: str, text: str) -> bool:
        """Write a record edited by hand, if it is a valid record with the same id (else an error naming
        the line, and the file as it was). Returns whether anything changed."""
        with self.writing():
            return self.store.replace_text(paper_id, text)

    def next_papers(self, k: int = 10, where: PaperFilter | None = None) -> list[tuple[Paper, Suggestion]]:
        """Unread papers (of those `where` lets through) ranked by fit to the liked and read ones (see
        `litkb.personal`)."""
        papers = self.papers(require=True)
        self._require_index()
        keep = self.resolve(where, papers) if where is not None and where.active() else None
        return suggest(papers, self.vectors.own_vectors, k, keep)

    # -- saved searches --------------------------------------------------------------------------

    def saved_searches(self) -> dict[str, dict[str, Any]]:
        """Every saved search by name (`saved-searches.yaml`)."""
        return SavedSearches(self.root).load()

    def saved_search(self, name: str) -> dict[str, Any]:
        return SavedSearches(self.root).get(name)

    def save_search(
        self, name: str, query: str, k: int, mode: str, where: PaperFilter, force: bool = False
    ) -> bool:
        """Save a search; an existing one of that name is replaced only with `force` (returns True)."""
        with self.writing():
            return SavedSearches(self.root).save(name, saved_form(query, k, mode, where), force=force)

    def run_saved_search(self, name: str) -> tuple[dict[str, Any], list[SearchResult]]:
        """A saved search and its results now."""
        search = self.saved_search(name)
        return search, self.search(*saved_query(search), where=saved_filter(search))

    def remove_saved_search(self, name: str) -> None:
        with self.writing():
            SavedSearches(self.root).remove(name)

    # -- duplicates ------------------------------------------------------------------------------

    def duplicates(self) -> list[Duplicate]:
        """Records that look like the same paper, with the reason (nothing is changed)."""
        papers = self.papers(require=True)
        return find_duplicates(papers, self.vectors.own_vectors_if_current([p.id for p in papers]))

    def merge_duplicates(self, found: Sequence[Duplicate]) -> int:
        """Merge what `duplicates()` listed, exactly: each `drop` record into its `keep` record (the kept
        record's values stay shown, the others are kept under `conflicts`; tags, notes and the owner's
        marks joined), then remove the dropped record. Returns how many records were merged away."""
        with self.writing():
            removed = apply_merges(self.store, found)
            self.theme_service.forget(removed)
        return len(removed)

    # -- export ----------------------------------------------------------------------------------

    def export_context(self, ascii: bool = False) -> ExportContext:
        """Citation keys over the whole knowledge base (so a paper's key never depends on the selection)."""
        return ExportContext.of(self.papers(), self.root, ascii)

    def export(self, format: str, papers: Sequence[Paper | str], ascii: bool = False) -> str:
        """The papers (or paper ids) in an export format (`bibtex`, `markdown`, `csl-json`); `ascii`:
        BibTeX in plain ASCII rather than UTF-8."""
        chosen = [p if isinstance(p, Paper) else self.store.load(p) for p in papers]
        return get_exporter(format)(chosen, self.export_context(ascii))

    def export_notes(self, papers: Sequence[Paper], directory: Path, force: bool = False) -> int:
        """One Markdown note per paper (`<id>.md`, YAML front matter) in `directory`."""
        return write_notes(papers, self.export_context(), directory, force)
