"""The knowledge base: the service layer that the CLI and the Python API both call.

>>> from litkb import KnowledgeBase
>>> kb = KnowledgeBase.open("~/papers-kb")
>>> kb.ingest(["data/hf-daily-papers-2025-11-18.txt"])
>>> kb.index()
>>> kb.search("speculative decoding", k=5)      # list of dicts, the same as `--json`
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import numpy as np

from . import config as cfg
from .config import KBConfig
from .embed import Embedder, get_embedder
from .errors import (
    AmbiguousError,
    IndexDamagedError,
    IndexMissingError,
    InputError,
    LitkbError,
    NotFoundError,
    RecordError,
    UsageError,
)
from .exporters import ExportContext, get_exporter, paper_url
from .exporters.markdown import paper_note
from .filters import PaperFilter, parse_years
from .fsutil import atomic_write_many, atomic_write_text, remove_stale_temp_files
from .identity import Catalog, Duplicate, find_duplicates, merge
from .index import INDEX_SCHEMA, PassageRows, VectorIndex
from .keyword import KeywordIndex
from .lock import write_lock
from .models import Paper, drop_control_characters, is_valid_id, make_id, normalize_title
from .names import citation_keys
from .parsers import ParseOptions, detect_parser, get_parser, read_input
from .passages import SCHEME, passages
from .personal import SavedSearches, Suggestion, rank_next
from .retrieval import DENSE_POOL, FAIR, POOL, best_snippet, fuse, match_label
from .store import RecordStore
from .themes import Trend, add_areas, build_theme_set, centroids, layout_2d, trends
from .themes_map import MapPoint, render_map
from .themeset import Area, Theme, ThemeSet
from .wording import count_is

SEARCH_MODES = ("hybrid", "semantic", "keyword")
WRITE_CHUNK = 256  # passages embedded and written to the index at a time
SMALL_JOB = 64  # up to this many passages are embedded with the exported encoder (no torch to load)
EXACT_FILTER_LIMIT = 5000  # up to this many allowed papers, a filtered search compares them all exactly

Progress = Callable[[int, int], None]


class SearchResult(TypedDict):
    """One hit of `search` or `related`: exactly the object `--json` prints."""

    rank: int
    id: str
    external_id: str | None
    doi: str | None
    arxiv_id: str | None
    title: str
    year: int | None
    score: float  # what the ranking sorts by: hybrid, the fused score (relative to the other hits)
    similarity: float | None  # the paper's closeness in meaning to the query, comparable across queries
    match: str | None  # similarity in words: strong, fair or weak (see litkb.retrieval.match_label)
    snippet: str


@dataclass
class IngestReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)  # field -> how many updated records it changed in
    assumed: list[str] = field(default_factory=list)  # what the parsers assumed (a year, say)

    def summary(self) -> str:
        text = (
            f"imported {self.imported}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}"
        )
        if self.changed:
            text += " (changed: " + ", ".join(f"{name} in {n}" for name, n in self.changed.items()) + ")"
        return "; ".join([text, *self.assumed])


@dataclass
class IndexReport:
    embedded: int = 0
    passages: int = 0
    deleted: int = 0
    unchanged: int = 0
    model: str = ""
    rebuilt: bool = False
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"embedded {self.embedded} ({self.passages} passages), deleted {self.deleted}, "
            f"unchanged {self.unchanged} ({self.model})"
        )
        return f"rebuilt the index: {text}" if self.rebuilt else text


def content_hash(model: str, text: str) -> str:
    """What decides whether a record must be embedded again: the model and the exact text."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


