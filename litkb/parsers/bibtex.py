"""BibTeX and BibLaTeX (Zotero, Better BibTeX, litkb's own export), read with bibtexparser v2.

`@string` macros are resolved, `@comment` and `@preamble` are skipped, `crossref` fills missing fields from
the entry it names, LaTeX accents and escapes become Unicode (pylatexenc, taught litkb's own escapes),
`and`-separated authors become a list of names, and `eprint`/`doi`/`url` are kept. An entry that cannot be
parsed, or repeats a key, is a warning naming its line; the others load.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from ..latex import decode_simple
from ..models import Paper, Source, parse_loose_date
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
    "primaryclass", "url", "keywords", "litkbid", "key", "note", "crossref", "organization",
}  # fmt: skip
_INHERITED = ("booktitle", "year", "date", "editor", "publisher", "journal", "volume", "series", "address")


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
    try:
        library = bibtexparser.parse_string(text.lstrip("\ufeff"))
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
    by_key = {entry.key.lower(): entry for entry in library.entries}
    for entry in library.entries:
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        parent = by_key.get(fields.get("crossref", "").lower())
        if parent is not None:
            for inherited in _INHERITED:
                fields.setdefault(
                    inherited,
                    str(parent.fields_dict[inherited].value) if inherited in parent.fields_dict else "",
                )
            fields = {k: v for k, v in fields.items() if v != ""}
        paper = _paper(entry.key, entry.entry_type.lower(), fields, options, len(result.papers) + 1)
        if paper is None:
            result.warnings.append(f"{name}:{_line(entry)}: skipped the entry {entry.key!r}: no title")
            result.skipped += 1
            continue
        result.papers.append(paper)
    return result


def _line(block: Any) -> int | str:
    """The 1-based line a bibtexparser block starts on."""
    start = getattr(block, "start_line", None)
    return start + 1 if isinstance(start, int) else "?"


def _paper(
    key: str, entry_type: str, fields: dict[str, str], options: ParseOptions, position: int
) -> Paper | None:
    title = decode_latex(fields.get("title", ""))
    if not title:
        return None
    date, year = parse_loose_date(fields["date"]) if "date" in fields else (None, None)
    if year is None and fields.get("year"):
        _, year = parse_loose_date(decode_latex(fields["year"]))
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint", "").strip()
    arxiv = _ARXIV_ID.fullmatch(eprint) if eprint and archive in ("arxiv", "") else None
    extra: dict[str, Any] = {"bibtex_type": entry_type}
    if arxiv and arxiv.group(2):
        extra["arxiv_version"] = int(arxiv.group(2))
    extra.update({k: decode_latex(v) for k, v in fields.items() if k not in _KNOWN})
    if fields.get("primaryclass"):
        extra["primary_category"] = fields["primaryclass"]
    note = decode_latex(fields.get("note", ""))
    counted = _COUNT_NOTE.match(note)
    if note and not counted:
        extra["note"] = note
    authors = split_authors(fields.get("author", ""))
    more_authors = bool(_OTHERS.search(fields.get("author", "")))
    if more_authors:
        extra["more_authors"] = True  # `and others`: the list is not complete; export writes it back
    protected = [p for p in protected_phrases(fields.get("title", "")) if p in title]
    if protected:
        extra["title_protected"] = protected  # `{Medusa}`: capitals kept as written, on export too
    organization = decode_latex(fields.get("organization", ""))
    return Paper(
        title=title,
        external_id=key,
        citation_key=key if _KEY.fullmatch(key) else None,
        abstract=decode_latex(fields["abstract"]) if fields.get("abstract") else None,
        authors=authors,
        n_authors=None if more_authors else len(authors) or (int(counted.group(1)) if counted else None),
        organization={"handle": organization, "name": organization} if organization else None,
        date=date,
        date_raw=fields.get("date") or fields.get("year"),
        year=year,
        urls=[decode_latex(fields["url"])] if fields.get("url") and not _derived_url(fields) else [],
        doi=fields.get("doi", "").strip() or None,
        arxiv_id=arxiv.group(1) if arxiv else None,
        tags=[t.strip() for t in re.split(r"[,;]", decode_latex(fields.get("keywords", ""))) if t.strip()],
        sources=[Source(file=options.source_file, format=FORMAT, position=position)],
        extra=extra,
    )


def _derived_url(fields: dict[str, str]) -> bool:
    """litkb's export writes the DOI or arXiv page as `url`; reading it back adds nothing."""
    url = fields.get("url", "")
    doi, eprint = fields.get("doi", ""), fields.get("eprint", "")
    return bool((doi and url.endswith(doi)) or (eprint and url.endswith(eprint)))


register(Parser(FORMAT, "BibTeX or BibLaTeX", detect, parse))
