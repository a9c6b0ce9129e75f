"""Themes: clustering the papers' embeddings into topics, with labels a researcher recognises.

How papers are clustered (all deterministic: fixed seeds, ties broken by paper id):

1. One vector per paper, straight from the index: the paper's own (title and abstract, passage 0). The
   mean of its passages measured worse on the arXiv sample (v-measure 0.575 against 0.594 at k=18). Vectors
   are centred (the mean over the collection is
   subtracted, which removes the direction every abstract shares) and scaled to unit length.
2. Neighbourhood smoothing: each vector is replaced by the mean of itself and its 10 nearest neighbours.
   Papers in dense topical regions pull together; isolated ones are pulled toward their nearest topic.
3. Micro-clusters: k-means with up to 200 clusters (every paper its own when there are fewer).
4. The micro-clusters are merged by average-linkage agglomerative clustering (cosine) into k themes.
   Unlike k-means on its own this lets themes differ in size, as fields do.
5. k: given with `-k`, or chosen automatically as the k in 2..min(40, n/3) with the highest silhouette
   score (cosine, on the smoothed vectors; a fixed sample of 3,000 papers above that size).

Labels: class-based TF-IDF (each theme's titles and abstracts as one document) over words and two-word
phrases, English and academic stop words removed; the top terms that are not parts of one another.
Representative papers are the members closest to the theme's centre.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SMOOTH_NEIGHBOURS = 10
MAX_MICRO = 200
MAX_AUTO_K = 40
SILHOUETTE_SAMPLE = 3000
LABEL_TERMS = 3
REPRESENTATIVES = 3
_BLOCK = 2048

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


@dataclass
class Theme:
    id: int
    label: str
    terms: list[str]
    representative: list[str]
    papers: list[str] = field(default_factory=list)


@dataclass
class Clustering:
    labels: list[int]
    k: int
    criterion: str
    scores: dict[int, float] = field(default_factory=dict)


def _centred(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    centred = vectors - vectors.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.maximum(norms, 1e-12)


def _smoothed(unit: np.ndarray, neighbours: int) -> np.ndarray:
    """Each row replaced by the unit mean of itself and its nearest neighbours (cosine), in blocks."""
    import numpy as np

    n = unit.shape[0]
    nn = min(neighbours, n - 1)
    if nn <= 0:
        return unit
    out = np.empty_like(unit)
    for start in range(0, n, _BLOCK):
        sims = unit[start : start + _BLOCK] @ unit.T
        idx = np.argpartition(-sims, nn, axis=1)[:, : nn + 1]
        out[start : start + _BLOCK] = unit[idx].mean(axis=1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def cluster(vectors: np.ndarray, k: int | None = None) -> Clustering:
    """Theme number (0-based) for every row of `vectors`; `k` themes, or the automatic choice."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import silhouette_score

    n = vectors.shape[0]
    smooth = _smoothed(_centred(np.asarray(vectors, dtype=np.float32)), SMOOTH_NEIGHBOURS)
    micro_k = min(MAX_MICRO, n)
    if micro_k < n:
        micro = KMeans(micro_k, n_init=3, random_state=0).fit(smooth)
        micro_labels = micro.labels_
        centres = micro.cluster_centers_ / np.maximum(
            np.linalg.norm(micro.cluster_centers_, axis=1, keepdims=True), 1e-12
        )
    else:
        micro_labels = np.arange(n)
        centres = smooth
    tree = AgglomerativeClustering(linkage="average", metric="cosine", compute_full_tree=True)

    def merged(count: int) -> np.ndarray:
        if count >= len(centres):
            return np.asarray(micro_labels)
        tree.set_params(n_clusters=count)
        return np.asarray(tree.fit_predict(centres))[micro_labels]

    if k is not None:
        return Clustering(labels=_renumber(merged(k), k), k=k, criterion="requested")
    scores: dict[int, float] = {}
    best_k, best_score, best = 1, -2.0, np.zeros(n, dtype=int)
    for candidate in range(2, max(2, min(MAX_AUTO_K, n // 3)) + 1):
        labels = merged(candidate)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(
            silhouette_score(
                smooth,
                labels,
                metric="cosine",
                sample_size=min(n, SILHOUETTE_SAMPLE),
                random_state=0,
            )
        )
        scores[candidate] = round(score, 4)
        if score > best_score + 1e-9:
            best_k, best_score, best = candidate, score, labels
    return Clustering(labels=_renumber(best, best_k), k=best_k, criterion="silhouette", scores=scores)


def _renumber(labels: np.ndarray, k: int) -> list[int]:
    """Theme numbers ordered by size, largest first; ties by first member. Stable across runs."""
    counts: dict[int, int] = {}
    first: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        counts[label] = counts.get(label, 0) + 1
        first.setdefault(label, i)
    order = sorted(counts, key=lambda c: (-counts[c], first[c]))
    mapping = {old: new for new, old in enumerate(order)}
    return [mapping[label] for label in labels.tolist()]


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
    texts: Sequence[str], labels: Sequence[int], k: int, top: int = LABEL_TERMS
) -> list[list[str]]:
    """The most distinctive words and phrases of each theme (class-based TF-IDF).

    Each theme's papers form one document; a term's weight is its frequency in the theme times
    log(1 + average theme length / the term's frequency over all themes). Terms in a single paper only
    are ignored (when there are 20 papers or more), and two-word phrases count 1.5 times.
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
    out: list[list[str]] = []
    for c in range(k):
        ranked = [str(terms[i]) for i in np.lexsort((terms, -weights[c]))[: top * 10] if weights[c, i] > 0]
        out.append(_pick_terms(ranked, top))
    return out


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
    return wa <= wb or wb <= wa or _stem(a) == _stem(b)


def _stem(term: str) -> str:
    return " ".join(re.sub(r"(ies|es|s)$", "", w) for w in term.split())


def representatives(
    vectors: np.ndarray, labels: Sequence[int], k: int, top: int = REPRESENTATIVES
) -> list[list[int]]:
    """Row numbers of the members closest to each theme's centre (cosine), best first."""
    import numpy as np

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels_arr = np.asarray(labels)
    out: list[list[int]] = []
    for c in range(k):
        members = np.flatnonzero(labels_arr == c)
        centre = unit[members].mean(axis=0)
        sims = unit[members] @ centre
        order = np.lexsort((members, -sims))
        out.append([int(members[i]) for i in order[:top]])
    return out


def centroids(vectors: np.ndarray, labels: Sequence[int], k: int) -> np.ndarray:
    """Unit centre of each theme."""
    import numpy as np

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels_arr = np.asarray(labels)
    cents = np.stack([unit[labels_arr == c].mean(axis=0) for c in range(k)])
    return cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)


def layout_2d(vectors: np.ndarray) -> np.ndarray:
    """2-D positions for the map: t-SNE up to 5,000 papers, PCA beyond (t-SNE gets slow there)."""
    import numpy as np
    from sklearn.decomposition import PCA

    n = vectors.shape[0]
    unit = _centred(np.asarray(vectors, dtype=np.float32))
    if n < 4:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if n > 5000:
        return np.asarray(PCA(2, random_state=0).fit_transform(unit))
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    return np.asarray(
        TSNE(2, perplexity=perplexity, init="pca", random_state=0, metric="cosine").fit_transform(unit)
    )


def make_label(terms: Sequence[str]) -> str:
    return ", ".join(terms) if terms else "(no distinctive terms)"


def to_dict(theme: Theme) -> dict[str, Any]:
    return {
        "id": theme.id,
        "label": theme.label,
        "terms": list(theme.terms),
        "representative": list(theme.representative),
    }
