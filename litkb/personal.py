"""What a researcher adds to their knowledge base: saved searches, and `next`, the unread papers that fit
what they liked and read.

`next` is arxiv-sanity's idea: a linear SVM over the papers' own vectors with the liked and read papers as
positives and every other paper (the disliked ones weighted more) as negatives; unread papers are ranked by
its decision value, each with the liked or read papers it is closest to.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import LitkbError, NotFoundError, NothingLikedError, UsageError
from .filters import PaperFilter
from .fsutil import atomic_write_text
from .models import Paper

if TYPE_CHECKING:
    import numpy as np

SAVED_FILE = "saved-searches.yaml"
DISLIKE_WEIGHT = 3.0
SECOND_WITHIN = 0.02  # a second "because" paper is named when its cosine is this close to the first's


@dataclass
class Suggestion:
    id: str
    score: float  # the classifier's decision value: orders the suggestions, not meant to be read
    because: list[str]  # the liked/read paper it is closest to (and a second one nearly as close)
    similarity: float = 0.0  # cosine to the closest liked/read paper: what a reader can judge


_FITTED: dict[Any, Any] = {}


def rank_next(
    ids: list[str], matrix: np.ndarray, positives: set[str], negatives: set[str], candidates: set[str], k: int
) -> list[Suggestion]:
    """The `k` candidates the classifier puts highest, best first."""
    import numpy as np
    from sklearn.svm import LinearSVC

    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    labels = np.array([1 if pid in positives else 0 for pid in ids])
    weights = np.array([DISLIKE_WEIGHT if pid in negatives else 1.0 for pid in ids])
    if labels.sum() == 0 or labels.sum() == len(ids):
        return []
    key = (tuple(ids), frozenset(positives), frozenset(negatives), unit.shape, float(np.asarray(unit).sum()))
    scores = _FITTED.get(key)
    if scores is None:  # the same papers, vectors and marks give the same scores: fit once
        svm = LinearSVC(C=0.1, class_weight="balanced", random_state=0, max_iter=10000)
        svm.fit(unit, labels, sample_weight=weights)
        scores = svm.decision_function(unit)
        _FITTED.clear()  # one fit kept: a server's inbox asks again until a mark changes
        _FITTED[key] = scores
    liked_rows = [i for i, pid in enumerate(ids) if pid in positives]
    order = [i for i in np.lexsort((np.array(ids), -scores)) if ids[i] in candidates][:k]
    out = []
    for i in order:
        sims = unit[liked_rows] @ unit[i]
        ranked = np.argsort(-sims)
        best = float(sims[ranked[0]])
        # The closest liked/read paper, and a second only when it is nearly as close.
        closest = [ids[liked_rows[j]] for j in ranked[:2] if float(sims[j]) >= best - SECOND_WITHIN]
        out.append(
            Suggestion(
                id=ids[i], score=round(float(scores[i]), 4), because=closest, similarity=round(best, 3)
            )
        )
    return out


def awaiting(paper: Paper) -> bool:
    """A paper `next` and the web inbox offer: unread (see UNREAD) and not rated yet."""
    return paper.unread and paper.rating is None


def suggest(
    papers: Sequence[Paper],
    own_vectors: Callable[[list[str]], tuple[list[str], np.ndarray]],
    k: int,
    where: PaperFilter | None = None,
) -> list[tuple[Paper, Suggestion]]:
    """Unread papers (of those `where` lets through) ranked by fit to the liked and read ones
    (`own_vectors`: the papers' own vectors)."""
    positives = {p.id for p in papers if p.rating == "like" or (p.status == "read" and p.rating != "dislike")}
    if not positives:
        raise NothingLikedError(
            "nothing liked or read yet; mark papers with `litkb like` or `litkb mark PAPER read`"
        )
    negatives = {p.id for p in papers if p.rating == "dislike"}
    candidates = {p.id for p in papers if awaiting(p) and (where is None or where(p))}
    ids, matrix = own_vectors([p.id for p in papers])
    by_id = {p.id: p for p in papers}
    return [(by_id[s.id], s) for s in rank_next(ids, matrix, positives, negatives, candidates, k)]


def suggestion_objects(found: Sequence[tuple[Paper, Suggestion]]) -> list[dict[str, Any]]:
    """`next`'s suggestions as `litkb next --json` prints them (and the web API returns them)."""
    return [
        {"rank": i, "id": p.id, "title": p.title, "year": p.year, "score": s.score,
         "similarity": s.similarity, "because": s.because}
        for i, (p, s) in enumerate(found, start=1)
    ]  # fmt: skip


def newest_objects(papers: Sequence[Paper]) -> list[dict[str, Any]]:
    """Papers as `next --json` prints them while nothing is liked or read: no score, nothing to be like."""
    return [
        {"rank": i, "id": p.id, "title": p.title, "year": p.year, "score": None, "similarity": None,
         "because": []}
        for i, p in enumerate(papers, start=1)
    ]  # fmt: skip


class SavedSearches:
    """Named searches kept in `saved-searches.yaml` in the knowledge base."""

    def __init__(self, root: Path) -> None:
        self.path = root / SAVED_FILE

    def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise LitkbError(f"{self.path}: cannot read the saved searches ({exc})") from exc
        if not isinstance(data, dict):
            raise LitkbError(f"{self.path}: expected a mapping of names to searches")
        return data

    def save(self, name: str, search: dict[str, Any], force: bool = False) -> bool:
        """Save a search under `name`; True when it replaced one (only with `force`)."""
        if not name.strip():
            raise UsageError("a saved search needs a name")
        data = self.load()
        replaced = name in data
        if replaced and not force:
            raise UsageError(f"a search is already saved as '{name}'; use --force to replace it")
        data[name] = search
        atomic_write_text(self.path, yaml.safe_dump(data, sort_keys=True, allow_unicode=True))
        return replaced

    def remove(self, name: str) -> None:
        data = self.load()
        if name not in data:
            self.get(name)  # the error that names the saved ones
        del data[name]
        atomic_write_text(self.path, yaml.safe_dump(data, sort_keys=True, allow_unicode=True))

    def get(self, name: str) -> dict[str, Any]:
        data = self.load()
        if name not in data:
            known = ", ".join(sorted(data)) or "none yet"
            raise NotFoundError(
                f"no saved search '{name}' (saved: {known}); save one with search --save NAME"
            )
        return data[name]


def saved_form(query: str, k: int, mode: str, where: PaperFilter) -> dict[str, Any]:
    """A search as `saved-searches.yaml` keeps it: the query, -k, the mode, and the filter options as they
    were typed."""
    return {"query": query, "k": k, "mode": mode, **where.typed}


def saved_query(search: dict[str, Any]) -> tuple[str, int, str]:
    """The query, -k and mode a saved search asks for."""
    return str(search["query"]), int(search.get("k", 10)), str(search.get("mode", "hybrid"))


def saved_filter(search: dict[str, Any]) -> PaperFilter:
    """The filter a saved search asks for."""
    return PaperFilter.from_options(
        search.get("year"), search.get("since"), search.get("min_upvotes"), search.get("tag", []),
        search.get("author", []), search.get("source", []), search.get("status", []),
        search.get("theme"), search.get("area"),
    )  # fmt: skip


def options_text(search: dict[str, Any]) -> str:
    """A saved search's options as they are typed: `-k 3 --mode semantic --tag a --tag b`."""
    words = []
    for key, value in search.items():
        if key == "query":
            continue
        flag = "-k" if key == "k" else f"--{key.replace('_', '-')}"
        for item in value if isinstance(value, list) else [value]:
            words.append(f"{flag} {shlex.quote(str(item))}")
    return " ".join(words)
