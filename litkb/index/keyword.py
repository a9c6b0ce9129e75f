"""The keyword index: BM25 over titles and abstracts (Porter stemmer, stop words dropped from queries).

It lives in the knowledge base (`index/bm25/`), is derived from the records, and `litkb index` brings it
up to date. It keeps each paper's term counts, by paper (`counts_*.npy`, for rebuilding) and by term
(`data`, `indices`, `indptr`: column t holds the counts of term t, memory-mapped), each paper's length,
and a content hash per paper, so an update tokenizes only the papers whose title or abstract changed.
The title counts twice.

The BM25 weights depend on the whole collection (document frequencies, average length), so they are
computed at query time, for the query's terms only, from the counts: those of bm25s's default (Lucene)
variant, k1 = 1.5, b = 0.75: for term t in paper d, idf(t) * tf / (tf + k1 * (1 - b + b * len(d) /
avglen)) with idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)) (a test checks them against bm25s itself).
About a millisecond at 20,000 papers (SQLite FTS5 took 20-40 ms), with nothing heavier than numpy.

A small change (up to DELTA_PAPERS papers, or a twentieth of the collection) is written beside the
counts (`delta.json`: the rows it replaces and the changed papers' term counts) instead of rewriting them,
and a query counts both, so the scores are exactly those of an index rebuilt from scratch; the next
larger change folds it in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import IndexDamagedError, IndexMissingError
from ..fsutil import atomic_write_text
from ..models import Paper, searchable_notes
from ..text import stems

TITLE_REPEAT = 2
STATE = "state.json"
DELTA = "delta.json"
LAYOUT = 2  # 2: counts by term and lengths, weighed at query time (1: BM25 weights saved)
DELTA_PAPERS = 200  # changes kept beside the counts (or a twentieth of the papers) before a rewrite
VOCABULARY = "vocabulary.json"
MATRIX = ("data", "indices", "indptr")
K1 = 1.5
B = 0.75
EMPTY = "\u2205"  # the one token of a paper with no words, so every paper has a length
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


class Records(Protocol):
    """What `KeywordIndex.sync` reads of the records (`litkb.index.records.IndexRecords`): every paper's id
    and hash of its title and abstract (`keyword_hash`), and the papers themselves when it needs them."""

    ids: list[str]
    keyword_hashes: dict[str, str]

    def papers(self, ids: Iterable[str]) -> Sequence[Any]: ...


def keyword_hash(paper: Paper) -> str:
    text = f"{paper.title}\x00{paper.abstract or ''}"
    if notes := searchable_notes(paper.notes):  # a paper without notes keeps the hash it always had
        text += f"\x00{notes}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def query_terms(query: str) -> list[str]:
    """The words of a query that count: lower case, stop words and one-letter words dropped, no repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


def tokens(text: str) -> list[str]:
    """The Porter-stemmed words of a text, as the index holds them (stop words kept: they count in a
    document's length)."""
    return stems(_WORD.findall(text.lower()))


def paper_tokens(paper: Paper) -> list[str]:
    """What the index counts of a paper: its title (TITLE_REPEAT times), abstract and notes."""
    return tokens(
        " ".join([paper.title] * TITLE_REPEAT + [paper.abstract or "", searchable_notes(paper.notes)])
    )


