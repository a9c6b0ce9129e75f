"""BibTeX export that classic BibTeX, biber, bibtexparser and pybtex all read, and pdflatex typesets.

Every field value is escaped: LaTeX's special characters become text commands (braces as
`\\textbraceleft{}` so that BibTeX's own brace counting stays balanced), so no title or abstract can
break a LaTeX build or run a command. What pdflatex cannot typeset goes out in LaTeX form: accented Latin
letters as accent commands (`{\\'e}`), Greek letters and common symbols in math (`$\\alpha$`). Characters
with no LaTeX form (CJK, ...) stay in UTF-8, declared in a `@preamble` that has pdflatex print `?` for
them where nothing else set them up; with `--ascii` (`ExportContext.ascii`) they are `?` and the output
is plain ASCII.

A paper keeps the citation key it was imported with, and its entry type and standard fields (`volume`,
`pages`, `publisher`, `school`, ...); `and others`, the title's protected phrases (`{Medusa}`) and its
math (`$\\mathcal{O}(n)$`, where `safe_math` allows) are written back; `url` and `doi` are verbatim; the
organisation that posted a Daily Papers entry goes in `organization`, never in `author`; the month is
BibTeX's macro (`month = oct`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from ..latex import latex_escape, safe_math, unicode_declarations
from ..models import Paper
from . import ExportContext, exporter, paper_url

_WORD_PART = re.compile(r"[A-Za-z0-9]+")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# The standard fields a record may keep in `extra` (from its BibTeX, or a column of that name), in the
# order they are written.
_STANDARD = (
    "journal", "booktitle", "editor", "edition", "series", "volume", "number", "chapter", "pages",
    "howpublished", "school", "institution", "publisher", "address", "isbn", "issn", "type",
)  # fmt: skip
# What each entry type needs so that classic BibTeX styles (plain, unsrt, natbib) do not warn; `a|b`: one of.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "article": ("author", "title", "journal", "year"),
    "book": ("author|editor", "title", "publisher", "year"),
    "booklet": ("title",),
    "inbook": ("author|editor", "title", "chapter|pages", "publisher", "year"),
    "incollection": ("author", "title", "booktitle", "publisher", "year"),
    "inproceedings": ("author", "title", "booktitle", "year"),
    "manual": ("title",),
    "mastersthesis": ("author", "title", "school", "year"),
    "misc": (),
    "phdthesis": ("author", "title", "school", "year"),
    "proceedings": ("title", "year"),
    "techreport": ("author", "title", "institution", "year"),
    "unpublished": ("author", "title", "note"),
}
_ALIASES = {"conference": "inproceedings", "report": "techreport", "thesis": "phdthesis", "online": "misc"}


def _keeps_capitals(word: str) -> bool:
    """A word whose capitals a style must not lower: a capital after its first letter (`LLM`, `MultiEdits`,
    `LoRA`) or letters mixed with digits (`GPT4`), in any of its hyphenated parts."""
    for part in _WORD_PART.findall(word):
        letters = [c for c in part if c.isalpha()]
        if any(c.isupper() for c in letters[1:]) or (letters and any(c.isdigit() for c in part)):
            return True
    return False


def protect_title(
    title: str, protected: Sequence[str] = (), ascii: bool = True, math: Sequence[str] = ()
) -> str:
    """Escape a title and brace the words whose capitals must stay (`{LLM}`, `{MultiEdits}`, `{GPT-4}`),
    and the `protected` phrases (as braced in the BibTeX the paper came from: `{Medusa}`). The `math` of
    the title (its `$...$` as imported from BibTeX) is written as it is, braced, where `safe_math` allows."""
    text = " ".join(title.split())
    parts: list[tuple[str, str]] = [(text, "")]  # (text, "" | "protected" | "math")
    phrases = [(" ".join(m.split()), "math") for m in math if safe_math(" ".join(m.split()))]
    phrases += [(" ".join(p.split()), "protected") for p in protected if p.strip()]
    for phrase, kind in sorted(set(phrases), key=lambda pk: (pk[1] != "math", -len(pk[0]))):
        split: list[tuple[str, str]] = []
        for part, fixed in parts:
            if fixed or phrase not in part:
                split.append((part, fixed))
                continue
            pieces = part.split(phrase)
            for i, piece in enumerate(pieces):
                if i:
                    split.append((phrase, kind))
                split.append((piece, ""))
        parts = split
    out = []
    for part, fixed in parts:
        if fixed == "math":
            out.append(f"{{{part}}}")
            continue
        if fixed:
            out.append(f"{{{latex_escape(part, ascii)}}}")
            continue
        words = []
        for word in part.split(" "):
            escaped = latex_escape(word, ascii)
            words.append(f"{{{escaped}}}" if word and _keeps_capitals(word) else escaped)
        out.append(" ".join(words))
    return "".join(out)


def _names(paper: Paper, ascii: bool) -> str:
    from ..names import split_name

    formatted = []
    for name in paper.authors:
        family, given = split_name(name)
        family_tex = f"{{{_name_tex(family, ascii)}}}"
        formatted.append(f"{family_tex}, {_name_tex(given, ascii)}" if given else family_tex)
    if paper.extra.get("more_authors"):
        formatted.append("others")
    return " and ".join(formatted)


def _name_tex(name: str, ascii: bool) -> str:
    """A name escaped, each run of characters that are not Latin letters (CJK, Greek) braced as
    `{\\relax ...}`: BibTeX abbreviates given names byte by byte, and takes such a group whole."""
    out: list[str] = []
    for other, run in itertools.groupby(name, key=lambda c: ord(c) > 127 and not _latin(c)):
        text = latex_escape("".join(run), ascii)
        out.append(f"{{\\relax {text}}}" if other else text)
    return "".join(out)


def _latin(char: str) -> bool:
    """A letter that is a Latin letter with accents (or `ß`, `ø`...): an accent command in BibTeX."""
    return unicodedata.normalize("NFD", char)[0].isascii() or latex_escape(char).startswith("{\\")


def entry_fields(paper: Paper, context: ExportContext) -> tuple[str, list[tuple[str, str]]]:
    """(entry type, [(field, BibTeX value already escaped)]) for one paper."""
    extra = paper.extra
    ascii = context.ascii

    def esc(text: str) -> str:
        return latex_escape(text, ascii)

    protected = extra.get("title_protected")
    phrases = [str(p) for p in protected] if isinstance(protected, list) else []
    math = extra.get("title_math")
    segments = [str(m) for m in math] if isinstance(math, list) else []
    fields: list[tuple[str, str]] = [("title", protect_title(paper.title, phrases, ascii, segments))]
    if paper.authors:
        fields.append(("author", _names(paper, ascii)))
    else:
        # Styles sort by author; without one they need a `key` field or they warn.
        fields.append(("key", esc(context.citekeys.get(paper.id, paper.id))))
    if paper.organization:  # who posted it (a Daily Papers entry), not who wrote it
        fields.append(("organization", esc(paper.organization["name"])))
    notes = []
    if not paper.authors and paper.n_authors:
        plural = "s" if paper.n_authors != 1 else ""
        notes.append(f"{paper.n_authors} author{plural}; names not given in the source listing")
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.date and len(paper.date) >= 7:
        fields.append(("month", _MONTHS[int(paper.date[5:7]) - 1]))  # written as the bare macro
    elif _text(extra.get("month")):
        fields.append(("month", f"{{{esc(str(extra['month']))}}}"))  # as the source wrote it
    if paper.date:
        fields.append(("date", paper.date))
    present = {name: _text(extra.get(name)) for name in _STANDARD}
    if not present["journal"]:
        present["journal"] = _text(extra.get("container-title")) or _text(extra.get("journal_ref"))
    if not present["booktitle"]:
        present["booktitle"] = _text(extra.get("venue"))
    if not extra.get("bibtex_type"):
        present["type"] = ""  # `type` is BibTeX's field (`PhD dissertation`) only in what came from BibTeX
    source_type = extra.get("bibtex_type") or _from_zotero(extra, present)
    entry_type = _entry_type(source_type, present, bool(paper.authors), bool(paper.year))
    fields.extend((name, esc(value)) for name, value in present.items() if value)
    if paper.arxiv_id:
        fields.append(("eprint", esc(paper.arxiv_id)))
        fields.append(("archiveprefix", "arXiv"))
        primary = extra.get("primary_category") or _first(extra.get("categories"))
        if isinstance(primary, str) and primary:
            fields.append(("primaryclass", esc(primary)))
    elif _text(extra.get("eprint")):
        fields.append(("eprint", verbatim(str(extra["eprint"]), ascii)))
    if paper.doi:  # styles put the DOI in a macro's argument (`\\href`, `\\doi`): a bare `%` or `#` breaks it
        fields.append(("doi", re.sub(r"([%#])", r"\\\1", verbatim(paper.doi, ascii))))
    # What the BibTeX said is the paper's url goes back; otherwise its DOI or arXiv page, or first link.
    url = paper.urls[0] if paper.urls and extra.get("bibtex_type") else paper_url(paper)
    if url:
        fields.append(("url", verbatim(url, ascii)))
    if paper.abstract:
        fields.append(("abstract", esc(paper.abstract)))
    if paper.tags:
        fields.append(("keywords", esc(", ".join(paper.tags))))
    note = _text(extra.get("note"))
    if note:
        notes.insert(0, note)
    files = file_field(context.file_paths(paper))
    if files:
        fields.append(("file", files))
    if notes:
        fields.append(("note", esc("; ".join(notes))))
    fields.append(("litkbid", paper.id))
    return entry_type, fields


def _text(value: object) -> str:
    """A field's value as one line of text; "" for none (or a value that is not text or a number)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return " ".join(str(value).split())


def _entry_type(source: object, fields: dict[str, str], authors: bool, year: bool) -> str:
    """The entry type the paper came with where its fields are what that type needs (else a style warns),
    BibLaTeX's own types as classic BibTeX names them; otherwise `@article` with a journal,
    `@inproceedings` with a booktitle, `@misc`."""
    have = {name for name, value in fields.items() if value} | {"title"}
    have |= {"author"} if authors else set()
    have |= {"year"} if year else set()
    wanted = _ALIASES.get(str(source).lower(), str(source).lower())
    for candidate in (wanted, "article", "inproceedings"):
        needs = _REQUIRED.get(candidate)
        if needs is not None and all(have & set(group.split("|")) for group in needs):
            return candidate
    return "misc"


def verbatim(value: str, ascii: bool = False) -> str:
    """A `url` or `doi` as it is (`~` and `_` too: biber and the `url` package read these fields
    verbatim); only what would unbalance the entry (braces, backslash, spaces) or make a command in a
    macro's argument (`^^5c` is a backslash to TeX), and with `ascii` any non-ASCII character, is
    percent-encoded (none of them belongs in a URL as it is)."""
    unsafe = r"[{}\\\s^]|[^\x00-\x7f]" if ascii else r"[{}\\\s^]"
    return re.sub(unsafe, lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), value.strip())


