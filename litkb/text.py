"""Text helpers that the engine and the exporters share: the one sentence splitter and the one stemmer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
# Abbreviations that end in a full stop but not a sentence: `Smith et al. (2023)`, `Fig. 2`.
_ABBREVIATION = re.compile(r"(?:\b(?:et al|e\.g|i\.e|cf|vs|Fig|Figs|Eq|Eqs|Ref|Refs|Sec|No|approx|resp)\.)$")


def sentences(text: str) -> list[str]:
    """The sentences of a text: split after . ! or ? where the next one starts with a capital, a digit,
    a quote or a bracket (so `e.g. the` and `p < 0.05` stay whole), but not after an abbreviation such
    as `et al.` or `Fig.`; white space made single."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + piece
        elif piece:
            out.append(piece)
    return out


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("porter")


def stem(word: str) -> str:
    """A word's Porter stem (`decoding` -> `decod`, `models` -> `model`); give it in lower case."""
    return str(_stemmer().stemWord(word))


def stems(words: Sequence[str]) -> list[str]:
    """The Porter stems of many words at once."""
    return list(_stemmer().stemWords(list(words)))
