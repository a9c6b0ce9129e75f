"""People's names and citation keys."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

from .models import Paper

_PARTICLES = {
    "van",
    "von",
    "der",
    "den",
    "de",
    "del",
    "della",
    "di",
    "da",
    "du",
    "la",
    "le",
    "dos",
    "das",
    "ter",
}
_KEY_STOP = {
    "a",
    "an",
    "the",
    "on",
    "of",
    "in",
    "for",
    "to",
    "and",
    "towards",
    "toward",
    "with",
    "via",
    "is",
    "are",
}


def split_name(name: str) -> tuple[str, str]:
    """(family, given) from `Last, First` or `First Last` (particles such as `van der` join the family)."""
    text = " ".join(name.split())
    if "," in text:
        family, given = text.split(",", 1)
        return family.strip(), given.strip()
    words = text.split(" ")
    if len(words) == 1:
        return words[0], ""
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in _PARTICLES:
        start -= 1
    return " ".join(words[start:]), " ".join(words[:start])


def display_name(name: str) -> str:
    """A name as it is read: `Ankner, Zachary` -> `Zachary Ankner`."""
    family, given = split_name(name)
    return f"{given} {family}" if given else family


def display_names(paper: Paper, limit: int | None = None) -> str:
    """The authors as people read them, `; ` between names (a comma could be inside one), with
    `and others` when the list is not complete; `limit`: only the first names, then `and N more`."""
    shown = paper.authors if limit is None else paper.authors[:limit]
    names = "; ".join(display_name(n) for n in shown)
    if paper.extra.get("more_authors"):
        return f"{names}; and others"
    hidden = len(paper.authors) - len(shown)
    return f"{names}; and {hidden} more" if hidden else names


def ascii_fold(text: str) -> str:
    """Letters and digits only, accents dropped, lower case."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def base_key(paper: Paper) -> str:
    """`{first author's family name}{year}{first significant title word}`; without names, word then year."""
    author = ""
    if paper.authors:
        author = ascii_fold(split_name(paper.authors[0])[0])
    words = [ascii_fold(w) for w in re.split(r"[\s\-:/]+", paper.title)]
    word = next((w for w in words if w and w not in _KEY_STOP), "") or next((w for w in words if w), "")
    year = str(paper.year) if paper.year else ""
    key = f"{author}{year}{word}" if author else f"{word}{year}"
    return key if key[:1].isalpha() else f"paper{key}"  # a title in another script folds to nothing


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """A unique key per paper id. A paper keeps the key it came with (`citation_key`, from its BibTeX),
    so `\\cite{vaswani2017}` in a manuscript keeps working; the others get a generated ASCII key that
    is never one of those kept. Pass every paper of the knowledge base, not only those exported, so a
    paper keeps its key whatever is selected. Two papers that came with the same key: the first by id
    keeps it, the other gets a suffix. Generated keys shared by several papers get suffixes a, b, c...
    in id order."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for paper in sorted(papers, key=lambda p: p.id):
        if paper.citation_key and paper.citation_key not in taken:
            keys[paper.id] = paper.citation_key
            taken.add(paper.citation_key)
    groups: dict[str, list[str]] = defaultdict(list)
    for paper in papers:
        if paper.id not in keys:
            groups[paper.citation_key or base_key(paper)].append(paper.id)
    for base, ids in groups.items():
        if len(ids) == 1 and base not in taken:
            keys[ids[0]] = base
            taken.add(base)
            continue
        index = 0
        for paper_id in sorted(ids):
            while f"{base}{_suffix(index)}" in taken:
                index += 1
            keys[paper_id] = f"{base}{_suffix(index)}"
            taken.add(keys[paper_id])
    return keys


def _suffix(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters
