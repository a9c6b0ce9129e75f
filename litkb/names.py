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
    return key or "paper"


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """A unique ASCII key per paper id. Pass every paper of the knowledge base, not only those exported,
    so a paper keeps its key whatever is selected. Papers sharing a base key get suffixes a, b, c...
    in id order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for paper in papers:
        groups[base_key(paper)].append(paper.id)
    keys: dict[str, str] = {}
    for base, ids in groups.items():
        if len(ids) == 1:
            keys[ids[0]] = base
            continue
        for index, paper_id in enumerate(sorted(ids)):
            keys[paper_id] = f"{base}{_suffix(index)}"
    return keys


def _suffix(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters
