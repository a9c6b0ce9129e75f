"""Text helpers that the engine and the exporters share: the one sentence splitter and the one stemmer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """The sentences of a text: split after . ! or ? where the next one starts with a capital, a digit,
    a quote or a bracket (so `e.g. the` and `p < 0.05` stay whole); white space made single."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]


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
