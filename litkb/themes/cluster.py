"""Clustering the papers' embeddings into themes, and the themes into areas.

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

Areas: k-means over the themes' centres, weighed by their sizes (`group_areas`). Representative papers
are the members closest to the theme's centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SMOOTH_NEIGHBOURS = 10  # at most; fewer in a small collection (see smoothing_neighbours)
MAX_MICRO = 200
AUTO_MAX = 1.5  # the automatic choice stays under 1.5·√n themes
LARGEST_SHARE = 0.2  # ... and adds themes while one holds more than this share of the papers
MAX_AREAS = 10
REPRESENTATIVES = 3
_BLOCK = 2048


@dataclass
class Clustering:
    labels: list[int]
    k: int
    criterion: str


def centred(vectors: np.ndarray) -> np.ndarray:
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
    smooth = _smoothed(centred(np.asarray(vectors, dtype=np.float32)), smoothing_neighbours(n))
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
