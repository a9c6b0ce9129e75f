"""Where a knowledge base lives and what its `config.yaml` may set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import LitkbError, first_line

ENV_HOME = "LITKB_HOME"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
CONFIG_FILE = "config.yaml"
RECORDS_DIR = "records"
INDEX_DIR = "index"
CACHE_DIR = ".cache"
LOCK_FILE = ".lock"

# What a knowledge base keeps out of git: everything derived from the records.
KB_GITIGNORE = f"/{INDEX_DIR}/\n/{CACHE_DIR}/\n/{LOCK_FILE}\n*.tmp\n"


def default_home() -> Path:
    """The knowledge base used when neither `--kb` nor LITKB_HOME names one."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "litkb"


def resolve_home(explicit: str | Path | None = None) -> Path:
    """`--kb` wins over LITKB_HOME, which wins over the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return default_home()


@dataclass
class KBConfig:
    """Settings kept in the knowledge base's `config.yaml`."""

    model: str = DEFAULT_MODEL
    collection: str = "papers"

    @classmethod
    def load(cls, root: Path) -> KBConfig:
        path = root / CONFIG_FILE
        if not path.exists():
            return cls()
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise LitkbError(f"{path}: cannot read the configuration: {first_line(exc)}") from exc
        if not isinstance(data, dict):
            raise LitkbError(f"{path}: expected a mapping such as 'model: {DEFAULT_MODEL}'")
        known = {"model", "collection"}
        unknown = set(data) - known
        if unknown:
            raise LitkbError(f"{path}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
        config = cls()
        for key in known:
            if key in data:
                if not isinstance(data[key], str) or not data[key].strip():
                    raise LitkbError(f"{path}: '{key}' should be text, found {data[key]!r}")
                setattr(config, key, data[key].strip())
        return config

    def dump(self) -> str:
        return yaml.safe_dump({"model": self.model, "collection": self.collection}, sort_keys=False)
