"""BibTeX export that classic BibTeX, biber, bibtexparser and pybtex all read.

Every field value is escaped: LaTeX's special characters become text commands (braces as
`\\textbraceleft{}` so that BibTeX's own brace counting stays balanced), so no title or abstract can
break a LaTeX build or run a command. Other characters stay as they are, in UTF-8 (biber, and LaTeX
since 2018, read it; CJK and other scripts are kept). With `--ascii` (`ExportContext.ascii`) the output
is plain ASCII instead: accented Latin letters become accent commands (`{\\'e}`), common symbols and
Greek letters their LaTeX forms, and any other character a `?`.

A paper keeps the citation key it was imported with; `and others` and the title's protected phrases
(`{Medusa}`) are written back; the organisation that posted a Daily Papers entry goes in
`organization`, never in `author`; the month is BibTeX's macro (`month = oct`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..latex import latex_escape
from ..models import Paper
from . import ExportContext, exporter, paper_url

_WORD_PART = re.compile(r"[A-Za-z0-9]+")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _keeps_capitals(word: str) -> bool:
    """A word whose capitals a style must not lower: a capital after its first letter (`LLM`, `MultiEdits`,
    `LoRA`) or letters mixed with digits (`GPT4`), in any of its hyphenated parts."""
    for part in _WORD_PART.findall(word):
        letters = [c for c in part if c.isalpha()]
        if any(c.isupper() for c in letters[1:]) or (letters and any(c.isdigit() for c in part)):
            return True
    return False


def protect_title(title: str, protected: Sequence[str] = (), ascii: bool = True) -> str:
    """Escape a title and brace the words whose capitals must stay (`{LLM}`, `{MultiEdits}`, `{GPT-4}`),
    and the `protected` phrases (as braced in the BibTeX the paper came from: `{Medusa}`)."""
    text = " ".join(title.split())
    parts: list[tuple[str, bool]] = [(text, False)]  # (text, a protected phrase)
    for phrase in sorted({" ".join(p.split()) for p in protected if p.strip()}, key=len, reverse=True):
        split: list[tuple[str, bool]] = []
        for part, fixed in parts:
            if fixed or phrase not in part:
                split.append((part, fixed))
                continue
            pieces = part.split(phrase)
            for i, piece in enumerate(pieces):
                if i:
                    split.append((phrase, True))
                split.append((piece, False))
        parts = split
    out = []
    for part, fixed in parts:
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
        family_tex = f"{{{latex_escape(family, ascii)}}}"
        formatted.append(f"{family_tex}, {latex_escape(given, ascii)}" if given else family_tex)
    if paper.extra.get("more_authors"):
        formatted.append("others")
    return " and ".join(formatted)


def entry_fields(paper: Paper, context: ExportContext) -> tuple[str, list[tuple[str, str]]]:
    """(entry type, [(field, BibTeX value already escaped)]) for one paper."""
    extra = paper.extra
    ascii = context.ascii

    def esc(text: str) -> str:
        return latex_escape(text, ascii)

    protected = extra.get("title_protected")
    phrases = [str(p) for p in protected] if isinstance(protected, list) else []
    fields: list[tuple[str, str]] = [("title", protect_title(paper.title, phrases, ascii))]
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
    if paper.date:
        fields.append(("month", _MONTHS[int(paper.date[5:7]) - 1]))  # written as the bare macro
        fields.append(("date", paper.date))
    entry_type = "misc"
    journal = extra.get("journal") or extra.get("container-title") or extra.get("journal_ref")
    booktitle = extra.get("booktitle") or extra.get("venue")
    if isinstance(journal, str) and journal.strip():
        entry_type = "article"
        fields.append(("journal", esc(journal)))
    elif isinstance(booktitle, str) and booktitle.strip():
        entry_type = "inproceedings"
        fields.append(("booktitle", esc(booktitle)))
    entry_type, more = _from_zotero(extra, entry_type)
    fields += [(name, esc(value)) for name, value in more]
    if paper.arxiv_id:
        fields.append(("eprint", esc(paper.arxiv_id)))
        fields.append(("archiveprefix", "arXiv"))
        primary = extra.get("primary_category") or _first(extra.get("categories"))
        if isinstance(primary, str) and primary:
            fields.append(("primaryclass", esc(primary)))
    if paper.doi:
        fields.append(("doi", esc(paper.doi)))
    url = paper_url(paper)
    if url:
        fields.append(("url", esc(url)))
    if paper.abstract:
        fields.append(("abstract", esc(paper.abstract)))
    if paper.tags:
        fields.append(("keywords", esc(", ".join(paper.tags))))
    if notes:
        fields.append(("note", esc("; ".join(notes))))
    fields.append(("litkbid", paper.id))
    return entry_type, fields


# A Zotero item's type as a BibTeX entry type, and where its publisher goes (the rest is `publisher`).
_ZOTERO_TYPES = {
    "book": ("book", "publisher"), "bookSection": ("incollection", "publisher"),
    "thesis": ("phdthesis", "school"), "report": ("techreport", "institution"),
}  # fmt: skip
_ZOTERO_FIELDS = ("volume", "number", "pages", "edition", "series", "address", "isbn", "issn")


def _from_zotero(extra: dict[str, object], entry_type: str) -> tuple[str, list[tuple[str, str]]]:
    """For a paper from Zotero (`extra.item_type`): its entry type where BibTeX has a closer one than
    the venue gave, and the fields Zotero had for it (volume, number, pages, publisher, editors, ...), not
    yet escaped."""
    kind = extra.get("item_type")
    if not isinstance(kind, str):
        return entry_type, []
    entry_type, publisher = _ZOTERO_TYPES.get(kind, (entry_type, "publisher"))
    if kind == "thesis" and "master" in str(extra.get("type", "")).lower():
        entry_type = "mastersthesis"
    fields = [(name, str(extra[name])) for name in _ZOTERO_FIELDS if isinstance(extra.get(name), str)]
    if isinstance(extra.get("publisher"), str):
        fields.append((publisher, str(extra["publisher"])))
    creators = extra.get("creators")
    editors = creators.get("editor") if isinstance(creators, dict) else None
    if isinstance(editors, list) and editors:
        fields.append(("editor", " and ".join(str(name) for name in editors)))
    return entry_type, fields


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
    return "\n".join(entries)
