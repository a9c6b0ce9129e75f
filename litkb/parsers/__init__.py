"""Input formats: one module per format, registered by name, chosen from the content of the input.

A parser is a `Parser`: a name, a `detect(text, filename)` that scores how sure it is that the text is
its format (0 = not mine), and a `parse(text, options)` that returns papers plus warnings for the
blocks it had to skip. A format that is not text (a database, a folder) gives `detect_path(path)` and
`read(path, options)` instead, and is asked first. Parsers never touch the knowledge base.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..models import Paper
from ..registry import Registry


@dataclass
class ParseOptions:
    """What the user told the parser: the source's name (for records and messages) and hints."""

    source_name: str
    year: int | None = None
    collection: str | None = None  # a library's collection to read (and its subcollections), not all

    @property
    def source_file(self) -> str:
        """The name a record's `sources` keeps: the file's own name, the same from any folder."""
        return Path(self.source_name).name if self.source_name != "<stdin>" else "<stdin>"


@dataclass
class LibraryState:
    """A library the user keeps in another program (a Zotero database) as it is now, so an import can
    keep records in step with it: whose database (`account`), the libraries read, the (library, key) of
    every item it holds outside the trash, and what the import should say about it."""

    format: str
    account: str
    libraries: set[str]
    live: set[tuple[str, str]]
    lines: list[str] = field(default_factory=list)


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    assumed: list[str] = field(default_factory=list)  # what the parser had to assume (said in the summary)
    problem: str | None = None  # why the input gave no paper, when one reason says it (one line)
    library: LibraryState | None = None  # a library read whole, to keep records in step with


@dataclass(frozen=True)
class Parser:
    name: str
    description: str
    detect: Callable[[str, str], float]
    parse: Callable[[str, ParseOptions], ParseResult]
    detect_path: Callable[[Path], float] | None = None  # formats read from the path, not as text
    read: Callable[[Path, ParseOptions], ParseResult] | None = None


PARSERS: Registry[Parser] = Registry(
    "input format", __name__, ("arxiv", "bibtex", "csl_json", "daily_papers", "tabular", "zotero")
)


def register(parser: Parser) -> Parser:
    return PARSERS.add(parser.name, parser)


def get_parser(name: str) -> Parser:
    return PARSERS.get(name)


def format_names() -> list[str]:
    """Every input format's name."""
    return PARSERS.names()


def detect_parser(text: str, filename: str) -> Parser:
    """The parser most sure the text is its format; an error naming the file when none is."""
    scored = sorted(((p.detect(text, filename), p.name) for p in PARSERS), reverse=True)
    if not scored or scored[0][0] <= 0:
        known = ", ".join(PARSERS.names())
        raise InputError(f"{filename}: not in a format litkb reads (known: {known}); use --format")
    return PARSERS.get(scored[0][1])


def path_parser(path: str, format: str | None) -> Parser | None:
    """The parser that reads `path` itself (a database, a folder) rather than its text: the one `format`
    names, if it is such a parser, else the one most sure it is its format; None when none is."""
    if path == "-":
        return None
    if format is not None:
        parser = get_parser(format)
        return parser if parser.read is not None else None
    scored = [(p.detect_path(Path(path)), p.name) for p in PARSERS if p.detect_path is not None]
    best = max(scored, default=(0.0, ""))
    return PARSERS.get(best[1]) if best[0] > 0 else None


# What a detector calls a Western single-byte text is read as Windows-1252 (what Excel and Windows
# write): it is Latin-1 plus curly quotes and dashes in 0x80-0x9F, where Latin-1 has control characters.
_WESTERN = {
    "cp1252", "windows-1252", "cp1250", "cp1254", "cp1257", "latin_1", "iso8859_1", "iso8859_15",
    "iso8859_2", "iso8859_9", "mac_roman", "mac_latin2", "cp850", "cp437", "ascii",
}  # fmt: skip


def decode_input(data: bytes, filename: str, encoding: str | None = None) -> tuple[str, list[str]]:
    """Bytes to text. `encoding` when given (an error naming the file if the bytes are not in it); else
    UTF-8 (BOM or not), UTF-16 with a BOM or without one (told by its zero bytes), and otherwise the
    encoding a detector (charset-normalizer) finds, Windows-1252 for Western text, with a warning."""
    if not data.strip():
        raise InputError(f"{filename}: the file is empty")
    if encoding is not None:
        try:
            return data.decode(encoding).removeprefix("\ufeff"), []
        except LookupError:
            raise UsageError(
                f"--encoding {encoding}: not an encoding Python knows (e.g. cp1252, shift_jis)"
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{filename}: not valid {encoding} at byte {exc.start} ({exc.reason}); try another --encoding"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise InputError(f"{filename}: not valid UTF-16 text ({exc.reason})") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    utf16 = _utf16_without_bom(data)  # before UTF-8: ASCII in UTF-16 is valid UTF-8 full of NULs
    if utf16 is not None:
        try:
            return data.decode(utf16), [f"{filename}: read as {utf16.upper()} (no byte-order mark)"]
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192]:
        raise InputError(f"{filename}: looks like a binary file, not a text listing")
    found = _detect_encoding(data)
    try:
        return data.decode(found), [
            f"{filename}: not valid UTF-8; read as {found} (use --encoding to choose)"
        ]
    except UnicodeDecodeError:
        return data.decode("latin-1"), [f"{filename}: not valid UTF-8; read as latin-1 (use --encoding)"]


def _utf16_without_bom(data: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` when the zero bytes say so: text of mostly ASCII characters in UTF-16
    has a zero in every other byte, on one side."""
    sample = data[:8192]
    half = len(sample) // 2
    if half < 2:
        return None
    even = sample[0::2].count(0) / half
    odd = sample[1::2].count(0) / half
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _detect_encoding(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    name = best.encoding if best is not None else "cp1252"
    if name.replace("-", "_").lower() in _WESTERN:
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    return name


def read_input(
    path: str, stdin_bytes: Callable[[], bytes] | None = None, encoding: str | None = None
) -> tuple[str, str, list[str]]:
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
    text, warnings = decode_input(data, name, encoding)
    if "\r" in text:  # Windows (CR LF) and old Mac (CR alone) line ends
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return name, text, warnings
