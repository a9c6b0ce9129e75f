"""Errors a user can act on. The CLI prints their message on stderr and exits with their code."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class LitkbError(Exception):
    """Base class: the message says what went wrong and what to do about it."""

    exit_code = 1


class UsageError(LitkbError):
    """The command was asked for something it cannot do (bad option value, missing argument)."""

    exit_code = 2


class InputError(LitkbError):
    """An input file could not be read or holds nothing litkb can use."""


class RecordError(LitkbError):
    """A YAML record on disk is not valid."""


class NotFoundError(LitkbError):
    """A paper, file or knowledge base that was named does not exist."""


class NothingLikedError(NotFoundError):
    """`next` has nothing to rank by: no paper is liked or read yet."""


class AmbiguousError(LitkbError):
    """A reference matched several papers: `candidates` holds (id, year, title) of each, shown one per
    line after the message."""

    def __init__(self, message: str, candidates: list[tuple[str, int | None, str]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class IndexMissingError(LitkbError):
    """The knowledge base has no usable index yet."""


class IndexMismatchError(LitkbError):
    """The index was built with another model or schema."""


class IndexDamagedError(LitkbError):
    """The index cannot be read or is out of step with itself: `litkb doctor` says more. `reason` is what
    is wrong, without the advice."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ServerError(LitkbError):
    """The Chroma server could not be reached or failed."""


class KnowledgeBaseBusy(LitkbError):
    """Another litkb process holds the knowledge base for writing."""

    exit_code = 75  # EX_TEMPFAIL: try again later
