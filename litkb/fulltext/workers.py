"""Extraction in worker processes, so that no file can take litkb down.

Each worker is a process of its own (started with `spawn`: no state of the parent is shared) that reads
one file at a time, with an address-space limit (RLIMIT_AS, where the platform has it) so a
decompression bomb fails in the worker rather than exhausting the machine's memory. The parent gives each
file a time limit; a worker past it is killed and replaced, as is one that crashed (a PDF library can
segfault on a hostile file). Every file ends in its text or in one line saying what happened.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import first_line
from .extract import MAX_PAGES, PdfProblem, RawPdf, read_pdf

SECONDS = 120.0  # a file's time limit: at about 100 pages a second, a 1,000-page book takes 10 s
MEMORY = 2**30  # a worker's address space (bytes)
STARTUP = 60.0  # seconds a new worker may take to start


@dataclass(frozen=True)
class Limits:
    """What one file may cost: seconds, bytes of address space, pages read."""

    seconds: float = SECONDS
    memory: int = MEMORY
    max_pages: int = MAX_PAGES


def _limit_memory(memory: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS; the time limit still holds
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def serve(conn: Any, memory: int) -> None:
    """A worker's loop: read the file named by each message and send back what came of it."""
    _limit_memory(memory)
    import pypdfium2  # noqa: F401  (loaded before the first file's clock starts)

    conn.send("ready")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        path, max_pages = message
        try:
            answer: tuple[str, Any] = ("ok", read_pdf(Path(path), max_pages))
        except PdfProblem as exc:
            answer = ("problem", str(exc))
        except MemoryError:
            answer = ("problem", "too large to read within the memory limit (a decompression bomb?)")
        except OSError as exc:
            answer = ("problem", f"cannot be read ({exc.strerror or first_line(exc)})")
        except Exception as exc:  # a library's error on a malformed file: one line, the worker lives on
            answer = ("problem", f"damaged: {type(exc).__name__}: {first_line(exc)}")
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("problem", "too large to read within the memory limit"))


class _Worker:
    def __init__(self, context: Any, memory: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, memory), daemon=True)
        self.process.start()
        child.close()
        self.path: Path | None = None
        self.deadline = 0.0
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker to have started (a process takes a moment; that is not the file's time)."""
        if not self.ready and self.conn.poll(STARTUP):
            with contextlib.suppress(EOFError, OSError):
                self.conn.recv()
        self.ready = True  # if it never said so, the file's own limit will tell

    def give(self, path: Path, limits: Limits) -> None:
        self.wait_ready()
        self.path = path
        self.deadline = time.monotonic() + limits.seconds
        with contextlib.suppress(OSError):  # it died: the wait sees that and says so
            self.conn.send((str(path), limits.max_pages))

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except OSError:
                kill = True
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


def _crash(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"the PDF library crashed on it (signal {-code}: a damaged file, or over the memory limit)"
    return "the PDF library stopped on it (a damaged file, or over the memory limit)"


def extract_files(
    paths: Sequence[Path],
    limits: Limits | None = None,
    workers: int | None = None,
    done: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[Path, RawPdf | str]]:
    """Read the files in worker processes (default: one per CPU, at most one per file); yield each file
    with what was read, or the line saying what happened, as each is done (not in order). `done` hears
    (files done, files in all)."""
    import multiprocessing
    from multiprocessing.connection import wait

    limits = limits or Limits()
    queue = deque(paths)
    total = len(queue)
    if not total:
        return
    count = max(1, min(workers or os.cpu_count() or 1, total))
    context = multiprocessing.get_context("spawn")
    pool = [_Worker(context, limits.memory) for _ in range(count)]
    finished = 0
    try:
        while queue or any(w.path is not None for w in pool):
            for worker in pool:
                if worker.path is None and queue:
                    worker.give(queue.popleft(), limits)
            busy = [w for w in pool if w.path is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy], timeout=timeout)
            for index, worker in enumerate(pool):
                path = worker.path
                if path is None:
                    continue
                outcome: RawPdf | str | None = None
                if worker.conn in ready:
                    try:
                        kind, value = worker.conn.recv()
                        outcome = value if kind == "ok" else str(value)
                    except (EOFError, OSError):
                        worker.process.join(timeout=5)
                        outcome = _crash(worker.process)
                        worker.stop(kill=True)
                        pool[index] = _Worker(context, limits.memory)
                elif time.monotonic() >= worker.deadline:
                    outcome = f"took longer than {limits.seconds:g} s to read; stopped"
                    worker.stop(kill=True)
                    pool[index] = _Worker(context, limits.memory)
                if outcome is not None:
                    pool[index].path = None
                    finished += 1
                    if done is not None:
                        done(finished, total)
                    yield path, outcome
    finally:
        for worker in pool:
            worker.stop()
