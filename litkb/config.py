"""Where a knowledge base lives and what its `config.yaml` may set."""

from __future__ import annotations

import os
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import LitkbError, NotFoundError, UsageError, first_line
from .fsutil import atomic_write_text

ENV_HOME = "LITKB_HOME"
ENV_CHROMA_URL = "LITKB_CHROMA_URL"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
CONFIG_FILE = "config.yaml"
RECORDS_DIR = "records"
INDEX_DIR = "index"
CACHE_DIR = ".cache"
LOCK_FILE = ".lock"  # the records' write lock
INDEX_LOCK_FILE = "index.lock"  # the index's, in CACHE_DIR (taken by `litkb index` and repairs)

# config.yaml key -> the environment variable that overrides it.
SERVICE_URLS = {
    "hf_url": "LITKB_HF_URL",
    "arxiv_url": "LITKB_ARXIV_URL",
    "crossref_url": "LITKB_CROSSREF_URL",
}

# What a knowledge base keeps out of git: everything derived from the records.
# files/ holds the attached PDFs: out of git by default (large, often not the owner's to share); the
# README says how to keep them in.
KB_GITIGNORE = f"/{INDEX_DIR}/\n/{CACHE_DIR}/\n/{LOCK_FILE}\n/files/\n*.tmp\n"


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
    device: str = "cpu"  # where `litkb index` runs the model: cpu, cuda (or cuda:N), or auto
    chroma_url: str | None = None  # a Chroma server to keep the vectors on (else: inside the knowledge base)
    # Online sources (only `litkb fetch` and `litkb enrich` use them): each service's base URL (scheme,
    # host and port; litkb appends the service's own path), and a mailto for Crossref's polite pool.
    hf_url: str = "https://huggingface.co"
    arxiv_url: str = "https://export.arxiv.org"
    crossref_url: str = "https://api.crossref.org"
    mailto: str | None = None

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
        known = {"model", "collection", "device", "chroma_url", "mailto", *SERVICE_URLS}
        unknown = set(data) - known
        if unknown:
            noun = "setting" if len(unknown) == 1 else "settings"
            raise LitkbError(f"{path}: unknown {noun} {', '.join(sorted(map(str, unknown)))}")
        config = cls()
        for key in known:
            if key in data:
                if not isinstance(data[key], str) or not data[key].strip():
                    raise LitkbError(f"{path}: '{key}' should be text, found {data[key]!r}")
                setattr(config, key, data[key].strip())
        try:
            check_collection(config.collection)
            check_device(config.device)
            if config.chroma_url is not None:
                check_url(config.chroma_url)
            for key in SERVICE_URLS:
                check_base_url(getattr(config, key), key)
        except LitkbError as exc:
            raise LitkbError(f"{path}: {exc}") from None
        return config

    def vector_server(self, given: str | None) -> str | None:
        """The Chroma server the vectors are on: `given` (--chroma-url), else $LITKB_CHROMA_URL, else
        config.yaml's `chroma_url`; None: embedded in the knowledge base."""
        url = given or os.environ.get(ENV_CHROMA_URL) or self.chroma_url
        return check_url(url) if url else None

    def service_url(self, key: str) -> str:
        """A service's base URL: its environment variable (LITKB_HF_URL, ...), else config.yaml's, else
        the real service."""
        from_env = os.environ.get(SERVICE_URLS[key])
        return check_base_url(from_env, SERVICE_URLS[key]) if from_env else getattr(self, key)

    def dump(self) -> str:
        data = {"model": self.model, "collection": self.collection, "device": self.device}
        if self.chroma_url:
            data["chroma_url"] = self.chroma_url
        return yaml.safe_dump(data, sort_keys=False)


def missing_error(root: Path) -> NotFoundError:
    return NotFoundError(
        f"no knowledge base at {root}; create one with `litkb ingest FILE` (or choose one with --kb or "
        "LITKB_HOME)"
    )


