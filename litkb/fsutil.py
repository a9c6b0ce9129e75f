"""Atomic file writes: a temporary file beside the target, flushed, then renamed over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import LitkbError, UsageError
from .wording import plural

TEMP_SUFFIX = ".tmp"


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader or a crash sees the old file or the new one, never half."""
    atomic_write_many([(path, text)])


def atomic_write_many(items: Iterable[tuple[Path, str]]) -> int:
    """Write several files atomically, flushing to disk once for the whole batch. Returns how many.

    Every temporary file is written first; only when all are on disk are they renamed into place.
    A failure (disk full, I/O error) removes the temporary files and leaves every target as it was.
    """
    staged: list[tuple[Path, Path]] = []
    umask = _umask()
    try:
        for path, text in items:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
            staged.append((Path(tmp_name), path))
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a record or export is an ordinary file
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        _flush_to_disk([tmp for tmp, _ in staged])
    except OSError as exc:
        _remove([tmp for tmp, _ in staged])
        target = staged[-1][1] if staged else "file"
        raise LitkbError(f"cannot write {target}: {exc.strerror or exc}; nothing was changed") from exc
    for done, (tmp, path) in enumerate(staged):
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _remove([t for t, _ in staged[done:]])
            raise LitkbError(
                f"cannot write {path}: {exc.strerror or exc}; {done} of {plural(len(staged), 'file')} "
                f"{'was' if done == 1 else 'were'} replaced "
                "(each one whole), the others are as they were"
            ) from exc
    for directory in {path.parent for _, path in staged}:
        _fsync_dir(directory)
    return len(staged)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_stale_temp_files(directory: Path) -> int:
    """Remove what an interrupted write left behind (call only while holding the write lock)."""
    removed = 0
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _flush_to_disk(paths: list[Path]) -> None:
    if len(paths) > 8:
        os.sync()  # one flush for a large batch instead of one per file
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_new_files(directory: Path, files: Sequence[tuple[str, str]], force: bool, what: str) -> int:
    """Write (name, text) files into `directory` (made if missing), all at once; files already there are
    replaced only with `force` (else an error naming the first, and nothing is written)."""
    targets = [(directory / name, text) for name, text in files]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing and not force:
        replaced = plural(len(existing), what)
        raise UsageError(f"{existing[0]} exists ({replaced} would be replaced); use --force")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LitkbError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    return atomic_write_many(targets)
