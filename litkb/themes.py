"""Themes: clustering the papers' embeddings into topics, with labels a researcher recognises.

How papers are clustered (all deterministic: fixed seeds, ties broken by paper id):

1. One vector per paper, straight from the index: the paper's own (title and abstract, passage 0). The
   mean of its passages measured worse on the arXiv sample (v-measure 0.575 against 0.594 at k=18). Vectors
   are centred (the mean over the collection is
   subtracted, which removes the direction every abstract shares) and scaled to unit length.
2. Neighbourhood smoothing: each vector is replaced by the mean of itself and its nearest neighbours
   (√n/4 of them, 3 to 10).
   Papers in dense topical regions pull together; isolated ones are pulled toward their nearest topic.
3. Micro-clusters: k-means with up to 200 clusters (every paper its own when there are fewer).
4. The micro-clusters are merged by average-linkage agglomerative clustering (cosine) into k themes.
   Unlike k-means on its own this lets themes differ in size, as fields do.
5. k: given with `-k`, or chosen from the collection's size: about √n themes, more while one theme holds
   over a fifth of the papers (at most 1.5·√n); see `auto_k`.

Labels: class-based TF-IDF (each theme's titles and abstracts as one document) over words and two-word
phrases, English and academic stop words removed; the top terms that are not parts of one another.
Representative papers are the members closest to the theme's centre.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from .themeset import Area, Theme, ThemeSet

if TYPE_CHECKING:
    import numpy as np

SMOOTH_NEIGHBOURS = 10  # at most; fewer in a small collection (see smoothing_neighbours)
MAX_MICRO = 200
AUTO_MAX = 1.5  # the automatic choice stays under 1.5·√n themes
LARGEST_SHARE = 0.2  # ... and adds themes while one holds more than this share of the papers
LABEL_TERMS = 3
MAX_AREAS = 10
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
class Clustering:
    labels: list[int]
    k: int
    criterion: str


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


def smoothing_neighbours(n: int) -> int:
    """How many neighbours a paper is smoothed towards: √n/4, between 3 and SMOOTH_NEIGHBOURS. In a few
    hundred papers of one field, 10 neighbours reach across topics (cond-mat, 380 papers: v-measure
    0.299 with 10, 0.346 with 5; 2,000 papers across fields: 0.594 with 10, 0.590 with 5)."""
    return max(3, min(SMOOTH_NEIGHBOURS, round(n**0.5 / 4)))


def cluster(vectors: np.ndarray, k: int | None = None) -> Clustering:
    """Theme number (0-based) for every row of `vectors`; `k` themes, or the automatic choice."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering, KMeans

    n = vectors.shape[0]
    smooth = _smoothed(_centred(np.asarray(vectors, dtype=np.float32)), smoothing_neighbours(n))
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
    k, labels = auto_k(n, merged, smooth)
    return Clustering(labels=_renumber(labels, k), k=k, criterion="size")


