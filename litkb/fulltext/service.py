"""The full-text service: PDFs into the knowledge base (identified, matched to a record or made one),
attached, detached, read back by page. `KnowledgeBase` delegates here.

Files are read (digest, text, identity) before the write lock is taken, so a folder of PDFs does not hold
the records for minutes; copying the files and writing the records happen under the lock, all of a batch
at once, and a copy is removed again when its record could not be written: nothing is half-attached.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, LitkbError, NotFoundError, RecordError, UsageError
from ..identity import Catalog
from ..ingest import IngestReport
from ..models import Paper, Source
from ..store import RecordStore
from ..wording import plural
from .extract import extractor_name
from .files import choose, copy_in, delete_unused, holder, make_entry, remove_copies, stored_path
from .identify import Identified
from .library import LibraryFiles, refuse
from .missing import Extraction, extract_missing
from .pages import ExtractedText, load_text
from .reading import ReadFile, read_files
from .workers import Limits

if TYPE_CHECKING:
    from ..sources.service import Sources

PDF_FORMAT = "pdf"  # the `format` of a record's source that a PDF gave


@dataclass
class FileOutcome:
    """What came of one file: `action` is attached (to an existing record), created (a new record),
    already (that file was attached already) or failed; `message` says it in one line."""

    file: str
    action: str
    message: str
    paper_id: str | None = None
    title: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class PdfReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(o.action == action for o in self.outcomes)

    @property
    def added(self) -> int:
        """Files attached now (to a record that was there, or to a new one)."""
        return self.count("attached") + self.count("created")

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    def summary(self) -> str:
        parts = [
            f"{plural(self.count('created'), 'new record')}",
            f"{self.count('attached')} attached to existing records",
            f"{self.count('already')} already attached",
            f"{self.count('failed')} failed",
        ]
        return "PDFs: " + ", ".join(parts)


def _file_title(path: Path) -> str:
    """A title made of a file's name, where it gave none ("hydra_draft-heads.pdf": "hydra draft heads")."""
    return re.sub(r"[\s_\-.]+", " ", path.stem).strip() or path.name


def _describe(found: Identified) -> str:
    missing = found.missing()
    return f" (not found: {', '.join(missing)})" if missing else ""


