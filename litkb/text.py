"""Text helpers that the engine and the exporters share: the one sentence splitter and the one stemmer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

# Abbreviations that end in a full stop but not a sentence: `Smith et al. (2023)`, `Fig. 2`.
ABBREVIATIONS = (
    "et al", "e.g", "i.e", "cf", "vs", "Fig", "Figs", "Eq", "Eqs", "Ref", "Refs", "Sec", "No",
    "approx", "resp",
)  # fmt: skip
_NOT_AFTER = "".join(f"(?<!\\b{re.escape(a)}\\.)" for a in ABBREVIATIONS)
_SENTENCE_END = re.compile(rf"(?<=[.!?]){_NOT_AFTER}\s+(?=[\"'(\[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """The sentences of a text: split after . ! or ? where the next one starts with a capital, a digit,
    a quote or a bracket (so `e.g. the` and `p < 0.05` stay whole), but not after an abbreviation such
    as `et al.` or `Fig.`; white space made single."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("porter")


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A word's Porter stem (`decoding` -> `decod`, `models` -> `model`); give it in lower case. Cached:
    snippets stem every word of every result."""
    return str(_stemmer().stemWord(word))


def stems(words: Sequence[str]) -> list[str]:
    """The Porter stems of many words at once."""
    return list(_stemmer().stemWords(list(words)))


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in a text, or in the texts of a loaded JSON value (keys too): half of a
    UTF-16 pair, not a character, so no file can hold it; a JSON `\\ud800` escape makes one."""
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        return match.group() if match else None
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    if isinstance(items, list):
        for item in items:
            if (found := lone_surrogate(item)) is not None:
                return found
    return None
