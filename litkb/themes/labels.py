"""Theme and area labels: class-based TF-IDF (each theme's titles and abstracts as one document) over
words and two-word phrases, English and academic stop words removed; the top terms that are not parts of
one another."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from ..text import stems

if TYPE_CHECKING:
    import numpy as np

LABEL_TERMS = 3

# Words that say "this is a paper" rather than what it is about.
ACADEMIC_STOP_WORDS = frozenset(
    """
    paper papers propose proposed proposes present presents presented show shows shown demonstrate
    demonstrates study studies studied work works approach approaches method methods methodology result
    results new novel based using use used uses via also however well significantly significant
    furthermore moreover existing recent recently previous prior state art framework frameworks problem
    problems performance improve improves improved improvement achieve achieves achieved provide provides
    introduce introduces introduced address addresses investigate investigated first second paper's
    experiments experimental extensive evaluate evaluation evaluations compared comparison superior
    effective effectively efficient efficiently outperforms outperform leading key large small high low
    different various several many wide widely ability able way ways given thus therefore end make makes
    including include includes find finds found propose analysis analyze develop developed lead leads
    allows allow enable enables enabling challenge challenges challenging important crucial remains remain
    current set sets number term terms order case cases time times paper-based et al
    """.split()
)

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_LINK = re.compile(r"\S+://\S+|www\.\S+")
_PUNCTUATION = re.compile(r"[^\w\s-]+")
PHRASE_BOOST = 1.5


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | ACADEMIC_STOP_WORDS


def _analyzer(stop: frozenset[str]):  # type: ignore[no-untyped-def]
    """Words, and two-word phrases of words next to each other (no punctuation between), neither a stop
    word; links and words of one letter dropped."""

    def analyze(text: str) -> list[str]:
        terms: list[str] = []
        for segment in _PUNCTUATION.split(_LINK.sub(" . ", text)):
            words = [w.lower() for w in _TOKEN.findall(segment)]
            keep = [len(w) > 1 and w not in stop for w in words]
            terms += [w for w, k in zip(words, keep, strict=True) if k]
            terms += [f"{a} {b}" for (a, ka), (b, kb) in pairwise(zip(words, keep, strict=True)) if ka and kb]
        return terms

    return analyze


def label_terms(
    texts: Sequence[str],
    labels: Sequence[int],
    k: int,
    top: int = LABEL_TERMS,
    groups: Sequence[int] | None = None,
) -> list[list[str]]:
    """The most distinctive words and phrases of each theme (class-based TF-IDF).

    Each theme's papers form one document; a term's weight is its frequency in the theme times
    log(1 + average theme length / the term's frequency over all themes). Terms in a single paper only
    are ignored (when there are 20 papers or more), and two-word phrases count 1.5 times. With `groups`
    (each theme's area), a term is also weighed against the other themes of the same area, so that
    sibling themes get labels that tell them apart rather than the words their whole area shares.
    """
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(analyzer=_analyzer(_stop_words()))
    try:
        per_paper = vectorizer.fit_transform(texts)
    except ValueError:  # no term left (texts of stop words only)
        return [[] for _ in range(k)]
    terms = vectorizer.get_feature_names_out()
    n = len(texts)
    membership = sparse.csr_matrix((np.ones(n), (np.asarray(labels), np.arange(n))), shape=(k, n))
    per_theme = np.asarray((membership @ per_paper).todense(), dtype=np.float64)
    tf = per_theme / np.maximum(per_theme.sum(axis=1, keepdims=True), 1.0)
    average = per_theme.sum() / max(k, 1)
    weights = np.sqrt(tf) * np.log1p(average / np.maximum(per_theme.sum(axis=0), 1.0))
    if n >= 20:
        papers_with_term = np.asarray((per_paper > 0).sum(axis=0)).ravel()
        weights[:, papers_with_term < 2] = 0.0
    weights[:, np.array([" " in t for t in terms])] *= PHRASE_BOOST
    if groups is not None:
        weights *= _within_group(per_theme, list(groups))
    out: list[list[str]] = []
    for c in range(k):
        ranked = [str(terms[i]) for i in np.lexsort((terms, -weights[c]))[: top * 10] if weights[c, i] > 0]
        out.append(_pick_terms(ranked, top))
    return out


def _within_group(per_theme: np.ndarray, groups: list[int]) -> np.ndarray:
    """A factor in [0.5, 1] per theme and term: how much more the theme uses the term than the other
    themes of its group do (1 for a group of one theme)."""
    import numpy as np

    factor = np.ones_like(per_theme)
    tf = per_theme / np.maximum(per_theme.sum(axis=1, keepdims=True), 1.0)
    for group in set(groups):
        rows = [i for i, g in enumerate(groups) if g == group]
        if len(rows) < 2:
            continue
        share = tf[rows] / np.maximum(tf[rows].sum(axis=0, keepdims=True), 1e-12)  # this theme's part
        factor[rows] = 0.5 + 0.5 * share
    return factor


def _pick_terms(ranked: list[str], top: int) -> list[str]:
    """The first `top` terms that are not parts of one another; a phrase replaces the words it is made of
    (`continual`, `learning` become `continual learning`)."""
    chosen: list[str] = []
    for term in ranked:
        if len(chosen) >= top:
            break
        parts = [kept for kept in chosen if set(kept.split()) < set(term.split())]
        if parts:
            chosen = [kept for kept in chosen if kept not in parts[1:]]
            chosen[chosen.index(parts[0])] = term
            continue
        if any(_overlaps(term, kept) for kept in chosen):
            continue
        chosen.append(term)
    return chosen


def _overlaps(a: str, b: str) -> bool:
    """Whether one term is part of the other (`learning` and `continual learning`), by words."""
    wa, wb = set(a.split()), set(b.split())
    return wa <= wb or wb <= wa or stems(a.split()) == stems(b.split())


def make_label(terms: Sequence[str]) -> str:
    return ", ".join(terms) if terms else "(no distinctive terms)"
