"""The passage snapshot in parts: a change writes its papers as a new segment and leaves the others' files
as they were; segments are merged when they grow; every way of reading it gives what a snapshot written
whole from the same vectors gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.doctor import diagnose
from litkb.index import records as records_view
from litkb.index import snapshot as snapshots
from litkb.index.build import IndexReport
from litkb.index.records import IndexRecords
from litkb.store import RecordStore
from tests.conftest import run

QUERIES = ("memory", "reinforcement learning for reasoning", "video generation", "speculative decoding")


def catalog(kb: Path) -> dict:
    return json.loads((kb / "index" / "passages.json").read_text())


def answers(kb: Path) -> list[list[tuple[str, float]]]:
    base = KnowledgeBase.open(kb)
    return [
        [(hit["id"], round(hit["score"], 5)) for hit in base.search(q, k=10, mode=mode)]
        for q in QUERIES
        for mode in ("semantic", "hybrid")
    ]


def change_abstract(kb: Path, title: str, text: str) -> str:
    base = KnowledgeBase.open(kb)
    paper = base.get(title)
    paper.abstract = text
    base.store.save_many([paper])
    return paper.id


def test_one_changed_abstract_writes_a_segment_of_its_own(
    runner: CliRunner, loaded: Path, tmp_path: Path
) -> None:
    assert run(runner, loaded, "index").exit_code == 0
    first = catalog(loaded)["segments"]
    assert len(first) == 1 and len(first[0]["papers"]) == 69
    base_files = sorted((loaded / "index").glob("passages-*.npy"))
    stamps = {p.name: p.stat().st_mtime_ns for p in base_files}
    pid = change_abstract(
        loaded, "Hopfield Networks is All You Need", "Associative memory. Two sentences now."
    )
    done = run(runner, loaded, "index")
    assert done.exit_code == 0 and "embedded 1 (3 passages)" in done.stderr, done.stderr
    parts = catalog(loaded)["segments"]
    assert len(parts) == 2 and parts[1]["papers"] == [pid] and parts[1]["counts"] == [3]
    assert parts[0]["dead"] == [first[0]["papers"].index(pid)]
    assert {p.name: p.stat().st_mtime_ns for p in base_files} == stamps  # the old files untouched
    # the same answers as a snapshot written whole from the same vectors
    whole = tmp_path / "whole"
    shutil.copytree(loaded, whole)
    base = KnowledgeBase.open(whole)
    base.vectors.write_snapshot(base.vectors.stored_hashes())
    assert len(catalog(whole)["segments"]) == 1
    assert answers(loaded) == answers(whole)
    snapshot = KnowledgeBase.open(loaded).vectors.current_snapshot()
    assert snapshot is not None and snapshot.passage_count == KnowledgeBase.open(loaded).vectors.count()
    owners, numbers, matrix = snapshot.rows([pid])
    assert owners == [pid] * 3 and numbers == [0, 1, 2] and matrix.dtype == np.float32
    # rows of papers from both segments, gathered at once: each paper's vectors, in the order asked
    some = [snapshot.papers[5], pid, "no-such-paper", snapshot.papers[0]]
    owners, numbers, matrix = snapshot.rows(some)
    held = [p for p in some if p in snapshot.where]
    expected = [snapshot.segments[s].vectors(i) for s, i in (snapshot.where[p] for p in held)]
    assert np.array_equal(matrix, np.concatenate(expected))
    assert owners == [p for p, v in zip(held, expected, strict=True) for _ in v]
    assert numbers == [n for v in expected for n in range(len(v))]


def test_segments_are_merged_when_they_grow_and_removed_papers_leave(
    runner: CliRunner, loaded: Path, tmp_path: Path
) -> None:
    assert run(runner, loaded, "index").exit_code == 0
    titles = [p.title for p in KnowledgeBase.open(loaded).papers()]
    first = catalog(loaded)["segments"][0]["name"]
    first_files = sorted((loaded / "index").glob(f"passages-{first}.*.npy"))
    stamps = {p.name: p.stat().st_mtime_ns for p in first_files}
    seen = []
    for i, title in enumerate(titles[: snapshots.MAX_SEGMENTS + 2]):
        change_abstract(loaded, title, f"Changed {i}. A sentence about topic {i}.")
        assert run(runner, loaded, "index").exit_code == 0
        seen.append(len(catalog(loaded)["segments"]))
    # when there would have been more than MAX_SEGMENTS, those past the first are merged into one beside it,
    # whose files stay as they were (its changed papers' rows marked dead)
    assert seen == [*range(2, snapshots.MAX_SEGMENTS + 1), 2, 3, 4], seen
    assert catalog(loaded)["segments"][0]["name"] == first
    assert len(catalog(loaded)["segments"][0]["dead"]) == snapshots.MAX_SEGMENTS + 2
    assert {p.name: p.stat().st_mtime_ns for p in first_files} == stamps
    assert len(catalog(loaded)["segments"][1]["papers"]) == snapshots.MAX_SEGMENTS
    whole = tmp_path / "whole"  # the same answers as a snapshot written whole from the same vectors
    shutil.copytree(loaded, whole)
    base = KnowledgeBase.open(whole)
    base.vectors.write_snapshot(base.vectors.stored_hashes())
    assert len(catalog(whole)["segments"]) == 1 and answers(loaded) == answers(whole)
    # all merged into one when the segments past the first hold over a quarter of the rows
    for i, title in enumerate(titles[snapshots.MAX_SEGMENTS + 2 : 30]):
        change_abstract(loaded, title, " ".join(f"Sentence {j} on topic {i}." for j in range(12)))
    assert run(runner, loaded, "index").exit_code == 0
    parts = catalog(loaded)["segments"]
    assert len(parts) == 1 and parts[0]["name"] != first and not parts[0].get("dead")
    assert len(parts[0]["papers"]) == 69
    files = {p.name for p in (loaded / "index").glob("passages-*")}  # only the files the catalog names
    assert files == {
        f"passages-{s['name']}.{k}.npy" for s in catalog(loaded)["segments"] for k in ("first", "rest")
    }
    # a removed paper's rows are dead: no search returns it, and the doctor finds nothing wrong
    gone = KnowledgeBase.open(loaded).get(titles[20])
    assert run(runner, loaded, "rm", gone.id).exit_code == 0
    assert run(runner, loaded, "index").exit_code == 0
    kb = KnowledgeBase.open(loaded)
    assert gone.id not in kb.vectors.current_snapshot().papers
    assert all(
        gone.id not in [h["id"] for h in kb.search(gone.title, k=68, mode=m)] for m in ("semantic", "hybrid")
    )
    assert [f for f in diagnose(kb) if f.level != "ok"] == []


def test_a_damaged_segment_is_an_error_that_names_the_repair(runner: CliRunner, loaded: Path) -> None:
    assert run(runner, loaded, "index").exit_code == 0
    segment = catalog(loaded)["segments"][0]["name"]
    (loaded / "index" / f"passages-{segment}.rest.npy").write_bytes(b"garbage")
    result = run(runner, loaded, "search", "memory")
    assert result.exit_code != 0 and "litkb doctor" in result.stderr and "Traceback" not in result.stderr
    assert run(runner, loaded, "doctor", "--repair").exit_code == 0
    assert run(runner, loaded, "search", "memory").exit_code == 0


def test_a_small_change_waits_for_chroma_without_loading_it(loaded: Path, tmp_path: Path) -> None:
    """A few changed papers go to the snapshot only (no chromadb import); the index's counts and hashes
    already include them; the next larger `litkb index` writes them to Chroma too."""
    import subprocess
    import sys

    pid = change_abstract(loaded, "Hopfield Networks is All You Need", "Associative memory, revisited.")
    probe = (
        "import sys; from litkb import KnowledgeBase; r = KnowledgeBase.open(sys.argv[1]).index(); "
        "print(r.summary(), 'chromadb' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(loaded)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("False") and "embedded 1 (2 passages)" in done.stdout, done.stdout
    kb = KnowledgeBase.open(loaded)
    assert kb.vectors.deferred() == {pid}
    wanted = kb.vectors.current_snapshot().hash_map()
    assert kb.vectors.chroma.stored_hashes()[pid] != wanted[pid]  # Chroma has not seen it yet
    assert kb.vectors.stored_hashes() == wanted  # what the index holds, all told
    assert kb.vectors.count() == kb.vectors.current_snapshot().passage_count
    assert [f for f in diagnose(kb) if f.level != "ok"] == []
    assert KnowledgeBase.open(loaded).search("associative memory revisited", k=1)[0]["id"] == pid
    # a larger change (more than DEFER_PASSAGES passages) brings Chroma up to date first
    many = tmp_path / "many.jsonl"
    many.write_text(
        "".join(json.dumps({"title": f"Paper {i}", "abstract": "One. Two. Three."}) + "\n" for i in range(30))
    )
    assert KnowledgeBase.open(loaded).ingest([str(many)]).imported == 30
    KnowledgeBase.open(loaded).index()
    kb = KnowledgeBase.open(loaded)
    assert kb.vectors.deferred() == set()
    assert kb.vectors.chroma.stored_hashes() == kb.vectors.current_snapshot().hash_map()
    assert kb.vectors.chroma.count() == kb.vectors.current_snapshot().passage_count


def shard_contents(kb: Path) -> dict[str, list[str]]:
    """The papers in each local collection of the index, read with chromadb itself."""
    import chromadb

    from litkb.index.chroma import chroma_settings, forget_clients

    forget_clients()
    client = chromadb.PersistentClient(path=str(kb / "index" / "chroma"), settings=chroma_settings(True))
    found = {
        c.name: sorted(
            {m["paper"] for m in client.get_collection(c.name).get(include=["metadatas"])["metadatas"]}
        )
        for c in client.list_collections()
    }
    forget_clients()
    return found


def test_a_large_local_index_is_kept_in_shards_touched_one_at_a_time(
    runner: CliRunner, loaded: Path, tmp_path: Path, monkeypatch
) -> None:
    """With small shards (60 vectors), the 69 papers' passages spread over several collections, each paper
    in one; searches, changes, removals, a snapshot read back from Chroma and a rebuild give what one
    collection gives."""
    from litkb.index import build, shards

    whole = tmp_path / "whole"  # indexed in one collection
    shutil.copytree(loaded, whole)
    monkeypatch.setattr(shards, "SHARD_ROWS", 60)
    monkeypatch.setattr(build, "DEFER_PASSAGES", 0)  # every change goes to Chroma at once
    assert run(runner, loaded, "index", "--rebuild").exit_code == 0
    listed = json.loads((loaded / "index" / shards.SHARDS_FILE).read_text())
    held = shard_contents(loaded)
    assert sorted(held) == sorted(listed["names"]) and len(held) >= 5
    everyone = [pid for papers in held.values() for pid in papers]
    assert len(everyone) == len(set(everyone)) == 69  # each paper in exactly one shard
    first = listed["names"][0]
    assert all(held[listed["names"][i]].count(pid) == 1 for pid, i in listed["papers"].items())
    assert set(held[first]) == set(everyone) - set(listed["papers"])
    assert max(listed["rows"]) <= 60 + 12  # full shards stop taking papers (a paper is not split)
    assert answers(loaded) == answers(whole)

    # a changed abstract and a removed record, in both knowledge bases
    from litkb.index.chroma import ChromaStore

    opened: list[str] = []
    real_open = ChromaStore.open

    def open_and_note(self, create, check_model=True, name=None):  # type: ignore[no-untyped-def]
        opened.append(name or self.collection_name)
        return real_open(self, create, check_model, name)

    monkeypatch.setattr(ChromaStore, "open", open_and_note)
    for kb in (loaded, whole):
        changed = change_abstract(kb, "Hopfield Networks is All You Need", "Associative memory. Two now.")
        gone = sorted(KnowledgeBase.open(kb).papers(), key=lambda p: p.id)[10]
        (kb / "records" / f"{gone.id}.yaml").unlink()
        opened.clear()
        assert run(runner, kb, "index").exit_code == 0
        if kb == loaded:  # only the shards of the two papers and the last, where the new vectors go
            names = listed["names"]
            wanted = {names[listed["papers"].get(pid, 0)] for pid in (changed, gone.id)} | {names[-1]}
            assert set(opened) == wanted, (opened, wanted)
    held = shard_contents(loaded)
    everyone = [pid for papers in held.values() for pid in papers]
    assert len(everyone) == len(set(everyone)) == 68 and gone.id not in everyone
    assert answers(loaded) == answers(whole)
    kb = KnowledgeBase.open(loaded)
    assert kb.vectors.chroma.count() == kb.vectors.current_snapshot().passage_count
    assert kb.vectors.chroma.stored_hashes() == kb.vectors.current_snapshot().hash_map()
    assert [f for f in diagnose(kb) if f.level != "ok"] == []

    # the snapshot lost: read back from every shard; then searches through Chroma alone agree too
    for path in (loaded / "index").glob("passages*"):
        path.unlink()
    assert run(runner, loaded, "index").exit_code == 0
    assert answers(loaded) == answers(whole)
    kb = KnowledgeBase.open(loaded)
    hits = [pid for pid, _ in kb.vectors.query(kb.parts.encoders.query.encode(["memory"])[0], 5)]
    for path in (loaded / "index").glob("passages*"):
        path.unlink()
    kb = KnowledgeBase.open(loaded)
    assert kb.vectors.current_snapshot() is None
    assert [pid for pid, _ in kb.vectors.query(kb.parts.encoders.query.encode(["memory"])[0], 5)] == hits

    # a rebuild drops every shard, whatever is left
    assert run(runner, loaded, "index", "--rebuild").exit_code == 0
    held = shard_contents(loaded)
    assert sum(len(papers) for papers in held.values()) == 68
    assert sorted(held) == sorted(json.loads((loaded / "index" / shards.SHARDS_FILE).read_text())["names"])


def test_an_index_run_reads_only_the_records_whose_files_changed(
    runner: CliRunner, loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`litkb index` keeps each record's hashes under its file's key: a later run reads only the records
    whose files changed (through litkb or by hand, replaced or edited in place), and the index then holds
    what reading every record gives."""
    read: list[str] = []
    real_load, real_load_all = RecordStore.load, RecordStore.load_all
    monkeypatch.setattr(RecordStore, "load", lambda self, pid: read.append(pid) or real_load(self, pid))
    monkeypatch.setattr(RecordStore, "load_all", lambda self: read.append("*") or real_load_all(self))

    warnings: list[str] = []

    def index() -> IndexReport:
        read.clear()
        kb = KnowledgeBase.open(loaded)
        report = kb.index()
        warnings[:] = kb.warnings
        return report

    def holds_what_the_records_say() -> bool:
        kb = KnowledgeBase.open(loaded)
        every = IndexRecords.of(kb.papers(), kb.vectors.model)
        snapshot = kb.vectors.current_snapshot()
        return (
            snapshot is not None
            and snapshot.hash_map() == every.vector_hashes
            and kb.keywords.stored_hashes() == every.keyword_hashes
        )

    assert index().embedded == 0 and read == []  # the fixture's run kept the hashes
    monkeypatch.setattr(records_view, "REWRITE_AFTER", 0)  # the cache rewritten after every change
    pid = change_abstract(loaded, "Hopfield Networks is All You Need", "Associative memory. Two now.")
    by_hand = KnowledgeBase.open(loaded).get("Bridging Internal Probability and Self-Consistency").id
    path = loaded / "records" / f"{by_hand}.yaml"
    inode, text = path.stat().st_ino, path.read_text(encoding="utf-8")
    with path.open("r+", encoding="utf-8") as handle:  # in place, as some editors save
        handle.write(text.replace("title: ", "title: Edited ", 1))
    assert path.stat().st_ino == inode
    report = index()
    assert report.embedded == 2 and sorted(read) == sorted([pid, by_hand]), (report, read)
    assert holds_what_the_records_say()
    assert index().embedded == 0 and read == []  # nothing changed: nothing read

    # an unreadable record is named, and keeps its vectors until it is fixed
    path.write_text("title: [unclosed\n", encoding="utf-8")
    report = index()
    assert report.deleted == 0 and report.embedded == 0 and read == [by_hand]
    assert [w for w in warnings if str(path) in w and "invalid YAML" in w], warnings
    assert by_hand in KnowledgeBase.open(loaded).vectors.current_snapshot().papers
    path.write_text(text, encoding="utf-8")
    assert index().embedded == 1 and read == [by_hand] and not warnings
    assert holds_what_the_records_say()

    # many changes: every record read at once, through the records' cache
    monkeypatch.setattr(records_view, "READ_ONE_BY_ONE", 1)
    for title in ("Hopfield Networks is All You Need", "Bridging Internal Probability and Self-Consistency"):
        change_abstract(loaded, title, f"Changed again: {title}.")
    assert index().embedded == 2 and read == ["*"]
    assert holds_what_the_records_say()

    # a damaged cache of hashes: every record read again, nothing embedded again
    (loaded / ".cache" / records_view.DIGESTS_FILE).write_text("{not json", encoding="utf-8")
    assert index().embedded == 0 and read == ["*"]
    assert index().embedded == 0 and read == []

    # by default a few changed records are read again (1 ms each) rather than the cache rewritten
    monkeypatch.setattr(records_view, "REWRITE_AFTER", 1)
    pid = change_abstract(loaded, "Hopfield Networks is All You Need", "Changed a third time.")
    assert index().embedded == 1 and read == [pid]
    assert index().embedded == 0 and read == [pid]
    assert holds_what_the_records_say()
