"""A knowledge base in less than perfect shape answers all the same, and says what is wrong truthfully: a
record broken by hand is skipped by every command (one warning naming its file and line), an index run
stopped by Ctrl-C leaves counts that agree with what the index holds, and a read-only knowledge base shows
its saved themes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.filters import PaperFilter
from litkb.index import build
from litkb.mcp import tools
from litkb.web.app import Settings, create_app
from tests.conftest import ROOT, run
from tests.test_robustness import papers_file

# -- a record broken by hand ------------------------------------------------------------------------


def break_record(kb: Path, name_start: str) -> Path:
    """Edit a record's title line (line 5) as a person might, leaving its quote open."""
    path = next(p for p in (kb / "records").glob("*.yaml") if p.name.startswith(name_start))
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^title: .*$", 'title: "Hydra: broken quote', text, count=1, flags=re.M))
    return path


def test_a_broken_record_is_skipped_by_every_command_with_one_warning(
    runner: CliRunner, loaded: Path
) -> None:
    assert run(runner, loaded, "themes").exit_code == 0
    path = break_record(loaded, "hydra")
    commands = [
        ["search", "speculative"],
        ["search", "speculative", "--mode", "semantic"],
        ["search", "speculative", "--mode", "keyword"],
        ["search", "speculative", "--year", "2023-2025"],  # a filter reads every record
        ["related", "mirror"],
        ["list"],
        ["themes"],
        ["themes", "--areas"],
        ["export", "--format", "bibtex"],
        ["next"],
        ["dedup"],
    ]
    for args in commands:
        result = run(runner, loaded, *args)
        assert f"Error: {path}" not in result.stderr and "Traceback" not in result.output, args
        if args[0] != "next":  # (`next` with nothing liked yet says how to start)
            assert result.exit_code == 0, (args, result.output)
        said = [line for line in result.stderr.splitlines() if line.startswith("Warning")]
        named = [line for line in said if str(path) in line]
        assert len(named) == 1, (args, result.stderr)  # one warning, naming the file and its line
        assert named[0].startswith(f"Warning: {path}:5: invalid YAML: found unexpected end of stream"), named
        assert "Sequentially-Dependent Draft Heads" not in result.stdout, (args, result.stdout)
    found = json.loads(run(runner, loaded, "search", "speculative", "--json").stdout)
    assert found and all(not hit["id"].startswith("hydra") for hit in found)
    assert any(hit["title"].startswith("Mirror Speculative") for hit in found)
    related = run(runner, loaded, "related", "mirror", "--json")
    assert related.exit_code == 0 and len(json.loads(related.stdout)) == 10
    doctor = run(runner, loaded, "doctor", "--json")
    problems = [f["message"] for f in json.loads(doctor.stdout)["findings"] if f["level"] == "problem"]
    assert doctor.exit_code == 1 and len(problems) == 1 and problems[0].startswith(f"{path}:")


def test_a_broken_record_is_skipped_by_the_web_and_mcp_searches(runner: CliRunner, loaded: Path) -> None:
    path = break_record(loaded, "hydra")
    kb = KnowledgeBase.open(loaded)
    client = TestClient(create_app(kb, Settings(hosts=["testserver"], origins=["http://testserver"])))
    page = client.get("/search", params={"q": "speculative decoding"})
    assert page.status_code == 200 and "Mirror Speculative" in page.text and "broken quote" not in page.text
    assert client.get("/api/search", params={"q": "speculative decoding"}).status_code == 200
    mirror = next(p.id for p in kb.papers() if p.title.startswith("Mirror Speculative"))
    assert client.get(f"/paper/{mirror}").status_code == 200
    kb = KnowledgeBase.open(loaded)
    answer = tools.search(kb, "speculative decoding", 10, "hybrid", None, PaperFilter())
    assert len(answer["results"]) == 10 and not any(r["id"].startswith("hydra") for r in answer["results"])
    assert [w for w in kb.warnings if str(path) in w] and len([w for w in kb.warnings if str(path) in w]) == 1


# -- an index run stopped by Ctrl-C -------------------------------------------------------------------


def test_counts_after_an_interrupted_index_agree_with_the_index(
    runner: CliRunner, loaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "PAPER_CHUNK", 100)
    more = papers_file(tmp_path / "more.jsonl", 450, "Gamma")
    assert run(runner, loaded, "ingest", str(more)).exit_code == 0
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:  # two groups of papers are in the index
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        KnowledgeBase.open(loaded).index(progress=progress)
    kb = KnowledgeBase.open(loaded)
    held = kb.vectors.stored_hashes()
    assert len(held) == 69 + 200  # what the index really holds
    missing = 69 + 450 - len(held)
    assert kb.unindexed() == missing == 250
    search = run(runner, loaded, "search", "Gamma paper number 7", "--mode", "keyword", "--json")
    assert search.exit_code == 0
    assert f"{missing} papers are not indexed yet" in search.stderr, search.stderr
    assert any(hit["title"].startswith("Gamma") for hit in json.loads(search.stdout))  # some are found
    doctor = json.loads(run(runner, loaded, "doctor", "--json").stdout)
    messages = [f["message"] for f in doctor["findings"]]
    assert any(m.startswith(f"{missing} papers not in the index") for m in messages), messages
    assert run(runner, loaded, "index").exit_code == 0  # the next run completes it
    again = run(runner, loaded, "search", "Gamma paper number 7")
    assert again.exit_code == 0 and "not indexed" not in again.stderr
    assert KnowledgeBase.open(loaded).unindexed() == 0


# -- a read-only knowledge base ------------------------------------------------------------------------


def test_saved_themes_are_read_without_the_write_lock(runner: CliRunner, loaded: Path) -> None:
    """In-process, everywhere: the write lock cannot be taken (its file is a folder: opening it for writing
    fails even for root), yet the saved themes show; a change (new themes) still needs the lock."""
    assert run(runner, loaded, "themes").exit_code == 0
    lock = loaded / ".lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    for args in (["themes", "--areas"], ["themes"], ["themes", "--json"], ["list", "--theme", "1"]):
        result = run(runner, loaded, *args)
        assert result.exit_code == 0, (args, result.output)
        assert ".lock" not in result.stderr
    refused = run(runner, loaded, "themes", "--rebuild")
    assert refused.exit_code == 1 and f"cannot open {lock} for writing" in refused.stderr


def test_themes_on_a_read_only_mount(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    """The knowledge base mounted read-only (a bind mount in a user namespace of its own: even root cannot
    write there): its saved themes and areas show."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("cannot make a read-only mount here (needs util-linux `unshare -rm`)")
    assert run(runner, loaded, "themes").exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in loaded.rglob("*")}
    litkb = f"{sys.executable} -m litkb --kb {loaded}"
    saved = tmp_path / "themes.json"
    script = (
        f"mount --bind -o ro {loaded} {loaded} && {litkb} themes --areas && {litkb} themes --json >{saved}"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Error" not in done.stderr and re.match(r"\d+ areas", done.stdout)
    assert len(json.loads(saved.read_text())) >= 2  # the themes, as JSON
    assert {p: p.stat().st_mtime_ns for p in loaded.rglob("*")} == before  # nothing written