def empty_error(root: Path) -> NotFoundError:
    return NotFoundError(f"the knowledge base at {root} is empty; add papers with `litkb ingest FILE`")


def new_collection_name() -> str:
    """A collection name of its own for a new knowledge base, so one Chroma server can hold several."""
    return f"litkb-{uuid.uuid4().hex[:12]}"


def check_url(url: str) -> str:
    """A Chroma server's address: http(s)://host[:port]."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise LitkbError(f"Chroma URL '{url}': expected http://host:port (e.g. http://127.0.0.1:8000)")
    return f"{parts.scheme}://{parts.hostname}:{port or (443 if parts.scheme == 'https' else 8000)}"


_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")
_DEVICE = re.compile(r"cpu|auto|cuda(:\d+)?|mps")


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """An error, before a server starts, when `port` on `host` cannot be bound (in use, or not allowed)."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind(address)
    except OSError as exc:
        why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror or exc})"
        raise UsageError(f"port {port} on {host} {why}; choose another with --port") from None


def check_base_url(url: str, name: str) -> str:
    """A service's base URL: http(s), a host (and port), nothing after it; without a trailing slash."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LitkbError(f"{name} '{url}': expected an http(s) URL such as https://huggingface.co")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise LitkbError(
            f"{name} '{url}': give the scheme, host and port only; litkb adds the service's own path"
        )
    return f"{parts.scheme}://{parts.netloc}"


def check_collection(name: str) -> str:
    """A Chroma collection name: 3-512 characters of letters, digits, `.`, `_`, `-`, starting and ending
    with a letter or digit."""
    if not _COLLECTION.fullmatch(name) or ".." in name:
        raise LitkbError(
            f"collection '{name}': use 3-512 letters, digits, '.', '_' or '-', starting and ending with a "
            "letter or digit"
        )
    return name


def check_device(name: str) -> str:
    if not _DEVICE.fullmatch(name):
        raise LitkbError(f"device '{name}': expected cpu, cuda, cuda:N, mps or auto")
    return name


def create_folder(root: Path, config: KBConfig, server: str | None) -> bool:
    """Make `root` a knowledge base if it is not one yet (records folder, config.yaml, .gitignore): with
    a collection name of its own (one server can hold several) and `server`, the Chroma server it was
    created on when one was named. True when config.yaml was written. A folder becomes a knowledge base
    only when it is empty (or already holds records): never a project folder or a home directory named
    by mistake."""
    check_can_hold(root)
    created = False
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / RECORDS_DIR).mkdir(exist_ok=True)
        if not (root / CONFIG_FILE).exists():
            config.collection = new_collection_name()
            config.chroma_url = server
            atomic_write_text(root / CONFIG_FILE, config.dump())
            created = True
        if not (root / ".gitignore").exists():
            atomic_write_text(root / ".gitignore", KB_GITIGNORE)
    except PermissionError as exc:
        raise LitkbError(
            f"cannot write to {root}: permission denied; choose another folder with --kb"
        ) from exc
    except OSError as exc:
        raise LitkbError(f"cannot create the knowledge base at {root}: {exc.strerror or exc}") from exc
    return created


def check_can_hold(root: Path) -> None:
    """An error unless `root` is a knowledge base, or may become one: missing, empty, or holding only
    records or litkb's own derived `.cache/` (what reading a PDF leaves before the first record is
    written). Called before anything is written there."""
    if not root.is_dir() or (root / CONFIG_FILE).exists():
        return
    try:
        entries = [e.name for e in os.scandir(root) if e.name != CACHE_DIR]
    except OSError:
        return  # the write that follows says what is wrong
    if entries and RECORDS_DIR not in entries:
        raise UsageError(
            f"{root} is not a knowledge base (no {CONFIG_FILE}) and is not empty; name a new "
            "or empty folder with --kb, or the folder of an existing knowledge base"
        )
