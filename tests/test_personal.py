"""The owner's layer: tags, notes, reading status, likes, saved searches, `next`, related to several."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from litkb import KnowledgeBase
from tests.conftest import run


def js(runner: CliRunner, kb: Path, *args: str):
    result = run(runner, kb, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tags_notes_status_likes_live_in_the_record_and_survive_reingest(
    runner: CliRunner, loaded: Path, seed_path: Path
) -> None:
    assert js(runner, loaded, "tag", "hydra", "rag", "to-cite", "rag")["tags"] == ["rag", "to-cite"]
    assert js(runner, loaded, "untag", "hydra", "to-cite")["tags"] == ["rag"]
    js(runner, loaded, "note", "hydra", "-m", "first")
    assert js(runner, loaded, "note", "hydra", "-m", "second")["notes"] == "first\n\nsecond"
    marked = js(runner, loaded, "mark", "hydra", "read")
    assert marked["status"] == "read" and len(marked["status_date"]) == 10
    assert js(runner, loaded, "like", "Hopfield Networks")["rating"] == "like"
    assert js(runner, loaded, "dislike", "Paging with")["rating"] == "dislike"
    record = next((loaded / "records").glob("hydra-*.yaml")).read_text()
    assert "tags:\n- rag\n" in record and "status: read" in record and "first" in record
    # Tags, status and likes leave the index untouched; a note is searched, so its paper alone is
    # embedded again, the note's two lines two more passages than before.
    indexed = run(runner, loaded, "index").stderr
    assert "embedded 1 (" in indexed and "unchanged 68" in indexed
    assert "embedded 0 (0 passages)" in run(runner, loaded, "index").stderr
    run(runner, loaded, "ingest", str(seed_path))
    hydra = KnowledgeBase.open(loaded).get("hydra")
    assert (hydra.tags, hydra.status, hydra.notes) == (["rag"], "read", "first\n\nsecond")
    assert [p["title"][:5] for p in js(runner, loaded, "list", "--tag", "rag")] == ["Hydra"]
    assert [p["title"][:5] for p in js(runner, loaded, "list", "--status", "read")] == ["Hydra"]
    assert len(js(runner, loaded, "list", "--status", "unread")) == 68
    assert [h["title"][:5] for h in js(runner, loaded, "search", "draft", "--status", "read")] == ["Hydra"]


def test_ingest_and_index_speak_json(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    assert js(runner, kb_dir, "ingest", str(seed_path))["imported"] == 69
    assert js(runner, kb_dir, "index")["embedded"] == 69


def test_errors_name_the_problem(runner: CliRunner, loaded: Path) -> None:
    bad = run(runner, loaded, "mark", "hydra", "skimmed")
    assert bad.exit_code != 0 and "use one of to-read, reading, read" in bad.stderr
    ambiguous = run(runner, loaded, "tag", "a", "x")
    assert ambiguous.exit_code != 0 and "give one of these ids" in ambiguous.stderr


def test_next_with_nothing_liked_shows_the_newest_and_how_to_start(runner: CliRunner, loaded: Path) -> None:
    nothing = run(runner, loaded, "next", "-k", "3")
    assert nothing.exit_code == 0, nothing.output
    assert "Nothing liked or read yet" in nothing.stderr and "litkb like PAPER" in nothing.stderr
    newest = js(runner, loaded, "list", "-n", "3")
    for paper in newest:
        assert paper["title"][:30] in nothing.stdout
    shown = js(runner, loaded, "next", "-k", "3")
    assert [p["id"] for p in shown] == [p["id"] for p in newest]
    assert all(p["similarity"] is None and p["because"] == [] for p in shown)
    ids = run(runner, loaded, "next", "-k", "3", "--ids-only")
    assert ids.exit_code == 0 and ids.stdout.split() == [p["id"] for p in newest]


def test_note_in_the_editor(runner: CliRunner, loaded: Path, tmp_path: Path, monkeypatch) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "written in the editor\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    assert js(runner, loaded, "note", "hydra")["notes"] == "written in the editor"
    monkeypatch.delenv("EDITOR")
    monkeypatch.delenv("VISUAL", raising=False)
    assert "set $EDITOR" in run(runner, loaded, "note", "hydra").stderr


def test_next_ranks_only_unread_papers_with_reasons(runner: CliRunner, loaded: Path) -> None:
    js(runner, loaded, "like", "Hydra")
    js(runner, loaded, "mark", "Mirror Speculative", "read")
    js(runner, loaded, "dislike", "Paging with")
    found = js(runner, loaded, "next", "-k", "5")
    assert len(found) == 5 and [f["rank"] for f in found] == [1, 2, 3, 4, 5]
    titles = [f["title"] for f in found]
    assert not any(t.startswith(("Hydra", "Mirror", "Paging")) for t in titles)
    hydra = KnowledgeBase.open(loaded).get("Hydra").id
    mirror = KnowledgeBase.open(loaded).get("Mirror Speculative").id
    assert all(set(f["because"]) <= {hydra, mirror} and f["because"] for f in found)
    assert found[0]["score"] >= found[-1]["score"]


def test_related_to_several_papers_together(runner: CliRunner, loaded: Path) -> None:
    both = js(runner, loaded, "related", "Hydra", "Mirror Speculative", "-k", "5")
    assert not any(h["title"].startswith(("Hydra", "Mirror")) for h in both)
    kb = KnowledgeBase.open(loaded)
    one = {h["id"]: h["score"] for h in kb.related("Hydra", k=68)}
    other = {h["id"]: h["score"] for h in kb.related("Mirror Speculative", k=68)}
    # together, the top paper is the closest to both on average, not merely the top of one list
    closeness = {pid: one[pid] + other[pid] for pid in one.keys() & other.keys()}
    assert both[0]["id"] == max(closeness, key=lambda pid: closeness[pid])
    assert both[0]["id"] not in (max(one, key=lambda pid: one[pid]), max(other, key=lambda pid: other[pid]))


def test_saved_searches(runner: CliRunner, loaded: Path) -> None:
    first = run(runner, loaded, "search", "draft heads", "-k", "3", "--year", "2024", "--save", "weekly")
    assert first.exit_code == 0 and "saved as 'weekly'" in first.stderr
    assert "weekly: draft heads" in run(runner, loaded, "saved").stdout
    assert js(runner, loaded, "saved")["weekly"] == {
        "query": "draft heads",
        "k": 3,
        "mode": "hybrid",
        "year": "2024",
    }
    again = js(runner, loaded, "saved", "run", "weekly")
    assert again and all(h["year"] == 2024 for h in again)
    ids = run(runner, loaded, "saved", "run", "weekly", "--ids-only")
    assert ids.exit_code == 0 and ids.stdout.split() == [h["id"] for h in again]
    missing = run(runner, loaded, "saved", "run", "nope")
    assert missing.exit_code != 0 and "no saved search 'nope'" in missing.stderr