class KnowledgeBase:
    """A knowledge-base folder: `records/` (the truth), `config.yaml`, and derived `index/` and `.cache/`."""

    def __init__(self, root: Path, index_dir: Path | None = None, chroma_url: str | None = None) -> None:
        self.root = root
        self.config = KBConfig.load(root) if root.is_dir() else KBConfig()
        self._given_url = chroma_url
        url = chroma_url or os.environ.get(cfg.ENV_CHROMA_URL) or self.config.chroma_url
        self.chroma_url = cfg.check_url(url) if url else None
        self.store = RecordStore(root / cfg.RECORDS_DIR, cache_file=root / cfg.CACHE_DIR / "records.json")
        self.index_dir = index_dir or root / cfg.INDEX_DIR
        self.vectors = VectorIndex(self.index_dir, self.config.collection, self.chroma_url, self.config.model)
        self.keywords = KeywordIndex(self.index_dir / "bm25")
        self._embedder: Embedder | None = None
        self._query_encoder: Embedder | None = None
        # What the caller should be told (unreadable records, unindexed papers); the core never prints:
        # the CLI shows these on stderr when a command ends, a Python caller reads them.
        self.warnings: list[str] = []
        self._unindexed: tuple[tuple[int, Any], int] | None = None

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
            raise InputError(f"{root}: is a file, not a knowledge-base folder")
        return cls(root, chroma_url=chroma_url)

    @property
    def embedder(self) -> Embedder:
        """The model that embeds papers (loaded on first use)."""
        if self._embedder is None:
            self._embedder = get_embedder(self.config.model, self.config.device)
        return self._embedder

    @property
    def query_encoder(self) -> Embedder:
        """What embeds queries: the model's ONNX export when `litkb index` has made one (fast to start),
        else the model itself."""
        if self._query_encoder is None:
            from .query_encoder import OnnxQueryEncoder

            exported = OnnxQueryEncoder.load(self.encoder_dir, self.config.model)
            self._query_encoder = exported if exported is not None else self.embedder
        return self._query_encoder

    @property
    def encoder_dir(self) -> Path:
        return self.index_dir / "encoder"

    # -- writing ---------------------------------------------------------------------------------

    def _ensure_created(self) -> None:
        if self.root.is_dir() and not (self.root / cfg.CONFIG_FILE).exists():
            self._check_is_knowledge_base()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / cfg.RECORDS_DIR).mkdir(exist_ok=True)
            if not (self.root / cfg.CONFIG_FILE).exists():
                # A new knowledge base: a collection name of its own (one server can hold several), and
                # the server it was created on, when named with --chroma-url.
                self.config.collection = cfg.new_collection_name()
                self.config.chroma_url = self.chroma_url if self._given_url else None
                self.vectors.collection_name = self.config.collection
                atomic_write_text(self.root / cfg.CONFIG_FILE, self.config.dump())
            if not (self.root / ".gitignore").exists():
                atomic_write_text(self.root / ".gitignore", cfg.KB_GITIGNORE)
        except PermissionError as exc:
            raise LitkbError(
                f"cannot write to {self.root}: permission denied; choose another folder with --kb"
            ) from exc
        except OSError as exc:
            raise LitkbError(
                f"cannot create the knowledge base at {self.root}: {exc.strerror or exc}"
            ) from exc

    def _check_is_knowledge_base(self) -> None:
        """A folder becomes a knowledge base only when it is empty (or already holds records): never a
        project folder or a home directory named by mistake."""
        try:
            entries = [e.name for e in os.scandir(self.root)]
        except OSError:
            return  # the write that follows says what is wrong
        if entries and cfg.RECORDS_DIR not in entries:
            raise UsageError(
                f"{self.root} is not a knowledge base (no {cfg.CONFIG_FILE}) and is not empty; name a new "
                "or empty folder with --kb, or the folder of an existing knowledge base"
            )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the knowledge base for writing (one process at a time)."""
        self._ensure_created()
        with write_lock(self.root / cfg.LOCK_FILE):
            for folder in (self.root, self.root / cfg.RECORDS_DIR, self.index_dir):
                remove_stale_temp_files(folder)  # what a killed process left half-written
            yield

    def ingest(
        self,
        paths: Sequence[str],
        format: str | None = None,
        year: int | None = None,
        stdin: Callable[[], bytes] | None = None,
        encoding: str | None = None,
    ) -> IngestReport:
        """Parse input files into records. Every file is read and parsed before anything is written. A file
        that cannot be read or holds no paper is a warning when other files gave papers; when nothing gave
        a paper it is an error and nothing is written."""
        if not paths:
            raise InputError("no input file given; e.g. `litkb ingest data/hf-daily-papers-2025-11-18.txt`")
        report = IngestReport()
        parsed: list[Paper] = []
        failures: list[InputError] = []
        for path in paths:
            try:
                name, text, warnings = read_input(path, stdin, encoding)
                parser = get_parser(format) if format else detect_parser(text, name)
            except InputError as exc:
                failures.append(exc)
                continue
            report.warnings.extend(warnings)
            result = parser.parse(text, ParseOptions(source_name=name, year=year))
            report.warnings.extend(result.warnings)
            report.assumed.extend(result.assumed)
            report.skipped += result.skipped
            valid = []
            for paper in result.papers:  # a parser's output must be a record that loads back
                drop_control_characters(paper)
                try:
                    Paper.from_dict({**paper.to_dict(), "id": make_id(paper.title)}, name)
                    valid.append(paper)
                except RecordError as exc:
                    report.warnings.append(f"skipped '{paper.title[:60]}': {exc}")
                    report.skipped += 1
            result.papers = valid
            if not result.papers:
                failures.append(InputError(f"{name}: no paper found in this {parser.description} file"))
            parsed.extend(result.papers)
        if not parsed:
            # Nothing could be read: an error, and nothing is written.
            first = failures[0] if failures else InputError("no paper found in the input")
            raise InputError(f"{first}; nothing was written") from None
        report.warnings.extend(f"{failure}; the other files were read" for failure in failures)

        with self.writing():
            existing, problems = self.store.load_all()
            report.warnings.extend(problems)
            catalog = Catalog(existing)
            changed: dict[str, Paper] = {}
            for paper in parsed:
                match = catalog.match(paper)
                if match is None:
                    paper.id = catalog.new_id(paper)
                    if self.store.exists(paper.id):  # there, but unreadable: never overwrite it
                        report.warnings.append(
                            f"{self.store.path_for(paper.id)}: cannot be read, so '{paper.title[:60]}' "
                            "was not updated; fix or remove that file"
                        )
                        report.skipped += 1
                        continue
                    catalog.put(paper)
                    changed[paper.id] = paper
                    report.imported += 1
                    continue
                merged = merge(match, paper)
                before, after = match.to_dict(), merged.to_dict()
                if before == after:
                    if match.id not in changed:
                        report.unchanged += 1
                    continue
                if match.id not in changed:
                    report.updated += 1
                for name in _changed_fields(before, after):
                    report.changed[name] = report.changed.get(name, 0) + 1
                catalog.put(merged)
                changed[merged.id] = merged
            self.store.save_many(changed.values())
        return report

    def index(
        self,
        rebuild: bool = False,
        progress: Progress | None = None,
        device: str | None = None,
        prune: bool = False,
    ) -> IndexReport:
        """Embed new and changed records (all their passages), drop what is gone from the records, and
        bring the keyword index up to date. `device` overrides the config's (cpu, cuda, auto). On a
        Chroma server, papers with no record here may be another member's: they are removed only with
        `prune`. A local index found damaged (say, by a crash in the middle of a write) is rebuilt from
        the records, as `litkb doctor --repair` would, with a warning."""
        if device is not None:
            self.config.device = cfg.check_device(device)
            self._embedder = None
        try:
            return self._index(rebuild, progress, prune)
        except IndexDamagedError as exc:
            if rebuild or self.chroma_url is not None:
                raise
            from .doctor import repair

            report = repair(self, progress)
            report.warnings.insert(0, f"rebuilt the index from the records: it was damaged ({exc.reason})")
            return report

    def _index(self, rebuild: bool, progress: Progress | None, prune: bool) -> IndexReport:
        papers = self.papers(require=True)
        model = self.config.model
        report = IndexReport(model=model)
        with self.writing():
            manifest = self.vectors.read_manifest() if not rebuild else None
            if rebuild or (
                manifest is not None
                and (manifest.get("model") != model or manifest.get("schema") != INDEX_SCHEMA)
            ):
                self.vectors.drop()
                self.keywords.drop()
                report.rebuilt = True
            want = {p.id: content_hash(model, f"{SCHEME}\x00{p.embedded_text()}") for p in papers}
            # What the index holds: from the snapshot when it is current (no need to open Chroma), else
            # from every vector's metadata.
            previous = self.vectors.current_snapshot()
            have = previous.hash_map() if previous is not None else self.vectors.stored_hashes()
            todo = [p for p in papers if have.get(p.id) != want[p.id]]
            # A record that is there but unreadable keeps its vectors until it is fixed or removed.
            gone = [pid for pid in have if pid not in want and not self.store.exists(pid)]
            if gone and self.chroma_url is not None and not prune:
                report.warnings.append(
                    f"{len(gone)} papers in the server's collection have no record here (another "
                    "member's, or removed here); `litkb index --prune` removes them"
                )
                gone = []
            if todo or gone:
                self.vectors.begin_change()
            self.vectors.delete(gone + [p.id for p in todo if p.id in have])
            report.deleted = len(gone)
            report.unchanged = len(papers) - len(todo)
            self.keywords.sync(papers)
            added = self._embed(todo, want, progress, keep=previous is not None)
            report.passages, dim = len(added.owners), added.dim
            report.embedded = len(todo)
            if dim is None:
                dim = int(manifest["dim"]) if manifest and "dim" in manifest else self.embedder.dim
            changed = bool(todo or gone or report.rebuilt)
            self.vectors.write_manifest(model, dim, len(want), changed=changed)
            if changed or not self.vectors.snapshot_ok():
                hashes = {pid: h for pid, h in have.items() if pid not in gone}
                hashes.update((p.id, want[p.id]) for p in todo)
                if previous is not None and not report.rebuilt:  # patch it: no need to read Chroma again
                    replaced = set(gone) | {p.id for p in todo}
                    self.vectors.write_snapshot(hashes, previous.patched(replaced, added))
                else:
                    self.vectors.write_snapshot(hashes)
            self._export_query_encoder(report)
            saved = ThemeSet.load(self.root)
            if saved is not None and saved.model == model and (todo or gone):
                self._assign_new_papers(saved, papers)
        return report

    def _embed(
        self, papers: Sequence[Paper], hashes: dict[str, str], progress: Progress | None, keep: bool = False
    ) -> PassageRows:
        """Embed every passage of `papers` and store the vectors; the rows embedded (with their vectors
        when `keep`)."""
        import numpy as np

        # Shortest first: a batch of like lengths pads least.
        items = sorted(
            (
                (p.id, n, text, len(texts))
                for p in papers
                for texts in [passages(p)]
                for n, text in enumerate(texts)
            ),
            key=lambda item: len(item[2]),
        )
        encoder = self._encoder_for(len(items))
        done = PassageRows([pid for pid, _, _, _ in items], [n for _, n, _, _ in items])
        kept = []
        if progress and items:
            progress(0, len(items))
        # Chunks of several model batches: fewer, larger writes to Chroma.
        step = max(WRITE_CHUNK, encoder.batch_size) if items else 1
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            vectors = encoder.encode([text for _, _, text, _ in chunk], batch_size=encoder.batch_size)
            done.dim = int(vectors.shape[1])
            self.vectors.add(
                [pid for pid, _, _, _ in chunk],
                [n for _, n, _, _ in chunk],
                [count for _, _, _, count in chunk],
                vectors,
                [hashes[pid] for pid, _, _, _ in chunk],
            )
            if keep:
                kept.append(vectors)
            if progress:
                progress(start + len(chunk), len(items))
        if keep and kept:
            done.matrix = np.concatenate(kept)
        return done

    def _encoder_for(self, passage_count: int) -> Embedder:
        """The model, or for a few passages on the CPU its ONNX export (the same vectors, checked when
        it was made) so that editing one record does not cost loading torch."""
        if passage_count <= SMALL_JOB and self.config.device == "cpu":
            from .query_encoder import OnnxQueryEncoder

            exported = OnnxQueryEncoder.load(self.encoder_dir, self.config.model)
            if exported is not None:
                return exported
        return self.embedder

    def _export_query_encoder(self, report: IndexReport) -> None:
        """Export the model for fast queries, once (see `litkb.query_encoder`); a model that cannot be
        exported is a warning, and searches then load the model itself."""
        from .query_encoder import OnnxQueryEncoder

        export = getattr(self.embedder, "export_query_encoder", None)
        if export is None or OnnxQueryEncoder.load(self.encoder_dir, self.config.model) is not None:
            return
        try:
            export(self.encoder_dir)
        except LitkbError as exc:
            report.warnings.append(f"searches will load the model itself (slower to start): {exc}")
        self._query_encoder = None

    # -- reading ---------------------------------------------------------------------------------

    def papers(self, require: bool = False) -> list[Paper]:
        """Every record. Records that cannot be read are left out and named in `warnings`."""
        if not self.root.is_dir():
            if require:
                raise NotFoundError(
                    f"no knowledge base at {self.root}; create one with `litkb ingest FILE` "
                    "(or choose one with --kb or LITKB_HOME)"
                )
            return []
        papers, problems = self.store.load_all()
        for problem in problems:
            self.warn(problem)
        if require and not papers:
            raise NotFoundError(
                f"the knowledge base at {self.root} is empty; add papers with `litkb ingest FILE`"
            )
        return papers

    def get(self, ref: str) -> Paper:
        """A paper by id, DOI, arXiv id, external id, or forgiving title (case, punctuation, prefix)."""
        ref = ref.strip()
        if not ref:
            raise NotFoundError("no paper named: give an id or a title")
        if is_valid_id(ref) and self.store.exists(ref):
            return self.store.load(ref)
        papers = self.papers(require=True)
        wanted = normalize_title(ref)
        by_key = [p for p in papers if ref in (p.doi, p.arxiv_id, p.external_id, p.id)]
        exact = [p for p in papers if normalize_title(p.title) == wanted]
        prefix = [p for p in papers if wanted and normalize_title(p.title).startswith(wanted)]
        for found in (by_key, exact, prefix):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousError(
                    f"'{ref}' matches {len(found)} papers; give one of these ids:",
                    candidates=[(p.id, p.year, p.title) for p in sorted(found, key=lambda p: p.id)],
                )
        raise NotFoundError(f"no paper matches '{ref}'; see `litkb list` for ids and titles")

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        theme: str | None = None,
        where: PaperFilter | None = None,
    ) -> list[SearchResult]:
        """The `k` papers that best answer `query`, best first. `mode`: hybrid (default: keyword and
        meaning fused), semantic or keyword. `theme` and `where` keep only the papers they allow."""
        return self.search_many([query], k, mode=mode, theme=theme, where=where)[0]

    def search_many(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: str = "hybrid",
        theme: str | None = None,
        where: PaperFilter | None = None,
    ) -> list[list[SearchResult]]:
        """Answer many queries with one model load and one encoding pass."""
        if mode not in SEARCH_MODES:
            raise UsageError(f"unknown search mode '{mode}'; known modes: {', '.join(SEARCH_MODES)}")
        self._require_index()
        if any(not q.strip() for q in queries):
            raise InputError("empty query: say what to search for")
        allowed = self._allowed(theme, where)
        missing = self.unindexed()
        if missing:
            self.warn(
                f"{count_is(missing, 'paper')} not indexed yet, so no search finds them; run `litkb index`"
            )
        vectors = self.query_encoder.encode(list(queries)) if mode != "keyword" else None
        answers = []
        for i, query in enumerate(queries):
            dense: dict[str, float] = {}
            if vectors is None:
                ranked = self._keyword(query, k, allowed)
            elif mode == "semantic":
                ranked = self._dense(vectors[i], k, allowed)
                dense = dict(ranked)
            else:
                ranked, dense = self._hybrid(query, vectors[i], k, allowed)
            vector = vectors[i] if vectors is not None else None
            results = self._results(ranked[:k], query, vector, by_words=mode != "semantic", similarity=dense)
            best = max((r["similarity"] for r in results if r["similarity"] is not None), default=None)
            if best is not None and match_label(best, self.config.model) == "weak":
                self.warn(
                    f"nothing here matches '{query[:60]}' well: the closest paper's similarity is {best:.3f} "
                    f"(weak: below {FAIR})"
                )
            answers.append(results)
        return answers

    def _hybrid(
        self, query: str, vector: np.ndarray, k: int, allowed: set[str] | None
    ) -> tuple[list[tuple[str, float]], dict[str, float]]:
        """The fused ranking, and every candidate's dense score."""
        dense = dict(self._dense(vector, max(k, DENSE_POOL), allowed))
        keyword = self.keywords.scores(query)
        candidates = set(dense) | {pid for pid, _ in keyword.top(max(k, POOL), allowed)}
        # Exact dense scores for the keyword candidates that the dense ranking did not reach.
        dense.update(self.vectors.best_scores(vector, sorted(candidates - dense.keys())))
        return fuse(candidates, dense, {pid: keyword.of(pid) for pid in candidates}), dense

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
        import numpy as np

        seeds = [self.get(ref) for ref in ([refs] if isinstance(refs, str) else refs)]
        self._require_index()
        found, vectors = self.vectors.own_vectors([p.id for p in seeds])
        for paper in seeds:
            if paper.id not in found:
                raise IndexMissingError(f"'{paper.title[:60]}' is not in the index yet; run `litkb index`")
        query = np.mean(vectors, axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        exclude = {p.id for p in seeds}
        allowed = self._allowed(theme, where)
        if allowed is not None:
            allowed = allowed - exclude
        hits = self._dense(query, k + len(exclude), allowed, whole=True)
        chosen = [hit for hit in hits if hit[0] not in exclude][:k]
        return self._results(chosen, None, similarity=dict(chosen))

    def _allowed(self, theme: str | None, where: PaperFilter | None) -> set[str] | None:
        """The ids a filtered search may return, or None when nothing is filtered."""
        if theme is None and (where is None or not where.active()):
            return None
        ids: set[str] | None = set(self.theme_members(theme)[1]) if theme is not None else None
        if where is not None and where.active():
            papers = self.papers()
            where.check_values(papers)
            passing = {p.id for p in papers if where(p)}
            ids = passing if ids is None else ids & passing
        return ids or set()

    def _dense(
        self, vector: np.ndarray, n: int, allowed: set[str] | None, whole: bool = False
    ) -> list[tuple[str, float]]:
        """The `n` papers nearest `vector` (of the `allowed` ones): by their score from all passages, or
        by passage 0 alone (`whole`)."""
        nearest = self.vectors.nearest_whole if whole else self.vectors.query
        if allowed is None:
            hits = nearest(vector, n)
            if not hits and n > 0:
                self._answered_nothing()
            return hits
        if not allowed:
            return []
        if len(allowed) <= EXACT_FILTER_LIMIT:
            within = self.vectors.whole_within if whole else self.vectors.query_within
            return within(vector, sorted(allowed), n)
        wanted = n * 4
        while True:  # a filter that lets most papers through: over-fetch, then keep the allowed ones
            hits = nearest(vector, wanted)
            kept = [hit for hit in hits if hit[0] in allowed]
            if len(kept) >= n or len(hits) < wanted:
                return kept[:n]
            wanted *= 2

    def _answered_nothing(self) -> None:
        """A vector index that holds papers must find some: empty means it is damaged, not that nothing
        matched (dense search always returns the nearest papers)."""
        manifest = self.vectors.read_manifest() or {}
        if int(manifest.get("count") or 0) > 0:
            raise IndexDamagedError(
                f"the vector index holds {manifest['count']} papers but found none; run `litkb doctor` "
                "(`litkb doctor --repair` rebuilds it from the records)",
                reason=f"the vector index holds {manifest['count']} papers but found none",
            )

    def unindexed(self) -> int:
        """How many records the index does not hold yet (new since the last `litkb index`). Counted
        again only when the records folder or the index changed (a warm search pays one `stat`)."""
        manifest = self.vectors.read_manifest() or {}
        try:
            key = (os.stat(self.store.root).st_mtime_ns, manifest.get("generation"))
        except OSError:
            return 0
        if self._unindexed is not None and self._unindexed[0] == key:
            return self._unindexed[1]
        snapshot = self.vectors.current_snapshot()
        if snapshot is not None:
            count = len(self.store.ids() - set(snapshot.papers))
        else:
            count = max(0, len(self.store.ids()) - int(manifest.get("count") or 0))
        self._unindexed = (key, count)
        return count

    def _keyword(self, query: str, n: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        return self.keywords.scores(query).top(n, allowed)

    # -- themes ----------------------------------------------------------------------------------

    def themes(self, k: int | None = None, rebuild: bool = False) -> ThemeSet:
        """The knowledge base's themes: the saved ones (with papers indexed since then assigned to the
        nearest theme), or a new clustering when none is saved, `rebuild` is set or `k` differs."""
        papers = self.papers(require=True)
        self._require_index()
        saved = ThemeSet.load(self.root)
        if saved is not None and not rebuild and k in (None, saved.k) and saved.model == self.config.model:
            with self.writing():
                self._assign_new_papers(saved, papers)
                if not saved.areas:  # saved by an older litkb: group its themes, keep the themes as they are
                    self._add_areas(saved, papers)
            return saved
        ids, matrix = self.vectors.own_vectors([p.id for p in papers])
        if len(ids) < 2:
            raise IndexMissingError(
                "themes need at least 2 indexed papers; add papers with `litkb ingest` and run `litkb index`"
            )
        if k is not None and k > len(ids):
            raise UsageError(f"asked for {k} themes but the knowledge base has {len(ids)} indexed papers")
        if len(ids) < len(papers):
            self.warn(f"{count_is(len(papers) - len(ids), 'paper')} not indexed yet; run `litkb index`")
        by_id = {p.id: p for p in papers}
        texts = [by_id[i].embedded_text() for i in ids]
        theme_set = build_theme_set(ids, matrix, texts, k, self.config.model)
        with self.writing():
            theme_set.save(self.root)
        return theme_set

    def _add_areas(self, saved: ThemeSet, papers: Sequence[Paper]) -> None:
        """Group saved themes (of a themes.yaml without areas) into areas, and save."""
        ids, matrix = self.vectors.own_vectors(sorted(saved.assignments))
        if not ids:
            return
        by_id = {p.id: p for p in papers}
        add_areas(saved, ids, matrix, [by_id[i].embedded_text() for i in ids])
        saved.save(self.root)

    def area_members(self, ref: str) -> tuple[Area, list[str]]:
        """A saved area (by id or label) and its papers' ids."""
        saved = self._saved_themes()
        area = saved.find_area(ref)
        return area, saved.area_members(area.id)

    def _saved_themes(self) -> ThemeSet:
        saved = ThemeSet.load(self.root)
        if saved is None:
            raise NotFoundError("the knowledge base has no themes yet; run `litkb themes`")
        return saved

    def theme_trends(
        self, theme_set: ThemeSet, since: str | None = None, papers: Sequence[Paper] | None = None
    ) -> dict[str, dict[int, Trend]]:
        """Papers per month of every theme and area (by the record's date; undated ones counted apart),
        and with `since` how many are dated on or after it and how that share compares with the whole
        knowledge base's (`growth`: 2.0 = twice as many new papers, for its size, as the average).
        `papers`: the records, when the caller has them already."""
        dates = {p.id: p.date for p in (papers if papers is not None else self.papers())}
        return trends(theme_set, dates, since)

    def theme_members(self, ref: str) -> tuple[Theme, list[str]]:
        """A saved theme (by id or label) and its papers' ids."""
        saved = self._saved_themes()
        theme = saved.find(ref)
        return theme, saved.members(theme.id)

    def _assign_new_papers(self, saved: ThemeSet, papers: Sequence[Paper]) -> None:
        """Put papers indexed since the clustering into the nearest theme; forget removed papers."""
        current = {p.id for p in papers}
        changed = False
        for gone in [pid for pid in saved.assignments if pid not in current]:
            del saved.assignments[gone]
            changed = True
        new = sorted(current - set(saved.assignments))
        if new:
            new_ids, new_vectors = self.vectors.own_vectors(new)
            old_ids, old_vectors = self.vectors.own_vectors(sorted(saved.assignments))
            if new_ids and old_ids:
                labels = [saved.assignments[pid] - 1 for pid in old_ids]
                present = sorted(set(labels))
                cents = centroids(old_vectors, [present.index(x) for x in labels], len(present))
                nearest = (new_vectors @ cents.T).argmax(axis=1)
                for pid, index in zip(new_ids, nearest.tolist(), strict=True):
                    saved.assignments[pid] = present[index] + 1
                changed = True
        if changed:
            saved.save(self.root)

    def theme_map(self, path: Path, theme_set: ThemeSet) -> int:
        """Write the themes' map (self-contained HTML) to `path`; returns the number of papers drawn."""
        ids, matrix = self.vectors.own_vectors(sorted(theme_set.assignments))
        by_id = {p.id: p for p in self.papers()}
        points = [
            MapPoint(
                title=by_id[pid].title,
                year=by_id[pid].year,
                theme=theme_set.assignments[pid],
                id=pid,
                url=paper_url(by_id[pid]),
                area=area.id if (area := theme_set.area_of(theme_set.assignments[pid])) else 1,
            )
            for pid in ids
        ]
        html = render_map(points, layout_2d(matrix).tolist(), theme_set.themes, theme_set.areas)
        atomic_write_text(path, html)
        return len(points)

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
        wanted = list(dict.fromkeys(tags))
        with self.writing():
            paper = self.get(ref)
            absent = [t for t in wanted if t not in paper.tags]
            if len(absent) == len(wanted):
                has = ", ".join(paper.tags) or "none"
                raise NotFoundError(f"'{paper.title[:60]}' has no tag {', '.join(absent)} (its tags: {has})")
            paper.tags = [t for t in paper.tags if t not in wanted]
            self.store.save_many([paper])
        return paper, absent

    def remove(self, refs: Sequence[str]) -> list[Paper]:
        """Remove papers' records (every reference is resolved before anything is removed); their
        vectors and keyword entries go at the next `litkb index`, their theme assignment now."""
        with self.writing():
            papers = list({p.id: p for p in (self.get(ref) for ref in refs)}.values())
            for paper in papers:
                self.store.path_for(paper.id).unlink()
            saved = ThemeSet.load(self.root)
            if saved is not None and any(p.id in saved.assignments for p in papers):
                for paper in papers:
                    saved.assignments.pop(paper.id, None)
                saved.save(self.root)
        return papers

    def record_text(self, paper_id: str) -> str:
        """A record's YAML as it is on disk."""
        try:
            return self.store.path_for(paper_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None

    def replace_record_text(self, paper_id: str, text: str) -> bool:
        """Write a record edited by hand, if it is a valid record with the same id (else an error naming
        the line, and the file as it was). Returns whether anything changed."""
        from .store import parse_record

        path = self.store.path_for(paper_id)
        edited = parse_record(text, f"{path} (as edited; nothing was changed)")
        if edited.id != paper_id:
            raise RecordError(
                f"{path}: the id was changed to '{edited.id}'; ids are fixed (nothing was changed)"
            )
        with self.writing():
            if self.record_text(paper_id) == text:
                return False
            atomic_write_text(path, text)
        return True

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        """The title of each paper id (ids without a record are left out)."""
        out = {}
        for paper_id in dict.fromkeys(ids):
            try:
                out[paper_id] = self.store.load(paper_id).title
            except LitkbError:
                continue
        return out

    def next_papers(self, k: int = 10) -> list[tuple[Paper, Suggestion]]:
        """Unread papers ranked by fit to the liked and read ones (see `litkb.personal`)."""
        papers = self.papers(require=True)
        self._require_index()
        positives = {
            p.id for p in papers if p.rating == "like" or (p.status == "read" and p.rating != "dislike")
        }
        if not positives:
            raise NotFoundError(
                "nothing liked or read yet; mark papers with `litkb like` or `litkb mark PAPER read`"
            )
        negatives = {p.id for p in papers if p.rating == "dislike"}
        candidates = {p.id for p in papers if p.status != "read" and p.rating is None}
        ids, matrix = self.vectors.own_vectors([p.id for p in papers])
        by_id = {p.id: p for p in papers}
        return [(by_id[s.id], s) for s in rank_next(ids, matrix, positives, negatives, candidates, k)]

    # -- saved searches --------------------------------------------------------------------------

    def saved_searches(self) -> dict[str, dict[str, Any]]:
        """Every saved search by name (`saved-searches.yaml`)."""
        return SavedSearches(self.root).load()

    def saved_search(self, name: str) -> dict[str, Any]:
        return SavedSearches(self.root).get(name)

    def save_search(self, name: str, search: dict[str, Any], force: bool = False) -> bool:
        """Save a search; an existing one of that name is replaced only with `force` (returns True)."""
        with self.writing():
            return SavedSearches(self.root).save(name, search, force=force)

    def remove_saved_search(self, name: str) -> None:
        with self.writing():
            SavedSearches(self.root).remove(name)

    # -- duplicates ------------------------------------------------------------------------------

    def duplicates(self) -> list[Duplicate]:
        """Records that look like the same paper, with the reason (nothing is changed)."""
        papers = self.papers(require=True)
        manifest = self.vectors.read_manifest() or {}
        vectors = None
        if manifest.get("model") == self.config.model:  # compare vectors too when the index can
            vectors = self.vectors.own_vectors([p.id for p in papers])
        return find_duplicates(papers, vectors)

    def merge_duplicates(self, found: Sequence[Duplicate]) -> int:
        """Merge what `duplicates()` listed, exactly: each `drop` record into its `keep` record (the kept
        record's values stay shown, the others are kept under `conflicts`; tags, notes and the owner's
        marks joined), then remove the dropped record. Returns how many records were merged away."""
        groups: dict[str, list[str]] = {}
        for dup in found:
            groups.setdefault(dup.keep, []).append(dup.drop)
        dropped_ids = {d for drops in groups.values() for d in drops}
        if dropped_ids & set(groups):
            raise UsageError("a record is both kept and merged away in this plan; list it with `litkb dedup`")
        with self.writing():
            count = 0
            removed: list[str] = []
            for keep, drops in groups.items():
                if not self.store.exists(keep):
                    continue
                result = self.store.load(keep)
                for drop in drops:
                    if not self.store.exists(drop):
                        continue
                    result = _merge_records(result, self.store.load(drop))
                    removed.append(drop)
                    count += 1
                self.store.save_many([result])
            for drop in removed:
                self.store.path_for(drop).unlink()
            saved = ThemeSet.load(self.root)
            if saved is not None and any(pid in saved.assignments for pid in removed):
                for pid in removed:
                    saved.assignments.pop(pid, None)
                saved.save(self.root)
        return count

    # -- selection and export --------------------------------------------------------------------

    def select(
        self,
        ids: Sequence[str] | None = None,
        query: str | None = None,
        k: int = 20,
        theme: str | None = None,
        tags: Sequence[str] = (),
        years: str | None = None,
        area: str | None = None,
    ) -> list[Paper]:
        """Papers meeting every condition given: ids (or titles), the top `k` of a search, a theme, an
        area, tags (all of them), a year or range (`2023`, `2022..2024`). In search rank order for a
        query, else newest first."""
        papers = self.papers(require=True)
        keep = PaperFilter(
            years=parse_years(years) if years else None,
            tags=tuple(tags),
            ids=frozenset(self.get(ref).id for ref in ids) if ids else None,
        )
        for members in (
            set(self.theme_members(theme)[1]) if theme is not None else None,
            set(self.area_members(area)[1]) if area is not None else None,
        ):
            if members is not None:
                keep.ids = frozenset(members if keep.ids is None else keep.ids & members)
        keep.check_values(papers)
        by_id = {p.id: p for p in papers}
        if query is not None:
            ranked = [by_id[hit["id"]] for hit in self.search(query, k=k, theme=theme) if hit["id"] in by_id]
            return [p for p in ranked if keep(p)]
        chosen = [p for p in papers if keep(p)]
        return sorted(chosen, key=lambda p: (p.date or f"{p.year or 0:04d}", p.id), reverse=True)

    def export_context(self, ascii: bool = False) -> ExportContext:
        """Citation keys over the whole knowledge base (so a paper's key never depends on the selection)."""
        return ExportContext(
            citekeys=citation_keys(self.papers()), themes=ThemeSet.load(self.root), ascii=ascii
        )

    def export(self, format: str, papers: Sequence[Paper], ascii: bool = False) -> str:
        """The papers in an export format (`bibtex`, `markdown`, `csl-json`); `ascii`: BibTeX in plain
        ASCII rather than UTF-8."""
        return get_exporter(format)(papers, self.export_context(ascii))

    def export_notes(self, papers: Sequence[Paper], directory: Path, force: bool = False) -> int:
        """One Markdown note per paper (`<id>.md`, YAML front matter) in `directory`."""
        context = self.export_context()
        targets = [(directory / f"{p.id}.md", paper_note(p, context)) for p in papers]
        existing = [str(path) for path, _ in targets if path.exists()]
        if existing and not force:
            raise UsageError(f"{existing[0]} exists ({len(existing)} notes would be replaced); use --force")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LitkbError(f"cannot create {directory}: {exc.strerror or exc}") from exc
        return atomic_write_many(targets)

    def _require_index(self) -> None:
        if not self.store.any_record():
            self.papers(require=True)  # says whether the knowledge base is missing or empty
        self.vectors.check_usable(self.config.model)

    def _results(
        self,
        hits: Sequence[tuple[str, float]],
        query: str | None,
        vector: np.ndarray | None = None,
        by_words: bool = True,
        similarity: dict[str, float] | None = None,
    ) -> list[SearchResult]:
        """The hits as results, each with the snippet that shows why it matched: the sentences with the
        most query words (`by_words`), else the one nearest the query's `vector` by meaning."""
        ids = [pid for pid, _ in hits]
        closest = self.vectors.closest_passages(vector, ids) if vector is not None and ids else {}
        results: list[SearchResult] = []
        for paper_id, score in hits:
            try:
                paper = self.store.load(paper_id)
            except NotFoundError:
                continue  # removed since the last `litkb index`
            close = similarity.get(paper_id) if similarity else None
            results.append(
                SearchResult(
                    rank=len(results) + 1,
                    id=paper.id,
                    external_id=paper.external_id,
                    doi=paper.doi,
                    arxiv_id=paper.arxiv_id,
                    title=paper.title,
                    year=paper.year,
                    score=round(score, 4),
                    similarity=round(close, 4) if close is not None else None,
                    match=match_label(close, self.config.model) if query and close is not None else None,
                    snippet=best_snippet(
                        (query or "") if by_words else "",
                        paper.abstract,
                        closest=_passage_text(paper, closest.get(paper.id)),
                    ),
                )
            )
        return results


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields an update changed, a source's listing date or position named as such."""
    names = [name for name in after if after[name] != before[name] and name != "sources"]
    old = {(s["file"], s["format"]): s for s in before["sources"]}
    for source in after["sources"]:
        previous = old.get((source["file"], source["format"]))
        if previous is None:
            names.append("sources")
            continue
        names += [
            f"{key} of {source['file']}"
            for key in ("listing_date", "position")
            if source[key] != previous[key]
        ]
    return list(dict.fromkeys(names))


def _merge_records(kept: Paper, dropped: Paper) -> Paper:
    """One record from two that are the same paper: the kept one's values shown, the other's in
    `conflicts` where they differ; tags, notes, reading status and rating joined."""
    result = merge(kept, dropped, keep_shown=True)
    result.tags = list(dict.fromkeys(kept.tags + dropped.tags))
    for mine in ("status", "status_date", "rating"):  # the owner's marks survive the merge
        if getattr(result, mine) is None:
            setattr(result, mine, getattr(dropped, mine))
    if kept.notes and dropped.notes and dropped.notes not in kept.notes:
        result.notes = f"{kept.notes}\n\n{dropped.notes}"
    return result


def _passage_text(paper: Paper, number: int | None) -> str | None:
    """The text of one of the paper's passages (None when there is no such passage)."""
    texts = passages(paper) if number else []
    return texts[number] if number and number < len(texts) else None
