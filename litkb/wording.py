"""Small helpers for the words litkb says: counts with the right plural."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`1 paper`, `2 papers`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def count_is(count: int, noun: str) -> str:
    """`1 paper is`, `3 papers are`."""
    return f"{plural(count, noun)} {'is' if count == 1 else 'are'}"


def shorten(text: str, width: int = 60) -> str:
    """`text` on one line, cut at a word boundary to at most `width` characters with `…` when longer."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"
