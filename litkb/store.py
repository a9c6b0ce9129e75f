"""YAML records on disk: one file per paper, written atomically, loaded safely, cached for speed."""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from stat import S_ISREG
from typing import Any

import yaml

from .errors import LitkbError, NotFoundError, RecordError
from .fsutil import atomic_write_many, atomic_write_text
from .models import RECORD_FIELDS, Paper, is_valid_id

RECORD_SUFFIX = ".yaml"
# The cache holds rows in RECORD_FIELDS order: a change of fields is a new cache version.
_CACHE_VERSION = "2:" + ",".join(RECORD_FIELDS)

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RecordLoader(_BaseLoader):
    """A safe loader that reads `yes`, `no`, `on`, `off` as text (YAML 1.2), so a title `no` stays "no"."""


RecordLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RecordLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


_BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _RecordDumper(_BaseDumper):
    """Writes multi-line text (notes, abstracts with paragraphs) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:  # also the C dumper's API
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_RecordDumper.add_representer(str, _represent_str)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Collect no garbage while loading, and leave what was loaded out of later collections (`gc.freeze`):
    a full collection over 100,000 records costs more than loading them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _file_key(stat: os.stat_result) -> list[int]:
    return [stat.st_mtime_ns, stat.st_size, stat.st_ino]


def dump_record(paper: Paper) -> str:
    """The YAML text of a record."""
    return yaml.dump(paper.to_dict(), Dumper=_RecordDumper, sort_keys=False, allow_unicode=True, width=100)


def parse_record(text: str, where: str) -> Paper:
    """Parse and validate one record's YAML text; `where` names it in errors."""
    try:
        data = yaml.load(text, Loader=RecordLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        start = exc.context_mark.line + 1 if exc.context_mark and exc.context else line
        if start != line:  # a quote or bracket left open: name the line it opens on, where the fix goes
            raise RecordError(
                f"{where}:{start}: invalid YAML: {exc.problem} at line {line}, {exc.context} that starts on "
                f"line {start}"
            ) from exc
        raise RecordError(f"{where}:{line}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise RecordError(f"{where}: invalid YAML: {exc}") from exc
    return Paper.from_dict(data, where)


class RecordStore:
    """The `records/` folder of a knowledge base."""

    def __init__(self, root: Path, cache_file: Path | None = None) -> None:
        self.root = root
        self.cache_file = cache_file
        # Records already parsed in this process, keyed like the cache (a changed file is re-read).
        self._memo: dict[str, tuple[list[int], Paper]] = {}
        # load_all's last answer by file name (key, paper): a long-running process (a server) that asks
        # again pays one stat a record, not a parse.
        self._all: dict[str, tuple[list[int], Paper]] = {}
        self._compared = (0, 0.0)  # the folder's mtime and when every file's key was last compared
        # A long-running server may set this: within `recheck` seconds of comparing every file, an
        # unchanged folder (no file added, removed or replaced: litkb's writes replace) is not compared
        # again, so a record edited in place by hand is seen at the next comparison. 0: always compare.
        self.recheck = 0.0

    def path_for(self, paper_id: str) -> Path:
        if not is_valid_id(paper_id):
            raise NotFoundError(f"'{paper_id}' is not a litkb id")
        return self.root / f"{paper_id}{RECORD_SUFFIX}"

    def any_record(self) -> bool:
        """Whether there is at least one record (without listing them all)."""
        try:
            with os.scandir(self.root) as entries:
                return any(e.name.endswith(RECORD_SUFFIX) for e in entries)
        except FileNotFoundError:
            return False

    def ids(self) -> set[str]:
        """The ids of the record files (without reading them)."""
        try:
            with os.scandir(self.root) as entries:
                return {e.name[: -len(RECORD_SUFFIX)] for e in entries if e.name.endswith(RECORD_SUFFIX)}
        except FileNotFoundError:
            return set()

    def file_keys(self) -> dict[str, list[int]]:
        """Each record file's key (modification time, size, inode) by paper id, without reading them."""
        keys = {}
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if entry.name.endswith(RECORD_SUFFIX):
                        try:
                            stat = entry.stat()
                        except OSError:
                            continue  # removed while we looked
                        if S_ISREG(stat.st_mode):
                            keys[entry.name[: -len(RECORD_SUFFIX)]] = _file_key(stat)
        except FileNotFoundError:
            pass
        return keys

    def exists(self, paper_id: str) -> bool:
        return is_valid_id(paper_id) and self.path_for(paper_id).is_file()

    def load(self, paper_id: str) -> Paper:
        path = self.path_for(paper_id)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None
        memo = self._memo.get(paper_id)
        if memo is not None and memo[0] == _file_key(stat):
            return copy.deepcopy(memo[1])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(f"{path}: cannot read: {exc}") from exc
        paper = self._checked(parse_record(text, str(path)), path)
        self._memo[paper_id] = (_file_key(stat), copy.deepcopy(paper))
        return paper

    def load_all(self) -> tuple[list[Paper], list[str]]:
        """Every record, sorted by id, and one message per record that could not be read.

        A cache beside the records keeps each parsed record under its file name, with the file's
        modification time, size and inode (an atomic rewrite always makes a new inode), so it never
        serves a record that changed on disk; it is rebuilt from the files whenever it is missing. In one
        process, a second call whose files all have the same keys returns the same Paper objects: change
        a record with `save_many` (or `KnowledgeBase.update_record`), never in place.
        """
        if not self.root.is_dir():
            return [], []
        with _no_gc():  # hundreds of thousands of new objects, none of them garbage
            return self._load_all()

    def _load_all(self) -> tuple[list[Paper], list[str]]:
        folder = os.stat(self.root).st_mtime_ns
        if self._all and self._compared[0] == folder and time.monotonic() - self._compared[1] < self.recheck:
            return [paper for _, paper in self._all.values()], []
        with os.scandir(self.root) as scan:
            listed = sorted((e for e in scan if e.name.endswith(RECORD_SUFFIX)), key=lambda e: e.name)
        if self._all and len(listed) == len(self._all):
            same: list[Paper] = []
            for entry in listed:
                seen = self._all.get(entry.name)
                try:
                    if seen is None or seen[0] != _file_key(entry.stat()):
                        break
                except OSError:
                    break
                same.append(seen[1])
            else:
                self._compared = (folder, time.monotonic())
                return same, []
        papers, problems, keys = self._read_all(listed)
        self._all = {} if problems else {f"{p.id}{RECORD_SUFFIX}": (keys[p.id], p) for p in papers}
        self._compared = (folder, time.monotonic())
        return papers, problems

    def _read_all(
        self, entries: list[os.DirEntry[str]]
    ) -> tuple[list[Paper], list[str], dict[str, list[int]]]:
        """The records of the directory `entries` (sorted by name), from the cache where it is current."""
        cache = self._read_cache()
        keys: dict[str, list[int]] = {}
        fresh: dict[str, list[Any]] = {}
        papers: list[Paper] = []
        problems: list[str] = []
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                key = _file_key(entry.stat())
            except OSError:
                continue  # removed while we looked
            cached = cache.get(entry.name)
            keys[entry.name[: -len(RECORD_SUFFIX)]] = key
            if cached is not None and cached[:3] == key:
                papers.append(Paper.from_row(cached[3:]))
                fresh[entry.name] = cached
                continue
            path = Path(entry.path)
            try:
                text = path.read_text(encoding="utf-8")
                paper = self._checked(parse_record(text, str(path)), path)
            except (RecordError, OSError, UnicodeDecodeError) as exc:
                problems.append(str(exc) if isinstance(exc, RecordError) else f"{path}: cannot read: {exc}")
                continue
            fresh[entry.name] = [*key, *paper.to_row()]
            papers.append(paper)
        if fresh.keys() != cache.keys() or any(fresh[name] is not cache[name] for name in fresh):
            self._write_cache(fresh)
        return papers, problems, keys

    def save_many(self, papers: Iterable[Paper]) -> int:
        """Write records atomically, one disk flush for the batch, and remember them in the cache."""
        self.root.mkdir(parents=True, exist_ok=True)
        written = list(papers)
        count = atomic_write_many((self.path_for(p.id), dump_record(p)) for p in written)
        if written and self.cache_file is not None:
            entries = self._read_cache()
            for paper in written:
                key = _file_key(self.path_for(paper.id).stat())
                entries[f"{paper.id}{RECORD_SUFFIX}"] = [*key, *paper.to_row()]
            self._write_cache(entries)
        return count

    def remove(self, paper_ids: Iterable[str]) -> None:
        """Remove records (the caller holds the write lock)."""
        for paper_id in paper_ids:
            self.path_for(paper_id).unlink()

    def _checked(self, paper: Paper, path: Path) -> Paper:
        expected = path.name[: -len(RECORD_SUFFIX)]
        if paper.id != expected:
            raise RecordError(f"{path}: field 'id' is {paper.id!r} but the file name says {expected!r}")
        return paper

    def _read_cache(self) -> dict[str, list[Any]]:
        if self.cache_file is None:
            return {}
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _write_cache(self, entries: dict[str, list[Any]]) -> None:
        if self.cache_file is None:
            return
        payload = json.dumps({"version": _CACHE_VERSION, "entries": entries}, default=str)
        # The cache is only a speed-up: a read-only knowledge base simply goes without it.
        with contextlib.suppress(OSError, LitkbError):
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.cache_file, payload)

    def titles(self, ids: Iterable[str]) -> dict[str, str]:
        """The title of each paper id (ids without a readable record are left out)."""
        out = {}
        for paper_id in dict.fromkeys(ids):
            try:
                out[paper_id] = self.load(paper_id).title
            except LitkbError:
                continue
        return out

    def text(self, paper_id: str) -> str:
        """A record's YAML as it is on disk."""
        try:
            return self.path_for(paper_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None

    def replace_text(self, paper_id: str, text: str) -> bool:
        """Write a record edited by hand, if it is a valid record with the same id (else an error naming
        the line, and the file as it was); the caller holds the write lock. Whether anything changed."""
        path = self.path_for(paper_id)
        edited = parse_record(text, f"{path} (as edited; nothing was changed)")
        if edited.id != paper_id:
            raise RecordError(
                f"{path}: the id was changed to '{edited.id}'; ids are fixed (nothing was changed)"
            )
        if self.text(paper_id) == text:
            return False
        atomic_write_text(path, text)
        return True
