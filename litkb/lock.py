"""The write lock: one litkb process at a time may change a knowledge base."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import KnowledgeBaseBusy, LitkbError

DEFAULT_TIMEOUT = float(os.environ.get("LITKB_LOCK_TIMEOUT", "30"))
_held: set[str] = set()  # locks this process holds: taking one again inside is a no-op


@contextmanager
def write_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` while the block runs; wait up to `timeout` seconds for it.

    The lock is an OS file lock, so a process that dies (even by SIGKILL) releases it.
    """
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
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
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise KnowledgeBaseBusy(
                        f"knowledge base busy: another litkb process is writing to {path.parent} "
                        f"(waited {limit:g} s); try again when it has finished"
                    ) from None
                time.sleep(0.05)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
