"""What a researcher adds to their knowledge base: saved searches, and `next`, the unread papers that fit
what they liked and read.

`next` is arxiv-sanity's idea: a linear SVM over the papers' own vectors with the liked and read papers as
positives and every other paper (the disliked ones weighted more) as negatives; unread papers are ranked by
its decision value, each with the liked or read papers it is closest to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import LitkbError, NotFoundError
from .fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

SAVED_FILE = "saved-searches.yaml"
DISLIKE_WEIGHT = 3.0


@dataclass
class Suggestion:
    id: str
    score: float
    because: list[str]  # ids of the liked/read papers it is closest to


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
    svm = LinearSVC(C=0.1, class_weight="balanced", random_state=0, max_iter=10000)
    svm.fit(unit, labels, sample_weight=weights)
    scores = svm.decision_function(unit)
    liked_rows = [i for i, pid in enumerate(ids) if pid in positives]
    order = [i for i in np.lexsort((np.array(ids), -scores)) if ids[i] in candidates][:k]
    out = []
    for i in order:
        sims = unit[liked_rows] @ unit[i]
        closest = [ids[liked_rows[j]] for j in np.argsort(-sims)[:2]]
        out.append(Suggestion(id=ids[i], score=round(float(scores[i]), 4), because=closest))
    return out


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

    def save(self, name: str, search: dict[str, Any]) -> None:
        if not name.strip():
            raise LitkbError("a saved search needs a name")
        data = self.load()
        data[name] = search
        atomic_write_text(self.path, yaml.safe_dump(data, sort_keys=True, allow_unicode=True))

    def get(self, name: str) -> dict[str, Any]:
        data = self.load()
        if name not in data:
            known = ", ".join(sorted(data)) or "none yet"
            raise NotFoundError(
                f"no saved search '{name}' (saved: {known}); save one with search --save NAME"
            )
        return data[name]
