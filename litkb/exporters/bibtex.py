"""BibTeX export: plain ASCII that classic BibTeX, biber, bibtexparser and pybtex all read.

Every field value is escaped: LaTeX's special characters become text commands (braces as
`\\textbraceleft{}` so that BibTeX's own brace counting stays balanced), accented Latin letters become
accent commands (`{\\'e}`), common symbols and Greek letters their LaTeX forms, and any other
non-ASCII character a `?`, so no title or abstract can break a LaTeX build or run a command.
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


def protect_title(title: str) -> str:
    """Escape a title and brace the words whose capitals must stay (`{LLM}`, `{MultiEdits}`, `{GPT-4}`)."""
    words = []
    for word in " ".join(title.split()).split(" "):
        escaped = latex_escape(word)
        words.append(f"{{{escaped}}}" if _keeps_capitals(word) else escaped)
    return " ".join(words)


def _names(paper: Paper) -> str:
    from ..names import split_name

    formatted = []
    for name in paper.authors:
        family, given = split_name(name)
        family_tex = f"{{{latex_escape(family)}}}"
        formatted.append(f"{family_tex}, {latex_escape(given)}" if given else family_tex)
    return " and ".join(formatted)


def entry_fields(paper: Paper, context: ExportContext) -> tuple[str, list[tuple[str, str]]]:
    """(entry type, [(field, BibTeX value already escaped)]) for one paper."""
    extra = paper.extra
    fields: list[tuple[str, str]] = [("title", protect_title(paper.title))]
    if paper.authors:
        fields.append(("author", _names(paper)))
    elif paper.organization:
        fields.append(("author", f"{{{latex_escape(paper.organization['name'])}}}"))
    else:
        # Styles sort by author; without one they need a `key` field or they warn.
        fields.append(("key", latex_escape(context.citekeys.get(paper.id, paper.id))))
    notes = []
    if not paper.authors and paper.n_authors:
        plural = "s" if paper.n_authors != 1 else ""
        notes.append(f"{paper.n_authors} author{plural}; names not given in the source listing")
    if paper.year:
        fields.append(("year", str(paper.year)))
    if paper.date:
        fields.append(("month", _MONTHS[int(paper.date[5:7]) - 1]))
        fields.append(("date", paper.date))
    entry_type = "misc"
    journal = extra.get("journal") or extra.get("container-title") or extra.get("journal_ref")
    booktitle = extra.get("booktitle") or extra.get("venue")
    if isinstance(journal, str) and journal.strip():
        entry_type = "article"
        fields.append(("journal", latex_escape(journal)))
    elif isinstance(booktitle, str) and booktitle.strip():
        entry_type = "inproceedings"
        fields.append(("booktitle", latex_escape(booktitle)))
    if paper.arxiv_id:
        fields.append(("eprint", latex_escape(paper.arxiv_id)))
        fields.append(("archiveprefix", "arXiv"))
        primary = extra.get("primary_category") or _first(extra.get("categories"))
        if isinstance(primary, str) and primary:
            fields.append(("primaryclass", latex_escape(primary)))
    if paper.doi:
        fields.append(("doi", latex_escape(paper.doi)))
    url = paper_url(paper)
    if url:
        fields.append(("url", latex_escape(url)))
    if paper.abstract:
        fields.append(("abstract", latex_escape(paper.abstract)))
    if paper.tags:
        fields.append(("keywords", latex_escape(", ".join(paper.tags))))
    if notes:
        fields.append(("note", latex_escape("; ".join(notes))))
    fields.append(("litkbid", paper.id))
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
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{entry_type}{{{key},\n{body}\n}}\n")
    return "\n".join(entries)