def auto_k(n: int, merged: Any, vectors: np.ndarray) -> tuple[int, np.ndarray]:
    """The number of themes for n papers when none is asked for, and the themes: about √n (2 at least,
    n/3 at most); then, while one theme holds over a fifth of the papers, it is split in two (k-means on
    its members), up to 1.5·√n themes. `merged(k)` clusters into k.

    Why the size of the collection and not a score: scores such as the silhouette prefer the coarsest
    split (2 themes for 5,183 biomedical abstracts), and a reader wants themes of a readable size at any
    scale. On the arXiv sample, √n themes score within 0.05 v-measure of asking for the true number of
    labels, within one field (math, cond-mat) and across fields (scripts/bench_themes.py).
    """
    import numpy as np
    from sklearn.cluster import KMeans

    high = max(2, min(n // 3, int(AUTO_MAX * n**0.5)))
    k = max(2, min(high, round(n**0.5)))
    labels = np.asarray(merged(k)).copy()
    while k < high:
        sizes = np.bincount(labels, minlength=k)
        largest = int(sizes.argmax())
        if sizes[largest] <= LARGEST_SHARE * n:
            break
        members = np.flatnonzero(labels == largest)
        halves = KMeans(2, n_init=3, random_state=0).fit_predict(vectors[members])
        if halves.min() == halves.max():
            break  # one topic that does not split
        labels[members[halves == 1]] = k
        k += 1
    return k, labels


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


def area_count(k: int) -> int:
    """How many areas for k themes: about sqrt(2k), between 2 and 10 (one area for one or two themes)."""
    if k <= 2:
        return 1
    return max(2, min(MAX_AREAS, round((2 * k) ** 0.5), k - 1))


def group_areas(vectors: np.ndarray, labels: Sequence[int], k: int) -> list[int]:
    """The area (0-based, largest first) of each of the k themes: k-means over the themes' centres, each
    weighed by its number of papers, into `area_count(k)` groups (average linkage left one area with
    60% of SciFact's papers; weighted k-means keeps areas of comparable reach)."""
    import numpy as np
    from sklearn.cluster import KMeans

    count = area_count(k)
    if count == 1:
        return [0] * k
    cents = centroids(np.asarray(vectors, dtype=np.float32), labels, k)
    sizes = np.bincount(np.asarray(labels), minlength=k)
    groups = KMeans(count, n_init=10, random_state=0).fit_predict(cents, sample_weight=sizes)
    weight = {g: int(sizes[groups == g].sum()) for g in set(groups.tolist())}
    first = {g: int(np.flatnonzero(groups == g)[0]) for g in weight}
    order = sorted(weight, key=lambda g: (-weight[g], first[g]))
    return [order.index(int(g)) for g in groups]


def months(dates: Sequence[str | None]) -> tuple[dict[str, int], int]:
    """Papers per month (`YYYY-MM`, in order) of these dates, and how many have none."""
    counted: dict[str, int] = {}
    for date in dates:
        if date:
            counted[date[:7]] = counted.get(date[:7], 0) + 1
    return dict(sorted(counted.items())), sum(1 for d in dates if not d)


def make_label(terms: Sequence[str]) -> str:
    return ", ".join(terms) if terms else "(no distinctive terms)"


def to_dict(theme: Theme) -> dict[str, Any]:
    return {
        "id": theme.id,
        "label": theme.label,
        "terms": list(theme.terms),
        "representative": list(theme.representative),
    }


def build_theme_set(
    ids: Sequence[str], matrix: np.ndarray, texts: Sequence[str], k: int | None, model: str
) -> ThemeSet:
    """Cluster the papers (rows of `matrix`, texts for labels) into themes, group the themes into areas,
    label both, and pick each theme's representative papers."""
    found = cluster(matrix, k)
    theme_areas = group_areas(matrix, found.labels, found.k)
    terms = label_terms(texts, found.labels, found.k, groups=theme_areas)
    closest = representatives(matrix, found.labels, found.k)
    n_areas = max(theme_areas) + 1
    area_terms = label_terms(texts, [theme_areas[c] for c in found.labels], n_areas)
    return ThemeSet(
        model=model,
        criterion=found.criterion,
        themes=[
            Theme(
                id=c + 1,
                label=make_label(terms[c]),
                terms=terms[c],
                representative=[ids[i] for i in closest[c]],
                area=theme_areas[c] + 1,
            )
            for c in range(found.k)
        ],
        assignments={pid: label + 1 for pid, label in zip(ids, found.labels, strict=True)},
        areas=[
            Area(
                id=a + 1,
                label=make_label(area_terms[a]),
                terms=area_terms[a],
                themes=[c + 1 for c in range(found.k) if theme_areas[c] == a],
            )
            for a in range(n_areas)
        ],
    )


def add_areas(theme_set: ThemeSet, ids: Sequence[str], matrix: np.ndarray, texts: Sequence[str]) -> None:
    """Group the themes of a saved set that has no areas (written by an older litkb) into areas, in
    place: the themes, their ids and labels stay as they were."""
    present = sorted({theme_set.assignments[pid] for pid in ids})  # themes with papers in the index
    labels = [present.index(theme_set.assignments[pid]) for pid in ids]
    grouped = group_areas(matrix, labels, len(present))
    area_of = {theme_id: grouped[i] for i, theme_id in enumerate(present)}
    count = max(grouped) + 1
    area_terms = label_terms(texts, [grouped[c] for c in labels], count)
    for theme in theme_set.themes:
        theme.area = area_of.get(theme.id, 0) + 1  # a theme left without papers joins the largest area
    theme_set.areas = [
        Area(
            id=a + 1,
            label=make_label(area_terms[a]),
            terms=area_terms[a],
            themes=[t.id for t in theme_set.themes if t.area == a + 1],
        )
        for a in range(count)
    ]


@dataclass
class Trend:
    """How a theme's (or an area's) papers are spread over time."""

    months: dict[str, int]
    undated: int
    since: int | None = None  # papers dated on or after the `since` date
    growth: float | None = None  # their share against the knowledge base's share (1.0 = as many as usual)
    rising: bool = False  # among the themes that grew most since then


RISING = 3  # themes marked as grown most, at most
RISING_MIN = 2  # new papers a theme needs to be marked


def trends(
    theme_set: ThemeSet, dates: dict[str, str | None], since: str | None
) -> dict[str, dict[int, Trend]]:
    """Per theme and per area: papers per month, undated ones apart, and growth since `since`."""
    groups: dict[str, dict[int, list[str]]] = {
        "themes": {t.id: theme_set.members(t.id) for t in theme_set.themes},
        "areas": {a.id: theme_set.area_members(a.id) for a in theme_set.areas},
    }
    every = [dates.get(pid) for pid in theme_set.assignments]
    overall = sum(1 for d in every if d and since and d >= since) / max(1, len(every))
    out: dict[str, dict[int, Trend]] = {}
    for kind, members in groups.items():
        out[kind] = {}
        for key, ids in members.items():
            counted, undated = months([dates.get(pid) for pid in ids])
            trend = Trend(counted, undated)
            if since is not None:
                trend.since = sum(1 for pid in ids if (dates.get(pid) or "") >= since)
                share = trend.since / max(1, len(ids))
                trend.growth = round(share / overall, 2) if overall else None
            out[kind][key] = trend
        if since is not None:
            ranked = sorted(
                (t for t in out[kind].values() if (t.since or 0) >= RISING_MIN and (t.growth or 0) > 1.0),
                key=lambda t: -(t.growth or 0),
            )
            for trend in ranked[:RISING]:
                trend.rising = True
    return out
