"""Write locks: one litkb process at a time may change a knowledge base's records, and one at a time its
index. The two are apart so that a long `litkb index` does not hold up tagging, notes or an ingest."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import KnowledgeBaseBusy, LitkbError
from .fsutil import remove_stale_temp_files

TIMEOUT_VARIABLE = "LITKB_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
_held: set[str] = set()  # locks this process holds: taking one again inside is a no-op


def default_timeout() -> float:
    """How long a writer waits for a lock: $LITKB_LOCK_TIMEOUT seconds, else 30."""
    value = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise LitkbError(f"{TIMEOUT_VARIABLE}={value!r}: expected a number of seconds") from None
    if not seconds >= 0:
        raise LitkbError(f"{TIMEOUT_VARIABLE}={value!r}: expected a number of seconds, 0 or more")
    return seconds


@contextmanager
def write_lock(
    path: Path,
    timeout: float | None = None,
    what: str = "writing to",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on `path` while the block runs; wait up to `timeout` seconds for it (0: do
    not wait), telling `on_wait` once when it has to wait.

    The lock is an OS file lock, so a process that dies (even by SIGKILL) releases it.
    """
    limit = default_timeout() if timeout is None else timeout
    key = str(path.resolve())
    if key in _held:
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LitkbError(
            f"cannot open {path} for writing: {exc.strerror}; check the folder's permissions"
        ) from exc
    try:
        deadline = time.monotonic() + limit
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" (waited {limit:g} s)" if limit > 0 else ""
                    raise KnowledgeBaseBusy(
                        f"knowledge base busy: another litkb process is {what} {_folder(path)}{waited}; "
                        "try again when it has finished"
                    ) from None
                if on_wait is not None and not told:
                    on_wait(
                        f"another litkb process is {what} {_folder(path)}; waiting up to {limit:g} s "
                        f"(${TIMEOUT_VARIABLE})"
                    )
                    told = True
                time.sleep(0.05)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def holding(
    path: Path,
    cleaned: Sequence[Path],
    timeout: float | None = None,
    what: str = "writing to",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """`write_lock`, and once it is held, what a killed writer left half-written in the `cleaned`
    folders removed."""
    with write_lock(path, timeout, what, on_wait):
        for folder in cleaned:
            remove_stale_temp_files(folder)
        yield


def _folder(path: Path) -> Path:
    """The knowledge-base folder a lock file belongs to."""
    return path.parent.parent if path.parent.name == ".cache" else path.parent