def file_field(paths: Sequence[Path]) -> str:
    """The `file` field as JabRef writes it and Zotero and JabRef read it: `Description:path:Type` for
    each file, `;` between them; backslash, `:` and `;` in a path escaped with a backslash. A path with a
    brace (which BibTeX cannot hold unbalanced) is left out."""
    entries = []
    for path in paths:
        text = str(path)
        if "{" in text or "}" in text:
            continue
        text = text.replace("\\", "\\\\").replace(":", "\\:").replace(";", "\\;")
        entries.append(f":{text}:PDF")
    return ";".join(entries)


# A Zotero item's type as a BibTeX entry type, and the field its publisher goes in (else `publisher`).
_ZOTERO_TYPES = {
    "journalArticle": ("article", "publisher"), "conferencePaper": ("inproceedings", "publisher"),
    "book": ("book", "publisher"), "bookSection": ("incollection", "publisher"),
    "thesis": ("phdthesis", "school"), "report": ("techreport", "institution"),
}  # fmt: skip


def _from_zotero(extra: dict[str, object], present: dict[str, str]) -> str | None:
    """For a paper from Zotero (`extra.item_type`): the BibTeX entry type of its item type, its publisher
    moved to the field that type reads it from (a thesis's university is its `school`), and its editors
    from `extra.creators`; None for anything else."""
    kind = extra.get("item_type")
    if not isinstance(kind, str):
        return None
    entry_type, publisher = _ZOTERO_TYPES.get(kind, ("misc", "publisher"))
    if kind == "thesis" and "master" in str(extra.get("type", "")).lower():
        entry_type = "mastersthesis"
    if publisher != "publisher" and present["publisher"] and not present[publisher]:
        present[publisher], present["publisher"] = present["publisher"], ""
    creators = extra.get("creators")
    editors = creators.get("editor") if isinstance(creators, dict) else None
    if isinstance(editors, list) and editors and not present["editor"]:
        present["editor"] = " and ".join(str(name) for name in editors)
    return entry_type


def _first(value: object) -> str | None:
    if isinstance(value, list) and value:
        return str(value[0])
    return value if isinstance(value, str) else None


@exporter("bibtex")
def to_bibtex(papers: Sequence[Paper], context: ExportContext) -> str:
    entries = []
    for paper in papers:
        entry_type, fields = entry_fields(paper, context)
        key = context.citekeys.get(paper.id, paper.id)
        body = ",\n".join(
            f"  {name} = {value}" if name == "month" else f"  {name} = {{{value}}}" for name, value in fields
        )
        entries.append(f"@{entry_type}{{{key},\n{body}\n}}\n")
    text = "\n".join(entries)
    others = "".join(sorted({char for char in text if ord(char) > 127}))
    if others:  # CJK and the like: kept in UTF-8, declared for pdflatex so that documents still build
        text = f'@preamble{{"{unicode_declarations(others)}"}}\n\n{text}'
    return text
