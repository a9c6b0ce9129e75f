"""BibTeX and BibLaTeX (Zotero, Better BibTeX, litkb's own export), read with bibtexparser v2.

`@string` macros and `#` joins are resolved (month macros too), `@comment` and `@preamble` are skipped,
`crossref` fills missing fields from the entry it names (an `@proceedings` that is only such a parent is
not a paper), LaTeX accents and escapes become Unicode (pylatexenc, taught litkb's own escapes) except the
math of a title, which is kept as written (`$\\mathcal{O}(n)$`), `and`-separated authors become a list
of names, `month` joins `year` in the date, and `url`/`doi`/`eprint`/`file` are kept verbatim. An entry
that cannot be parsed, or repeats a key, is a warning naming its line; the others load.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from ..latex import decode_simple
from ..models import YEAR_MONTH, Paper, Source, parse_loose_date
from . import ParseOptions, Parser, ParseResult, register

FORMAT = "bibtex"
_ENTRY = re.compile(
    r"^\s*@\s*(article|inproceedings|misc|book|incollection|phdthesis|mastersthesis|techreport|online|"
    r"unpublished|proceedings|inbook|conference|manual|report|thesis|preprint|string)\s*[{(]",
    re.IGNORECASE | re.MULTILINE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_ARXIV_ID = re.compile(r"(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?", re.IGNORECASE)
_COUNT_NOTE = re.compile(r"^(\d+) authors?; names not given in the source listing$")
_OTHERS = re.compile(r"\s+and\s+others\s*$", re.IGNORECASE)
_KEY = re.compile(r"[^\s,{}()\"#%'=\\]+")
_KNOWN = {
    "title", "abstract", "author", "year", "month", "date", "doi", "eprint", "archiveprefix", "eprinttype",
    "primaryclass", "url", "keywords", "litkbid", "key", "note", "crossref", "organization", "file",
}  # fmt: skip
_INHERITED = (
    "booktitle", "year", "month", "date", "editor", "publisher", "journal", "volume", "number", "series",
    "address", "isbn", "issn", "edition", "school", "institution",
)  # fmt: skip
_PARENT_ONLY = ("proceedings", "mvproceedings")  # a crossref parent of these types is not a paper itself
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = {m: name for m, name in zip(_MONTHS, (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
), strict=True)}  # fmt: skip
_VERBATIM_ESCAPE = re.compile(r"\\([_%&#$])|\\textasciitilde(?:\{\}|\b)\s*|\\textunderscore(?:\{\}|\b)\s*")


def detect(text: str, filename: str) -> float:
    if _ENTRY.search(text[:200_000]):
        return 0.9
    return 0.3 if filename.lower().endswith((".bib", ".bibtex")) else 0.0


@cache
def _latex() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    db = get_default_latex_context_db()
    db.add_context_category(
        "litkb",
        prepend=True,
        macros=[
            MacroTextSpec(name, simplify_repl=char)
            for name, char in (
                ("textbraceleft", "{"),
                ("textbraceright", "}"),
                ("textbar", "|"),
                ("textless", "<"),
                ("textgreater", ">"),
                ("textasciicircum", "^"),
                ("textasciitilde", "~"),
                ("textbackslash", "\\"),
            )
        ],
    )
    return LatexNodes2Text(latex_context=db, math_mode="text", strict_latex_spaces=True)


def decode_latex(value: str) -> str:
    """LaTeX source of a field as plain Unicode text (accents, escapes, braces and `--` ligatures)."""
    if not any(c in value for c in "\\{}$~-`'"):
        return " ".join(value.split())
    simple = decode_simple(value)  # fast, exact for litkb's own escapes and plain accents
    if simple is not None:
        return " ".join(simple.split())
    try:
        text = _latex().latex_to_text(value)
    except Exception:
        text = value
    return " ".join(text.split())


def split_authors(value: str) -> list[str]:
    """Names separated by `and` outside braces, each decoded (`{\\'A}lvarez` -> `Álvarez`)."""
    names, depth, current = [], 0, ""
    tokens = re.split(r"(\s+and\s+|[{}])", value, flags=re.IGNORECASE)
    for token in tokens:
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        if depth == 0 and _AND.fullmatch(token or ""):
            names.append(current)
            current = ""
        else:
            current += token
    names.append(current)
    return [decode_latex(n) for n in names if n.strip() and n.strip().lower() != "others"]


def protected_phrases(title: str) -> list[str]:
    """The parts of a BibTeX title in braces of their own (`{Medusa}: ...`), whose capitals a style must
    keep: decoded, those with at least two letters (not `{\\'e}`-style accents)."""
    phrases, depth, current = [], 0, ""
    for char in title:
        if char == "{":
            depth += 1
            if depth == 1:
                current = ""
                continue
        elif char == "}":
            depth -= 1
            if depth == 0:
                phrases.append(current)
                continue
        if depth >= 1:
            current += char
    decoded = [decode_latex("{" + p + "}") for p in phrases if not p.lstrip().startswith("\\")]
    return list(dict.fromkeys(p for p in decoded if sum(c.isalpha() for c in p) >= 2))


def parse(text: str, options: ParseOptions) -> ParseResult:
    import bibtexparser
    from bibtexparser import model

    result = ParseResult()
    name = options.source_name
    quiet = logging.getLogger("bibtexparser")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its parse errors become our warnings, each with its line
    try:  # values as written (delimiters, macros, `#`): resolved here, as BibTeX does
        library = bibtexparser.parse_string(text.lstrip("\ufeff"), parse_stack=[])
    finally:
        quiet.setLevel(level)
    for block in library.failed_blocks:
        reason = (
            "repeats an earlier key"
            if isinstance(block, model.DuplicateBlockKeyBlock)
            else "cannot be parsed"
        )
        key = getattr(block, "key", None) or ""
        what = f"the entry {key!r}" if key else "an entry"
        result.warnings.append(f"{name}:{_line(block)}: skipped {what} that {reason}")
        result.skipped += 1
    strings: dict[str, str] = {}
    for string in library.strings:  # in file order: a macro may use the ones before it
        strings[string.key.lower()] = resolve_value(str(string.value), strings)
    entries = [
        (entry, {f.key.lower(): resolve_value(str(f.value), strings) for f in entry.fields})
        for entry in library.entries
    ]
    by_key = {entry.key.lower(): (entry, fields) for entry, fields in entries}
    parents = {fields["crossref"].strip().lower() for _, fields in entries if fields.get("crossref")}
    for entry, fields in entries:
        entry_type = entry.entry_type.lower()
        if entry_type in _PARENT_ONLY and entry.key.lower() in parents:
            continue  # its fields went to the entries that cross-reference it, as in BibTeX
        parent = by_key.get(fields.get("crossref", "").strip().lower())
        if parent is not None:
            fields = _inherit(fields, parent[0].entry_type.lower(), parent[1])
        paper = _paper(entry.key, entry_type, fields, options, len(result.papers) + 1)
        if paper is None:
            result.warnings.append(f"{name}:{_line(entry)}: skipped the entry {entry.key!r}: no title")
            result.skipped += 1
            continue
        result.papers.append(paper)
    return result


def resolve_value(raw: str, strings: dict[str, str]) -> str:
    """A field value as BibTeX reads it: `{...}` and `"..."` parts without their delimiters, numbers as
    they are, `@string` macros (and the month macros `jan`..`dec`) replaced, joined at `#`. A value that is
    not made of such parts is given back as it is."""
    if "#" not in raw and len(raw) >= 2 and (raw[0], raw[-1]) in (("{", "}"), ('"', '"')):
        return raw[1:-1]  # one delimited part (most values): no scan needed
    parts, depth, current, quoted = [], 0, "", False
    for char in raw:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0:
            quoted = not quoted
        if char == "#" and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    out = []
    for part in parts:
        if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
            out.append(part[1:-1])
        elif part.isdigit():
            out.append(part)
        elif re.fullmatch(r"[^\s\"#%'(),={}]+", part):
            out.append(strings.get(part.lower(), _MONTH_NAMES.get(part.lower(), part)))
        else:
            return raw
    return "".join(out)


def _inherit(fields: dict[str, str], parent_type: str, parent: dict[str, str]) -> dict[str, str]:
    """The entry's fields with those it lacks taken from its crossref parent (a proceedings' or a book's
    title becomes the `booktitle`, as biber does)."""
    merged = dict(fields)
    for inherited in _INHERITED:
        if parent.get(inherited) and not merged.get(inherited):
            merged[inherited] = parent[inherited]
    container = "book" in parent_type or "proc" in parent_type
    if container and not merged.get("booktitle") and parent.get("title"):
        merged["booktitle"] = parent["title"]
    return {k: v for k, v in merged.items() if v != ""}


def _line(block: Any) -> int | str:
    """The 1-based line a bibtexparser block starts on."""
    start = getattr(block, "start_line", None)
    return start + 1 if isinstance(start, int) else "?"


def _paper(
    key: str, entry_type: str, fields: dict[str, str], options: ParseOptions, position: int
) -> Paper | None:
    title, math = decode_title(fields.get("title", ""))
    if not title:
        return None
    fields = {k: (verbatim(v) if k in ("url", "doi", "eprint") else v) for k, v in fields.items()}
    date, year = parse_loose_date(fields["date"]) if "date" in fields else (None, None)
    if date is None and YEAR_MONTH.fullmatch(fields.get("date", "").strip()):  # BibLaTeX `date = {2023-04}`
        date, year = fields["date"].strip(), int(fields["date"].strip()[:4])
    if year is None and fields.get("year"):
        _, year = parse_loose_date(decode_latex(fields["year"]))
    month = parse_month(decode_latex(fields.get("month", "")))
    if date is None and year is not None and month is not None:
        date = f"{year:04d}-{month:02d}"
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint", "").strip()
    arxiv = _ARXIV_ID.fullmatch(eprint) if eprint and archive in ("arxiv", "") else None
    extra: dict[str, Any] = {"bibtex_type": entry_type}
    if arxiv and arxiv.group(2):
        extra["arxiv_version"] = int(arxiv.group(2))
    extra.update({k: decode_latex(v) for k, v in fields.items() if k not in _KNOWN})
    if fields.get("file"):
        extra["file"] = fields["file"]  # a path (Zotero, JabRef): verbatim
    if eprint and not arxiv:
        extra["eprint"] = eprint
    if fields.get("month") and (month is None or date is None):
        extra["month"] = decode_latex(fields["month"])  # not a month litkb can date: kept as written
    if fields.get("primaryclass"):
        extra["primary_category"] = fields["primaryclass"]
    if math:
        extra["title_math"] = math  # `$\mathcal{O}(n)$`: TeX kept as written, exported unchanged
    note = decode_latex(fields.get("note", ""))
    counted = _COUNT_NOTE.match(note)
    if note and not counted:
        extra["note"] = note
    authors = split_authors(fields.get("author", ""))
    more_authors = bool(_OTHERS.search(fields.get("author", "")))
    if more_authors:
        extra["more_authors"] = True  # `and others`: the list is not complete; export writes it back
    protected = [p for p in protected_phrases(fields.get("title", "")) if p in title and "$" not in p]
    if protected:
        extra["title_protected"] = protected  # `{Medusa}`: capitals kept as written, on export too
    organization = decode_latex(fields.get("organization", ""))
    raw_date = fields.get("date") or " ".join(
        v.strip() for v in (fields.get("month", ""), fields.get("year", "")) if v.strip()
    )
    return Paper(
        title=title,
        external_id=key,
        citation_key=key if _KEY.fullmatch(key) else None,
        abstract=decode_latex(fields["abstract"]) if fields.get("abstract") else None,
        authors=authors,
        n_authors=None if more_authors else len(authors) or (int(counted.group(1)) if counted else None),
        organization={"handle": organization, "name": organization} if organization else None,
        date=date,
        date_raw=raw_date or None,
        year=year,
        urls=[fields["url"]] if fields.get("url") and not _derived_url(fields) else [],
        doi=fields.get("doi", "").strip() or None,
        arxiv_id=arxiv.group(1) if arxiv else None,
        tags=[t.strip() for t in re.split(r"[,;]", decode_latex(fields.get("keywords", ""))) if t.strip()],
        sources=[Source(file=options.source_file, format=FORMAT, position=position)],
        extra=extra,
    )


_MATH = re.compile(r"(?<!\\)\$(?:[^$\\]|\\.)+\$")


def decode_title(value: str) -> tuple[str, list[str]]:
    """A title as text, and its math (`$...$`) kept as written: math is TeX its readers know, and decoding
    it (`𝒪(n logn)`) would neither read well nor go back to the same TeX."""
    math = [" ".join(m.group(0).split()) for m in _MATH.finditer(value)]
    if not math:
        return decode_latex(value), []
    marks = iter(range(len(math)))
    text = decode_latex(_MATH.sub(lambda _: chr(0xE000 + next(marks)), value))
    for i, segment in enumerate(math):
        text = text.replace(chr(0xE000 + i), segment)
    return text, list(dict.fromkeys(math))


def parse_month(value: str) -> int | None:
    """1-12 from a BibTeX month: `apr`, `April`, `Apr.`, `4`, `04`; None for anything else."""
    text = value.strip().rstrip(".").lower()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    if len(text) >= 3 and text.isalpha():
        for number, (short, name) in enumerate(_MONTH_NAMES.items(), start=1):
            if name.lower().startswith(text) or (text == "sept" and short == "sep"):
                return number
    return None


def verbatim(value: str) -> str:
    """A `url`, `doi` or `eprint` as written: never LaTeX-decoded (`~` and `_` are themselves); only a
    backslash before `_ % & # $` (or `\\textasciitilde{}`), as some exporters write, is taken off."""
    if "\\" not in value:
        return value.strip()
    return _VERBATIM_ESCAPE.sub(
        lambda m: m.group(1) or ("~" if "tilde" in m.group(0) else "_"), value
    ).strip()


def _derived_url(fields: dict[str, str]) -> bool:
    """litkb's export writes the DOI or arXiv page as `url`; reading it back adds nothing."""
    url = fields.get("url", "")
    doi, eprint = fields.get("doi", ""), fields.get("eprint", "")
    return bool((doi and url.endswith(doi)) or (eprint and url.endswith(eprint)))


register(Parser(FORMAT, "BibTeX or BibLaTeX", detect, parse))
