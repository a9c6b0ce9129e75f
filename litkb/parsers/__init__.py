"""Input formats: one module per format, registered by name, chosen from the content of the input.

A parser is a `Parser`: a name, a `detect(text, filename)` that scores how sure it is that the text is
its format (0 = not mine), and a `parse(text, options)` that returns papers plus warnings for the
blocks it had to skip. Parsers never touch the knowledge base.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..models import Paper


@dataclass
class ParseOptions:
    """What the user told the parser: the source's name (for records and messages) and hints."""

    source_name: str
    year: int | None = None

    @property
    def source_file(self) -> str:
        """The name a record's `sources` keeps: the file's own name, the same from any folder."""
        return Path(self.source_name).name if self.source_name != "<stdin>" else "<stdin>"


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class Parser:
    name: str
    description: str
    detect: Callable[[str, str], float]
    parse: Callable[[str, ParseOptions], ParseResult]


PARSERS: dict[str, Parser] = {}


def register(parser: Parser) -> Parser:
    PARSERS[parser.name] = parser
    return parser


def get_parser(name: str) -> Parser:
    _load_builtin()
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise UsageError(f"unknown input format '{name}'; known formats: {known}") from None


def detect_parser(text: str, filename: str) -> Parser:
    """The parser most sure the text is its format; an error naming the file when none is."""
    _load_builtin()
    scored = sorted(((p.detect(text, filename), p.name) for p in PARSERS.values()), reverse=True)
    if not scored or scored[0][0] <= 0:
        known = ", ".join(sorted(PARSERS))
        raise InputError(f"{filename}: not in a format litkb reads (known: {known}); use --format")
    return PARSERS[scored[0][1]]


def decode_input(data: bytes, filename: str) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8 (BOM or not), UTF-16 with a BOM; else Latin-1, with a warning."""
    if not data.strip():
        raise InputError(f"{filename}: the file is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise InputError(f"{filename}: not valid UTF-16 text ({exc.reason})") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192]:
        raise InputError(f"{filename}: looks like a binary file, not a text listing")
    warning = f"{filename}: not valid UTF-8; read as Latin-1"
    return data.decode("latin-1"), [warning]


def read_input(path: str, stdin_bytes: Callable[[], bytes] | None = None) -> tuple[str, str, list[str]]:
    """Read an input file (or `-` for stdin): its display name, text and decoding warnings."""
    if path == "-":
        if stdin_bytes is None:
            raise UsageError("reading from stdin is not available here")
        name = "<stdin>"
        data = stdin_bytes()
    else:
        file = Path(path)
        name = path
        if not file.exists():
            raise InputError(f"{path}: no such file")
        if file.is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text, warnings = decode_input(data, name)
    return name, text, warnings


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        from . import arxiv, bibtex, csl_json, daily_papers, tabular  # noqa: F401  (registering is the import's effect)

        _loaded = True