class FullText:
    """Attached files and their text for the knowledge base at `root`."""

    def __init__(
        self,
        root: Path,
        store: RecordStore,
        writing: Callable[[], AbstractContextManager[None]],
        sources: Callable[[], Sources] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.root = root
        self.store = store
        self.writing = writing
        self.sources = sources
        self.limits = limits or Limits()

    # -- adding ----------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[str],
        listings: Callable[[list[str]], IngestReport],
        recursive: bool = False,
        fetch: bool = False,
        link: bool = False,
        progress: Callable[[int, int], None] | None = None,
        format: str | None = None,
    ) -> tuple[IngestReport | None, PdfReport]:
        """Listings and PDFs (folders of them with `recursive`) into the knowledge base: the listings
        through `listings` (KnowledgeBase.ingest), then the PDFs (`add`), so a PDF finds the record a
        listing beside it made. A listing or a PDF that fails is said and the others go on (the caller
        tells whether anything came in with `anything_added`). With a `format` named, a folder is that
        format's to read (a Zotero data folder), not a folder of PDFs."""
        pdfs, named, problems = split_inputs(paths, recursive, format is not None)
        listed: IngestReport | None = None
        failed: list[str] = [p.message for p in problems]
        if named:
            try:
                listed = listings(named)
            except InputError as exc:
                if not pdfs:
                    raise
                failed.append(str(exc))
        report = self.add(pdfs, fetch=fetch, link=link, progress=progress) if pdfs else PdfReport()
        report.outcomes[:0] = problems
        report.warnings += [m for m in failed if m not in (p.message for p in problems)]
        return listed, report

    def add(
        self,
        paths: Sequence[Path],
        fetch: bool = False,
        link: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PdfReport:
        """PDFs into the knowledge base: each identified, attached to the record it matches (same arXiv id,
        DOI or title: the identity rules) or made a new record with what it gave; `fetch` fills a new
        record from arXiv or Crossref first. A file that cannot be read is a failed outcome; the others go
        on."""
        report = PdfReport()
        read = read_files(self.root, paths, self.limits, progress)
        usable = []
        for item in read:
            if item.problem or item.text is None:
                report.outcomes.append(FileOutcome(str(item.path), "failed", f"{item.path}: {item.problem}"))
            else:
                usable.append(item)
        fetched = self._fetch_for(usable, report) if fetch else {}
        if not usable:
            return report
        with self.writing():
            papers, problems = self.store.load_all()
            report.warnings += problems
            catalog = Catalog(papers)
            held = {str(f.get("sha256")): p for p in papers for f in p.files}  # digest -> who has it
            batch = _Batch(self.root)
            for item in usable:
                report.outcomes.append(self._place(item, catalog, held, batch, fetched, link))
            batch.commit(self.store)
        return report

    def _place(
        self,
        item: ReadFile,
        catalog: Catalog,
        held: dict[str, Paper],
        batch: _Batch,
        fetched: dict[str, Paper],
        link: bool,
    ) -> FileOutcome:
        name = str(item.path)
        found = item.identified
        have = held.get(item.sha256)
        if have is not None:
            return FileOutcome(name, "already", f"{name}: already attached to {have.id}", have.id, have.title)
        candidate = Paper(
            title=found.title or _file_title(item.path),
            abstract=found.abstract,
            authors=list(found.authors),
            arxiv_id=found.arxiv_id,
            doi=found.doi,
            year=found.year,
            sources=[Source(file=item.path.name, format=PDF_FORMAT)],
        )
        match = catalog.match(candidate)
        if match is not None:
            paper = batch.attach(match, item, link)
            catalog.put(paper)
            held[item.sha256] = paper
            return FileOutcome(
                name,
                "attached",
                f"{name}: attached to {paper.id} ({paper.title})",
                paper.id,
                paper.title,
                item.notes,
            )
        remote = fetched.get(found.arxiv_id or "") or fetched.get((found.doi or "").lower())
        if remote is not None:
            candidate = _fill(remote, candidate)
        candidate.id = catalog.new_id(candidate)
        try:
            Paper.from_dict(candidate.to_dict(), item.path.name)
        except RecordError as exc:
            return FileOutcome(name, "failed", f"{name}: {exc}")
        paper = batch.attach(candidate, item, link)
        catalog.put(paper)
        held[item.sha256] = paper
        guessed = "" if found.title else "; its title is the file's name (no title was found in it)"
        missing = "" if remote is not None else _describe(found)
        return FileOutcome(
            name,
            "created",
            f"{name}: new record {paper.id} ({paper.title}){missing}{guessed}",
            paper.id,
            paper.title,
            item.notes,
        )

    def _fetch_for(self, items: list[ReadFile], report: PdfReport) -> dict[str, Paper]:
        """arXiv's and Crossref's records of the papers the files name (by arXiv id, else DOI), keyed by
        arXiv id and by DOI (lower case). What failed is a warning: the record is made from the file."""
        if self.sources is None:
            return {}
        by_arxiv = sorted({i.identified.arxiv_id for i in items if i.identified.arxiv_id})
        by_doi = sorted({i.identified.doi for i in items if i.identified.doi and not i.identified.arxiv_id})
        out: dict[str, Paper] = {}
        for source, options in (("arxiv", {"ids": by_arxiv}), ("doi", {"dois": by_doi})):
            if not next(iter(options.values())):
                continue
            try:
                got = self.sources().fetch(source, **options)
            except LitkbError as exc:
                report.warnings.append(f"--fetch: {exc}; the records are made from the files alone")
                continue
            report.warnings += [
                f"--fetch: {f}; the records are made from the files alone" for f in got.failures
            ]
            for paper in got.papers:
                for key in (paper.arxiv_id, (paper.doi or "").lower()):
                    if key:
                        out[key] = paper
        return out

    def attach(self, paper_id: str, path: Path, link: bool = False) -> FileOutcome:
        """Attach one PDF to a record (it is read first: a file that cannot be read is an error, and
        nothing changes)."""
        [item] = read_files(self.root, [path], self.limits)
        if item.problem or item.text is None:
            raise InputError(f"{path}: {item.problem}; nothing was attached")
        with self.writing():
            paper = self.store.load(paper_id)
            papers, _ = self.store.load_all()
            other = holder([p for p in papers if p.id != paper_id], item.sha256)
            mine = holder([paper], item.sha256)
            if mine is not None:
                return FileOutcome(
                    str(path), "already", f"{path}: already attached to {paper.id}", paper.id, paper.title
                )
            batch = _Batch(self.root)
            shared = None
            if other is not None and not link:  # the same file another record has: one copy, two records
                shared = next(f for f in other.files if f.get("sha256") == item.sha256)
            paper = batch.attach(paper, item, link, shared)
            batch.commit(self.store)
        notes = list(item.notes)
        if other is not None:
            notes.append(f"the same file is attached to {other.id} too")
        return FileOutcome(
            str(path),
            "attached",
            f"{path}: attached to {paper.id} ({paper.title})",
            paper.id,
            paper.title,
            notes,
        )

    def download(
        self,
        papers: Sequence[Paper],
        progress: Callable[[int, int], None] | None = None,
        named: bool = True,
    ) -> PdfReport:
        """Download from arXiv the PDF of each paper that has an arXiv id and no file, and attach it. A
        paper without an arXiv id, or whose download or file failed, is a failed outcome saying why;
        unless not `named` (a selection, not papers asked for by name): those are left out silently."""
        report = PdfReport()
        if not named:
            papers = [p for p in papers if p.arxiv_id and not p.files]
        wanting = []
        for paper in papers:
            if paper.files:
                report.outcomes.append(
                    FileOutcome(paper.id, "already", f"{paper.id}: has a file already", paper.id)
                )
            elif not paper.arxiv_id:
                report.outcomes.append(
                    FileOutcome(paper.id, "failed", f"{paper.id}: no arXiv id; nothing to download")
                )
            else:
                wanting.append(paper)
        if not wanting or self.sources is None:
            return report
        got, failed = self.sources().pdfs([str(p.arxiv_id) for p in wanting])
        for paper in wanting:
            if str(paper.arxiv_id) in failed:
                report.outcomes.append(
                    FileOutcome(paper.id, "failed", f"{paper.id}: {failed[str(paper.arxiv_id)]}")
                )
        fetched = [p for p in wanting if str(p.arxiv_id) in got]
        read = read_files(self.root, [got[str(p.arxiv_id)] for p in fetched], self.limits, progress)
        with self.writing():
            batch = _Batch(self.root)
            for paper, item in zip(fetched, read, strict=True):
                name = f"{paper.arxiv_id}.pdf".replace("/", "-")
                if item.problem or item.text is None:
                    report.outcomes.append(
                        FileOutcome(name, "failed", f"{paper.id}: the PDF arXiv sent: {item.problem}")
                    )
                    continue
                current = self.store.load(paper.id)  # as it is now (it may have changed meanwhile)
                if holder([current], item.sha256) is None:
                    current = batch.attach(current, item, False, name=name)
                message = f"{paper.id}: downloaded {name} and attached it"
                report.outcomes.append(
                    FileOutcome(name, "attached", message, paper.id, paper.title, item.notes)
                )
            batch.commit(self.store)
        return report

    def library_files(self, papers: Sequence[Paper], copy: bool = False) -> LibraryFiles:
        """The PDFs that a library read whole (Zotero) lists for its `papers`, hashed now (before the write
        lock is taken) for `ingest.save_parsed` to attach: by reference, or copied with `copy`."""
        files = LibraryFiles(self.root, copy)
        files.prepare(papers, lambda: self.store.load_all()[0])
        return files

    def extract_missing(
        self,
        papers_of: Callable[[Sequence[str]], list[Paper]],
        progress: Callable[[int, int], None] | None = None,
        keys: dict[str, list[int]] | None = None,
    ) -> Extraction:
        """Read into the text cache every attached file whose text it lacks, of the records whose files
        changed since the last check (`papers_of`: the records of ids), before `litkb index` builds
        (`keys`: the record files' keys, when already listed)."""
        return extract_missing(self.root, self.store, self.writing, papers_of, self.limits, progress, keys)

    # -- removing --------------------------------------------------------------------------------

    def detach(
        self, paper_id: str, which: str | None = None, delete: bool = False
    ) -> tuple[Paper, list[str], list[str]]:
        """Take files off a record (all, or the one `which` names). With `delete`, a copied file that no
        other record names is deleted too. The record, the paths detached, and the paths deleted."""
        with self.writing():
            paper = self.store.load(paper_id)
            gone = choose(paper, which)
            paper.files = [f for f in paper.files if f not in gone]
            paper.extra = refuse(paper.extra, gone)  # a library's PDF stays off at its next import
            self.store.save_many([paper])
            deleted: list[str] = []
            if delete:
                papers, _ = self.store.load_all()
                deleted = delete_unused(self.root, gone, papers)
        return paper, [str(f["path"]) for f in gone], deleted

    def after_remove(self, removed: Sequence[Paper]) -> list[str]:
        """Delete the copied files of removed records that no remaining record names (the caller holds the
        write lock and has removed the records). The paths deleted."""
        entries = [f for p in removed for f in p.files]
        if not entries:
            return []
        papers, _ = self.store.load_all()
        return delete_unused(self.root, entries, papers)

    # -- reading ---------------------------------------------------------------------------------

    def text(self, paper: Paper, which: str | None = None) -> ExtractedText:
        """The extracted text of a paper's file (its first, or the one `which` names), from the cache, or
        read again from the file when the cache lacks it."""
        entry = choose(paper, which)[0]
        sha = str(entry["sha256"])
        cached = load_text(self.root, sha)
        if cached is not None:
            return cached
        path = self.path(paper, which)
        [item] = read_files(self.root, [path], self.limits)
        if item.text is None:
            raise InputError(f"{path}: {item.problem}")
        if item.sha256 != sha:
            raise InputError(f"{path}: the file changed since it was attached; attach it again")
        return item.text

    def pages(self, paper: Paper, page: int | None = None, which: str | None = None) -> list[tuple[int, str]]:
        """(page number, text) of every page of a paper's file, or of page `page` (1-based)."""
        text = self.text(paper, which)
        if text.status != "ok":
            problem = text.meta.get("problem") or "no text layer, not searchable"
            raise InputError(f"{paper.id}: its file has no text to show: {problem}")
        if page is None:
            return list(enumerate(text.pages, start=1))
        if not 1 <= page <= len(text.pages):
            count = text.page_count
            read = f" ({len(text.pages)} of them read)" if count > len(text.pages) else ""
            raise UsageError(f"--page {page}: {paper.id}'s file has {count} pages{read}")
        return [(page, text.page(page))]

    def path(self, paper: Paper, which: str | None = None) -> Path:
        """Where a paper's file is (its first, or the one `which` names); an error when it is missing."""
        entry = choose(paper, which)[0]
        path = stored_path(self.root, entry)
        if not path.is_file():
            raise NotFoundError(
                f"{paper.id}: its file {path} is missing; attach it again or `litkb detach {paper.id}`"
            )
        return path


def _fill(remote: Paper, local: Paper) -> Paper:
    """The service's record of the paper, with what only the file gave filled in; the file as a source."""
    for name in ("abstract", "doi", "arxiv_id", "year"):
        if getattr(remote, name) in (None, "") and getattr(local, name):
            setattr(remote, name, getattr(local, name))
    if not remote.authors:
        remote.authors = local.authors
    remote.sources = [*remote.sources, *local.sources]
    return remote


class _Batch:
    """Files copied for records not yet written: written together, the copies removed if that fails."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.papers: dict[str, Paper] = {}
        self.created: list[Path] = []

    def attach(
        self,
        paper: Paper,
        item: ReadFile,
        link: bool,
        shared: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Paper:
        if shared is not None:
            path = str(shared["path"])
        elif link:
            path = str(item.path.resolve())
        else:
            path, made = copy_in(self.root, paper.id, item.path, item.sha256, name)
            if made:
                self.created.append(self.root / path)
        entry = make_entry(path, item.sha256, item.size, item.pages, extractor_name(), link)
        paper = dataclasses.replace(paper, files=[*paper.files, entry])  # never in place: the store's cache
        self.papers[paper.id] = paper
        return paper

    def commit(self, store: RecordStore) -> None:
        try:
            store.save_many(self.papers.values())
        except BaseException:
            remove_copies(self.created)
            raise


def anything_added(listed: IngestReport | None, report: PdfReport) -> bool:
    """Whether an ingest brought anything in (a paper, a file; one already there counts: nothing failed)."""
    from_listings = listed.imported + listed.updated + listed.unchanged if listed else 0
    return bool(from_listings or report.added or report.count("already"))


LISTING_SUFFIXES = {".txt", ".bib", ".bibtex", ".json", ".csl", ".csv", ".tsv", ".xml", ".atom"}


def _is_pdf(path: Path) -> bool:
    if path.suffix.lower() == ".pdf":
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(5) == b"%PDF-"
    except OSError:
        return False


def split_inputs(
    paths: Sequence[str], recursive: bool, folders_are_listings: bool = False
) -> tuple[list[Path], list[str], list[FileOutcome]]:
    """The PDFs and the listings among `paths` (a folder: the PDFs and listings in it and below, with
    `recursive`; hidden files left out; a Zotero data folder is a listing, read by the Zotero reader), and
    a failed outcome for each other folder given without it."""
    pdfs: list[Path] = []
    listings: list[str] = []
    problems: list[FileOutcome] = []
    for given in paths:
        path = Path(given).expanduser()
        if given == "-" or not path.exists():
            if path.suffix.lower() == ".pdf":
                pdfs.append(path)  # "no such file", said with the other PDFs
            else:
                listings.append(given)
        elif path.is_dir() and (folders_are_listings or (path / "zotero.sqlite").is_file()):
            listings.append(given)  # a Zotero data folder: its library is read whole, never its storage/
        elif path.is_dir():
            if not recursive:
                problems.append(
                    FileOutcome(
                        given, "failed", f"{given}: is a folder (add --recursive to read the files in it)"
                    )
                )
                continue
            for found in sorted(path.rglob("*")):
                if not found.is_file() or any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue
                if found.suffix.lower() == ".pdf":
                    pdfs.append(found)
                elif found.suffix.lower() in LISTING_SUFFIXES:
                    listings.append(str(found))
        elif _is_pdf(path):
            pdfs.append(path)
        else:
            listings.append(given)
    return pdfs, listings, problems
