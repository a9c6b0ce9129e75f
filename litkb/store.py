"""YAML records on disk: one file per paper, written atomically, loaded safely, cached for speed."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import LitkbError, NotFoundError, RecordError
from .fsutil import atomic_write_many, atomic_write_text
from .models import Paper, is_valid_id

RECORD_SUFFIX = ".yaml"
_CACHE_VERSION = 1

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


def dump_record(paper: Paper) -> str:
    """The YAML text of a record."""
    return yaml.dump(paper.to_dict(), Dumper=_RecordDumper, sort_keys=False, allow_unicode=True, width=100)


def parse_record(text: str, where: str) -> Paper:
    """Parse and validate one record's YAML text; `where` names it in errors."""
    try:
        data = yaml.load(text, Loader=RecordLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise RecordError(f"{where}:{line}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise RecordError(f"{where}: invalid YAML: {exc}") from exc
    return Paper.from_dict(data, where)


class RecordStore:
    """The `records/` folder of a knowledge base."""

    def __init__(self, root: Path, cache_file: Path | None = None) -> None:
        self.root = root
        self.cache_file = cache_file
        # Records already parsed in this process, keyed by file size and mtime (a changed file is re-read).
        self._memo: dict[str, tuple[int, int, Paper]] = {}

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

    def exists(self, paper_id: str) -> bool:
        return is_valid_id(paper_id) and self.path_for(paper_id).is_file()

    def load(self, paper_id: str) -> Paper:
        path = self.path_for(paper_id)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None
        memo = self._memo.get(paper_id)
        if memo is not None and memo[:2] == (stat.st_mtime_ns, stat.st_size):
            return copy.deepcopy(memo[2])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no paper with id '{paper_id}'; see `litkb list`") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(f"{path}: cannot read: {exc}") from exc
        paper = self._checked(parse_record(text, str(path)), path)
        self._memo[paper_id] = (stat.st_mtime_ns, stat.st_size, copy.deepcopy(paper))
        return paper

    def load_all(self) -> tuple[list[Paper], list[str]]:
        """Every record, sorted by id, and one message per record that could not be read.

        A cache beside the records keeps parsed records keyed by file name, size and
        modification time, so it never serves a record that changed on disk.
        """
        if not self.root.is_dir():
            return [], []
        cache = self._read_cache()
        fresh: dict[str, list[Any]] = {}
        papers: list[Paper] = []
        problems: list[str] = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not entry.name.endswith(RECORD_SUFFIX) or not entry.is_file():
                continue
            stat = entry.stat()
            key = [stat.st_mtime_ns, stat.st_size]
            cached = cache.get(entry.name)
            path = Path(entry.path)
            try:
                if cached is not None and cached[:2] == key:
                    paper = Paper.from_dict(cached[2], str(path))
                else:
                    text = path.read_text(encoding="utf-8")
                    paper = self._checked(parse_record(text, str(path)), path)
            except (RecordError, OSError, UnicodeDecodeError) as exc:
                problems.append(str(exc) if isinstance(exc, RecordError) else f"{path}: {exc}")
                continue
            fresh[entry.name] = [*key, paper.to_dict()]
            papers.append(paper)
        if fresh != cache:
            self._write_cache(fresh)
        return papers, problems

    def save_many(self, papers: Iterable[Paper]) -> int:
        """Write records atomically, one disk flush for the batch, and remember them in the cache."""
        self.root.mkdir(parents=True, exist_ok=True)
        written = list(papers)
        count = atomic_write_many((self.path_for(p.id), dump_record(p)) for p in written)
        if written and self.cache_file is not None:
            entries = self._read_cache()
            for paper in written:
                stat = self.path_for(paper.id).stat()
                entries[f"{paper.id}{RECORD_SUFFIX}"] = [stat.st_mtime_ns, stat.st_size, paper.to_dict()]
            self._write_cache(entries)
        return count

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