class KeywordIndex:
    """BM25 over each paper's title, abstract and notes, saved in a folder of the knowledge base (or over
    other documents with an `id`: `tokenize` gives their words; see `litkb.index.fulltext`)."""

    def __init__(self, directory: Path, tokenize: Callable[[Any], list[str]] | None = None) -> None:
        self.directory = directory
        self.tokenize: Callable[[Any], list[str]] = tokenize or paper_tokens
        self._matrix: _Matrix | None = None

    def _state(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(state, delta) as saved in the current layout, None when there is none (or it cannot be read:
        rebuilt by the next sync)."""
        files = [f"{name}.npy" for name in (*MATRIX, "lengths")] + [f"counts_{name}.npy" for name in MATRIX]
        if not all((self.directory / name).is_file() for name in files):
            return None  # none yet, or an older layout
        try:
            state = json.loads((self.directory / STATE).read_text(encoding="utf-8"))
            if state.get("layout") != LAYOUT or len(state["ids"]) != len(state["hashes"]):
                return None
            delta = read_delta(self.directory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return state, delta

    def stored_hashes(self) -> dict[str, str]:
        """Every paper in the index with the hash of the title and abstract it holds."""
        found = self._state()
        return {} if found is None else live_hashes(*found)

    def sync(self, records: Records) -> bool:
        """Bring the index up to date with `records` (only changed papers are read and tokenized again); say
        whether anything changed."""
        wanted = records.keyword_hashes
        found = self._state()
        stored = {} if found is None else live_hashes(*found)
        if wanted == stored:
            return False
        if found is not None:
            state, delta = found
            changed = {pid for pid, digest in wanted.items() if stored.get(pid) != digest}
            changed |= {pid for pid in stored if pid not in wanted}
            kept = [paper for paper in delta["papers"] if paper["id"] not in changed]
            fresh = records.papers(sorted(changed & wanted.keys()))
            rows = {pid: row for row, pid in enumerate(state["ids"])}
            dead = set(delta["dead"]) | {rows[pid] for pid in changed if pid in rows}
            if len(dead) + len(kept) + len(fresh) <= max(DELTA_PAPERS, len(wanted) // 20):
                added = [
                    {"id": p.id, "hash": wanted[p.id], "terms": term_counts(p, self.tokenize)} for p in fresh
                ]
                write_delta(self.directory, sorted(dead), kept + added)
                self._matrix = None
                return True
        self._rebuild(records, wanted, found)
        return True

    def _rebuild(
        self,
        records: Records,
        wanted: dict[str, str],
        found: tuple[dict[str, Any], dict[str, Any]] | None,
    ) -> None:
        """Write the counts of every paper anew (the unchanged ones taken from the saved counts)."""
        import numpy as np
        import scipy.sparse as sp

        old = self._load_counts() if found is not None else None
        vocabulary: dict[str, int] = dict(old[1]) if old else {}
        kept_ids: list[str] = []
        kept_rows: list[int] = []
        if old is not None and found is not None:
            dead = set(found[1]["dead"])
            hashes = found[0]["hashes"]
            for row, pid in enumerate(old[2]):
                if row not in dead and wanted.get(pid) == hashes[row]:
                    kept_ids.append(pid)
                    kept_rows.append(row)
        keep = set(kept_ids)
        fresh = records.papers(pid for pid in records.ids if pid not in keep)
        words_of: list[Any] = []  # each fresh paper's words as vocabulary numbers (numpy: 4 bytes a word)
        for paper in fresh:
            words = self.tokenize(paper) or [EMPTY]
            found_words = (vocabulary.setdefault(word, len(vocabulary)) for word in words)
            words_of.append(np.fromiter(found_words, dtype=np.int32, count=len(words)))
        size = len(vocabulary)
        rows = np.repeat(np.arange(len(fresh), dtype=np.int32), [len(w) for w in words_of])
        columns = np.concatenate(words_of) if words_of else np.zeros(0, dtype=np.int32)
        del words_of
        counts = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(fresh), size)
        )  # duplicates are summed: term counts
        del rows, columns
        if old is not None and kept_rows:
            kept = old[0][kept_rows]
            old = None  # one copy of the counts at a time: 100,000 papers hold some 100 MB
            kept = sp.csr_matrix((kept.data, kept.indices, kept.indptr), shape=(len(kept_rows), size))
            counts = sp.vstack([kept, counts], format="csr")
            del kept
        ids = kept_ids + [p.id for p in fresh]  # in no particular order: ties are broken by id when ranked
        by_term = counts.tocsc()
        lengths = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        staging = self.directory.with_name(self.directory.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, array in (("data", by_term.data), ("indices", by_term.indices), ("indptr", by_term.indptr)):
            np.save(staging / f"{name}.npy", array)
        for name, array in (("data", counts.data), ("indices", counts.indices), ("indptr", counts.indptr)):
            np.save(staging / f"counts_{name}.npy", array)
        np.save(staging / "lengths.npy", lengths)
        atomic_write_text(staging / VOCABULARY, json.dumps(vocabulary))
        state = {"layout": LAYOUT, "ids": ids, "hashes": [wanted[pid] for pid in ids]}
        atomic_write_text(staging / STATE, json.dumps(state))
        self.drop()
        staging.rename(self.directory)  # swapped in only when complete

    def _load_counts(self) -> tuple[Any, dict[str, int], list[str]] | None:
        """(term counts, vocabulary, paper ids) as saved, or None when they cannot be read (rebuilt)."""
        import numpy as np
        import scipy.sparse as sp

        try:
            arrays = [np.load(self.directory / f"counts_{name}.npy") for name in MATRIX]
            vocabulary = json.loads((self.directory / VOCABULARY).read_text(encoding="utf-8"))
            ids = json.loads((self.directory / STATE).read_text(encoding="utf-8"))["ids"]
            counts = sp.csr_matrix(tuple(arrays), shape=(len(ids), len(vocabulary)))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return counts, vocabulary, ids

    def drop(self) -> None:
        self._matrix = None
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.directory)

    def _load(self) -> _Matrix:
        if self._matrix is None:
            import numpy as np

            if not (self.directory / STATE).exists():
                raise IndexMissingError("the knowledge base has no keyword index yet; run `litkb index`")
            try:
                state = json.loads((self.directory / STATE).read_text(encoding="utf-8"))
                arrays = [np.load(self.directory / f"{name}.npy", mmap_mode="r") for name in MATRIX]
                # layout 1 (an older litkb's, until the next `litkb index`): the weights themselves
                lengths = np.load(self.directory / "lengths.npy") if state.get("layout") == LAYOUT else None
                vocabulary = json.loads((self.directory / VOCABULARY).read_text(encoding="utf-8"))
                delta = read_delta(self.directory)
                matrix = _Matrix(arrays, lengths, vocabulary, state["ids"], delta)
            except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                raise IndexDamagedError(
                    f"the keyword index in {self.directory} is damaged ({exc}); run `litkb doctor --repair`",
                    reason=f"the keyword index is damaged ({exc})",
                ) from exc
            self._matrix = matrix
        return self._matrix

    def saved_ids(self) -> list[str]:
        """The id of each row of the saved counts (not of the changes beside them), in row order."""
        matrix = self._load()
        return matrix.ids[: len(matrix.ids) - len(matrix.added)]

    def search(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Up to `limit` (id, BM25 score) pairs with a score above 0, best first (ties by id)."""
        return self.scores(query).top(limit)

    def scores(self, query: str) -> KeywordScores:
        """Every paper's BM25 score for `query`."""
        matrix = self._load()
        terms = stems(query_terms(query))
        return KeywordScores(matrix, matrix.scores(terms), terms)


def live_hashes(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, str]:
    """Each paper's hash: the saved counts' less the rows the delta replaced, plus the delta's."""
    dead = set(delta["dead"])
    pairs = enumerate(zip(state["ids"], state["hashes"], strict=True))
    hashes = {pid: h for row, (pid, h) in pairs if row not in dead}
    hashes.update((paper["id"], paper["hash"]) for paper in delta["papers"])
    return hashes


def term_counts(paper: Any, tokenize: Callable[[Any], list[str]] | None = None) -> dict[str, int]:
    found: dict[str, int] = {}
    for word in (tokenize or paper_tokens)(paper) or [EMPTY]:
        found[word] = found.get(word, 0) + 1
    return found


def read_delta(directory: Path) -> dict[str, Any]:
    """The small changes saved beside the counts: `dead` (rows of the counts no longer in the index) and
    `papers` (id, hash, terms: counts), empty when there are none."""
    try:
        delta = json.loads((directory / DELTA).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"dead": [], "papers": []}
    if not isinstance(delta, dict) or not isinstance(delta.get("papers"), list):
        raise ValueError(f"{DELTA} is not a record of changes")
    return {"dead": [int(row) for row in delta["dead"]], "papers": delta["papers"]}


def write_delta(directory: Path, dead: list[int], papers: list[dict[str, Any]]) -> None:
    atomic_write_text(directory / DELTA, json.dumps({"dead": dead, "papers": papers}, separators=(",", ":")))


class KeywordScores:
    """The BM25 scores of every paper for one query."""

    def __init__(self, matrix: _Matrix, scores: Any, terms: Sequence[str] = ()) -> None:
        self._matrix = matrix
        self._scores = scores
        self.terms = list(terms)

    def possible(self) -> float:
        """The most a document could score for the query here (every term, many times: idf x (k1 + 1)),
        which puts the scores of two collections on one scale (`litkb.index.fullrank`)."""
        matrix = self._matrix
        total = 0.0
        for term in self.terms:
            column = matrix.vocabulary.get(term)
            if column is not None and not matrix.weighed:
                frequency = int(matrix.indptr[column + 1]) - int(matrix.indptr[column])
                total += float(inverse_frequency(matrix.papers, max(frequency, 1))) * (K1 + 1)
        return total

    @property
    def matrix(self) -> _Matrix:
        return self._matrix

    @property
    def values(self) -> Any:
        """Every row's score (rows as `matrix.ids`)."""
        return self._scores

    def of(self, paper_id: str) -> float:
        """One paper's score (0 for a paper not in the index)."""
        row = self._matrix.position().get(paper_id)
        return 0.0 if row is None else float(self._scores[row])

    def top(self, limit: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Up to `limit` (id, score) pairs with a score above 0 (of the `allowed` papers only, when
        given), best first (ties by id)."""
        import numpy as np

        ids = self._matrix.ids
        found = np.flatnonzero(self._scores > 0)
        if allowed is not None:
            found = found[[ids[int(d)] in allowed for d in found]] if len(found) else found
        if len(found) > limit:  # the papers above the limit-th score, and of those at it the first by id
            scores = self._scores[found]
            threshold = -np.partition(-scores, limit - 1)[limit - 1]
            above = found[scores > threshold]
            tied = sorted(found[scores == threshold].tolist(), key=lambda d: ids[d])
            found = np.concatenate([above, tied[: limit - len(above)]]).astype(np.int64)
        hits = [(ids[int(d)], float(self._scores[d])) for d in found]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))


def inverse_frequency(papers: int, frequency: Any) -> Any:
    """BM25's idf of a term held by `frequency` of `papers` papers (a number or an array)."""
    import numpy as np

    return np.log(1 + (papers - frequency + 0.5) / (frequency + 0.5))


def bm25(tf: Any, lengths: Any, frequency: int, papers: int, average: float) -> Any:
    """The BM25 weights of one term in the papers that hold it (`tf` times, of `lengths` words), held by
    `frequency` of `papers` papers of `average` length."""
    idf = inverse_frequency(papers, frequency)
    return idf * tf / (tf + K1 * ((1 - B) + B * lengths / average))


class _Matrix:
    """The saved counts: column t of the (paper x term) matrix is `data[indptr[t]:indptr[t+1]]` at rows
    `indices[...]`; rows in `delta["dead"]` left out, `delta["papers"]` as rows after the saved ones."""

    def __init__(
        self,
        arrays: list[Any],
        lengths: Any | None,
        vocabulary: dict[str, int],
        ids: list[str],
        delta: dict[str, Any],
    ) -> None:
        import numpy as np

        self.data, self.indices, self.indptr = arrays
        self.weighed = lengths is None  # layout 1: `data` holds the BM25 weights (and there is no delta)
        self.vocabulary = vocabulary
        self.added = [] if self.weighed else delta["papers"]
        self.ids = list(ids) + [str(paper["id"]) for paper in self.added]
        added = np.asarray([sum(paper["terms"].values()) for paper in self.added], dtype=np.float32)
        self.lengths = added if lengths is None else np.concatenate([lengths, added]).astype(np.float32)
        self.dead = np.zeros(len(self.ids), dtype=bool)
        if not self.weighed:
            self.dead[np.asarray(delta["dead"], dtype=np.int64)] = True
        self.any_dead = bool(self.dead.any())
        self.papers = int(len(self.ids) - self.dead.sum())
        live = self.lengths if self.weighed else self.lengths[~self.dead]
        self.average = float(live.sum()) / max(self.papers, 1)
        self._position: dict[str, int] | None = None

    def scores(self, terms: Sequence[str]) -> Any:
        """Every row's BM25 score for these (stemmed) terms."""
        import numpy as np

        scores = np.zeros(len(self.ids), dtype=np.float32)
        base = len(self.ids) - len(self.added)
        # A stem that two query words share counts once for each (as in bm25s and Lucene).
        for term, times in Counter(terms).items():
            rows = np.zeros(0, dtype=np.int64)
            tf = np.zeros(0, dtype=np.float32)
            column = self.vocabulary.get(term)
            if column is not None:  # the papers holding it and how often
                start, end = int(self.indptr[column]), int(self.indptr[column + 1])
                rows, tf = np.asarray(self.indices[start:end]), np.asarray(self.data[start:end])
                if self.weighed:
                    np.add.at(scores, rows, tf * times)
                    continue
                if self.any_dead:
                    live = ~self.dead[rows]
                    rows, tf = rows[live], tf[live]
            extra = [
                (base + i, paper["terms"][term])
                for i, paper in enumerate(self.added)
                if term in paper["terms"]
            ]
            if extra:
                rows = np.concatenate([rows, np.asarray([row for row, _ in extra], dtype=np.int64)])
                tf = np.concatenate([tf, np.asarray([count for _, count in extra], dtype=np.float32)])
            if len(rows):
                weights = bm25(tf, self.lengths[rows], len(rows), self.papers, self.average) * times
                np.add.at(scores, rows, weights.astype(np.float32))
        return scores

    def position(self) -> dict[str, int]:
        """The row of each paper (the live one, for a paper changed since the counts were saved)."""
        if self._position is None:
            self._position = {pid: row for row, pid in enumerate(self.ids) if not self.dead[row]}
        return self._position
