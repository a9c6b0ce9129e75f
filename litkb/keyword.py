"""The keyword index: BM25 over titles and abstracts, in SQLite FTS5 inside the knowledge base.

Porter stemming comes from FTS5's tokenizer; stop words are dropped from queries. The index is derived from
the records (`index/keyword.sqlite`), updated with them by `litkb index` (a content hash per paper), and
rebuilt from them when missing.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import LitkbError
from .models import Paper

TITLE_WEIGHT = 2.0
ABSTRACT_WEIGHT = 1.0
_WORD = re.compile(r"\w+", re.UNICODE)

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves whether via may might must shall within without upon among
    """.split()
)


def keyword_hash(paper: Paper) -> str:
    return hashlib.sha256(f"{paper.title}\x00{paper.abstract or ''}".encode()).hexdigest()[:32]


def query_terms(query: str) -> list[str]:
    """The words of a query that count: lower case, stop words and one-letter words dropped, no repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


class KeywordIndex:
    """BM25 (FTS5, Porter stemmer) over each paper's title and abstract."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _connect(self, create: bool) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            raise LitkbError("the knowledge base has no keyword index yet; run `litkb index`")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path)
            db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5("
                "id UNINDEXED, title, abstract, tokenize='porter unicode61 remove_diacritics 2')"
            )
            db.execute("CREATE TABLE IF NOT EXISTS state (id TEXT PRIMARY KEY, hash TEXT NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise LitkbError(
                f"the keyword index {self.path} is damaged ({exc}); run `litkb index --rebuild`"
            ) from exc
        self._db = db
        return db

    def exists(self) -> bool:
        return self.path.exists()

    def stored_hashes(self) -> dict[str, str]:
        db = self._connect(create=True)
        return dict(db.execute("SELECT id, hash FROM state").fetchall())

    def update(self, papers: Iterable[tuple[Paper, str]], gone: Sequence[str]) -> None:
        """Add or replace papers (with their keyword hashes) and remove `gone`, in one transaction."""
        db = self._connect(create=True)
        with db:
            for paper_id in gone:
                db.execute("DELETE FROM docs WHERE id = ?", (paper_id,))
                db.execute("DELETE FROM state WHERE id = ?", (paper_id,))
            for paper, digest in papers:
                db.execute("DELETE FROM docs WHERE id = ?", (paper.id,))
                db.execute(
                    "INSERT INTO docs (id, title, abstract) VALUES (?, ?, ?)",
                    (paper.id, paper.title, paper.abstract or ""),
                )
                db.execute("INSERT OR REPLACE INTO state (id, hash) VALUES (?, ?)", (paper.id, digest))

    def drop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self.path.unlink(missing_ok=True)

    def search(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Up to `limit` (id, BM25 score) pairs, best first; higher is better."""
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        db = self._connect(create=False)
        rows = db.execute(
            "SELECT id, bm25(docs, 0.0, ?, ?) AS score FROM docs WHERE docs MATCH ? "
            "ORDER BY score, id LIMIT ?",
            (TITLE_WEIGHT, ABSTRACT_WEIGHT, match, limit),
        ).fetchall()
        return [(paper_id, -float(score)) for paper_id, score in rows]
