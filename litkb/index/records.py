"""The records as `litkb index` sees them: every paper's id with the two hashes the index compares (of the
text it embeds and of the words it counts), and the papers themselves read only where they are needed.

The hashes are kept in a cache beside the records' own (`.cache/index-digests.json`), each under its record
file's modification time, size and inode, as the records' cache keeps parsed records (an atomic rewrite
always makes a new inode). A run with little to do then reads the few records whose files changed instead
of every record: with one abstract changed among 20,000 papers, 0.15-0.2 s instead of 0.4-0.5 s (most of it
one `stat` a file, then reading the cache). The cache is derived: deleted or damaged, it is made again
from the records.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import LitkbError, NotFoundError
from ..fsutil import atomic_write_text
from ..fulltext.windows import files_hash
from ..models import Paper, is_valid_id
from ..store import RecordStore
from .keyword import keyword_hash
from .passages import SCHEME, vector_hash

DIGESTS_FILE = "index-digests.json"  # in the knowledge base's .cache/
DIGESTS_VERSION = 2  # one more whenever `vector_hash`, `keyword_hash` or `files_hash` hashes anything else
# More records to read than this, and all of them are read at once through the records' cache (a record
# read alone is parsed from its YAML).
READ_ONE_BY_ONE = 256
# The cache is written again once this many of its entries are out of date (new, changed or removed
# records): rewriting it (20,000 records: 2.5 MB) would cost more than reading those few records again.
REWRITE_AFTER = 16


class IndexRecords:
    """Every readable record's id (`ids`), the hash of what the index embeds for it (`vector_hashes`) and
    of what it counts (`keyword_hashes`), the hash of its attached files for the papers that have some
    (`full_hashes`, see `litkb.fulltext.windows.files_hash`); `papers(ids)` the records themselves."""

    def __init__(
        self,
        model: str,
        vector_hashes: dict[str, str],
        keyword_hashes: dict[str, str],
        papers: dict[str, Paper],
        store: RecordStore | None = None,
        warn: Callable[[str], None] | None = None,
        full_hashes: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.ids = list(vector_hashes)  # in the order given: `read` gives them sorted
        self.vector_hashes = vector_hashes
        self.keyword_hashes = keyword_hashes
        self.full_hashes = full_hashes if full_hashes is not None else {}
        self._papers = papers
        self._store = store
        self._warn = warn
        # the record files' keys as `read` listed them (None: the papers were given, not read)
        self.file_keys: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, papers: Sequence[Paper], model: str) -> IndexRecords:
        """The view of papers already read."""
        vector_hashes = {p.id: vector_hash(model, p) for p in papers}
        full = {p.id: h for p in papers if (h := files_hash(model, p)) is not None}
        keyword = {p.id: keyword_hash(p) for p in papers}
        return cls(model, vector_hashes, keyword, {p.id: p for p in papers}, full_hashes=full)

    @classmethod
    def read(cls, store: RecordStore, digests: Path, model: str, warn: Callable[[str], None]) -> IndexRecords:
        """The records of `store`, reading only those whose files are not in the `digests` cache as they
        are now; unreadable records are named to `warn` and left out (their vectors stay until they are
        fixed or removed)."""
        keys = store.file_keys()  # listed before anything is read: a file that changes meanwhile is
        cached = _read_digests(digests, model)  # cached under its older key, so read again next time
        rows: dict[str, list[Any]] = {}  # by id: the file's key, then the two hashes
        stale = []
        for pid in sorted(keys):
            row = cached.get(pid)
            if type(row) is list and len(row) == 6 and row[:3] == keys[pid]:
                rows[pid] = row
            else:
                stale.append(pid)
        papers = {pid: paper for pid, paper in _read(store, stale, warn, True).items() if pid in keys}
        for pid, paper in papers.items():
            digest = files_hash(model, paper) or ""
            rows[pid] = [*keys[pid], vector_hash(model, paper), keyword_hash(paper), digest]
        if len(stale) + len(cached.keys() - keys.keys()) > REWRITE_AFTER:
            _write_digests(digests, model, rows)
        ordered = sorted(rows)
        vector_hashes = {pid: rows[pid][3] for pid in ordered}
        full = {pid: rows[pid][5] for pid in ordered if rows[pid][5]}
        keyword = {pid: rows[pid][4] for pid in ordered}
        found = cls(model, vector_hashes, keyword, papers, store, warn, full_hashes=full)
        found.file_keys = keys
        return found

    def papers(self, ids: Iterable[str]) -> list[Paper]:
        """The records of `ids`, in that order (read now if they were not; one removed or unreadable since
        is left out). A record read now may have changed since its hashes were taken: they are its own."""
        wanted = list(ids)
        missing = [pid for pid in wanted if pid not in self._papers]
        if missing and self._store is not None:
            read = _read(self._store, missing, self._warn or (lambda message: None), False)
            self._papers.update((pid, paper) for pid, paper in read.items() if pid in self.vector_hashes)
            for pid in missing:
                if pid in self._papers:
                    paper = self._papers[pid]
                    self.vector_hashes[pid] = vector_hash(self.model, paper)
                    self.keyword_hashes[pid] = keyword_hash(paper)
                    full = files_hash(self.model, paper)
                    if full is not None:
                        self.full_hashes[pid] = full
                    else:
                        self.full_hashes.pop(pid, None)
        return [self._papers[pid] for pid in wanted if pid in self._papers]


def _read(
    store: RecordStore, ids: Sequence[str], warn: Callable[[str], None], name_all: bool
) -> dict[str, Paper]:
    """The records of `ids` (at least), by id: each read alone, or every record at once through the
    records' cache when there are many (or a file name is no litkb id: `load_all` says why), whose
    problems are named to `warn` when `name_all`. A record removed since the folder was listed is left
    out; one that cannot be read is named and left out."""
    if len(ids) > READ_ONE_BY_ONE or not all(map(is_valid_id, ids)):
        loaded, problems = store.load_all()
        for problem in problems if name_all else []:
            warn(problem)
        return {p.id: p for p in loaded}
    found = {}
    for pid in ids:
        try:
            found[pid] = store.load(pid)
        except NotFoundError:
            continue  # removed since the folder was listed
        except LitkbError as exc:
            warn(str(exc))
    return found


def _read_digests(path: Path, model: str) -> dict[str, list[Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("header") != _header(model):
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}  # each row is checked where it is used


def _write_digests(path: Path, model: str, entries: dict[str, list[Any]]) -> None:
    # Only a speed-up: a read-only knowledge base goes without it.
    with contextlib.suppress(OSError, LitkbError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"header": _header(model), "entries": entries}))


def _header(model: str) -> list[Any]:
    return [DIGESTS_VERSION, model, SCHEME]
