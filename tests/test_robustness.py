"""Never lose a paper: writers at once, killed processes, full disks, damaged indexes, hostile input.

Each test does the thing for real: several litkb processes at once, SIGKILL at many points, a write
that fails with ENOSPC or EIO, a Chroma store truncated on disk.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.doctor import diagnose
from litkb.index.passages import passages
from litkb.lock import write_lock
from tests.conftest import run


def litkb(kb: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`litkb --kb KB ARGS` as a separate process."""
    return subprocess.Popen(
        [sys.executable, "-m", "litkb", "--kb", str(kb), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def papers_file(path: Path, n: int, prefix: str) -> Path:
    rows = [
        {"title": f"{prefix} paper number {i}", "abstract": f"Study {i} of {prefix}. " + "words " * (i % 300)}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_whole(kb_dir: Path, expected: int) -> KnowledgeBase:
    """Every record reads back, the index holds every passage of every paper, nothing else is wrong."""
    kb = KnowledgeBase.open(kb_dir)
    papers, problems = kb.store.load_all()
    assert problems == [] and len(papers) == expected
    assert not list((kb_dir / "records").glob(".*.tmp"))
    assert kb.vectors.count() == sum(len(passages(p)) for p in papers)
    findings = diagnose(kb)
    assert [f for f in findings if f.level != "ok"] == [], findings
    return kb


# -- 1. concurrency ---------------------------------------------------------------------------------


def test_writers_take_turns_and_readers_never_see_half_a_record(
    runner: CliRunner, loaded: Path, tmp_path: Path
) -> None:
    first = papers_file(tmp_path / "a.jsonl", 400, "Alpha")
    second = papers_file(tmp_path / "b.jsonl", 400, "Beta")
    writers = [
        litkb(loaded, "ingest", str(first)),
        litkb(loaded, "index"),
        litkb(loaded, "ingest", str(second)),
        litkb(loaded, "tag", "Hopfield Networks is All You Need", "classic"),
        litkb(loaded, "index"),
    ]
    readers = 0
    while any(w.poll() is None for w in writers):  # meanwhile, read everything again and again
        listing = subprocess.run(
            [sys.executable, "-m", "litkb", "--kb", str(loaded), "list", "--json"],
            capture_output=True,
            text=True,
        )
        assert listing.returncode == 0 and "Warning" not in listing.stderr, listing.stderr
        assert len(json.loads(listing.stdout)) >= 69
        readers += 1
    for writer in writers:
        _out, err = writer.communicate()
        assert writer.returncode == 0, err
    assert readers >= 1
    assert run(runner, loaded, "index").exit_code == 0  # the last ingest may have come after both indexes
    kb = assert_whole(loaded, 69 + 800)
    assert "classic" in kb.get("Hopfield Networks is All You Need").tags


def test_a_writer_that_cannot_get_the_lock_says_the_knowledge_base_is_busy(loaded: Path) -> None:
    with write_lock(loaded / ".lock"):
        waiting = litkb(
            loaded, "tag", "Hopfield Networks is All You Need", "x", env={"LITKB_LOCK_TIMEOUT": "0.5"}
        )
        _, err = waiting.communicate(timeout=60)
    said, error = err.strip().splitlines()  # that it waits, then that it gave up
    assert said.startswith("another litkb process is writing to") and "waiting up to 0.5 s" in said, err
    assert waiting.returncode == 75 and error.startswith("Error: knowledge base busy"), err
    assert "Traceback" not in err
    # readers do not wait for the lock
    reader = litkb(loaded, "show", "Hopfield Networks is All You Need")
    with write_lock(loaded / ".lock"):
        assert reader.wait(timeout=60) == 0


def test_curation_and_ingest_proceed_while_the_index_is_held(loaded: Path, tmp_path: Path) -> None:
    """An index run holds only the index: tagging, notes and ingest go on; a second index waits, says
    so, and gives up after the limit."""
    extra = papers_file(tmp_path / "extra.jsonl", 30, "Delta")
    short = {"LITKB_LOCK_TIMEOUT": "0.5"}
    with write_lock(loaded / ".cache" / "index.lock"):  # what a long `litkb index` holds
        tag = litkb(loaded, "tag", "Hopfield Networks is All You Need", "during-index", env=short)
        note = litkb(loaded, "note", "Hopfield Networks is All You Need", "-m", "read it", env=short)
        assert tag.wait(timeout=60) == 0 and note.wait(timeout=60) == 0, (tag.stderr, note.stderr)
        ingest = litkb(loaded, "ingest", str(extra), env=short)
        assert ingest.wait(timeout=60) == 0
        second = litkb(loaded, "index", env=short)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 75, err
    assert "another litkb process is indexing" in err and "waiting up to 0.5 s" in err, err
    assert err.strip().splitlines()[-1].startswith("Error: knowledge base busy"), err
    kb = KnowledgeBase.open(loaded)
    assert "during-index" in kb.get("Hopfield Networks is All You Need").tags
    assert kb.unindexed() == 30  # ingested while the index was held: the next run catches up
    assert litkb(loaded, "index").wait(timeout=120) == 0
    assert_whole(loaded, 69 + 30)


def test_a_running_index_does_not_hold_up_ingest_and_tags(loaded: Path, tmp_path: Path) -> None:
    """A real `litkb index` of many papers, with ingests and tags started while it runs: none waits for it,
    nothing is lost, and the next index embeds what came in meanwhile."""
    big = papers_file(tmp_path / "big.jsonl", 3000, "Epsilon")
    assert litkb(loaded, "ingest", str(big)).wait(timeout=120) == 0
    index = litkb(loaded, "index")
    lock = loaded / ".cache" / "index.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and index.poll() is None:  # wait until it holds the index lock
        try:
            with write_lock(lock, timeout=0):
                pass
        except Exception:
            break
        time.sleep(0.02)
    no_wait = {"LITKB_LOCK_TIMEOUT": "0"}  # had they to wait for the index, they would fail at once
    for i in range(2):
        ingest = litkb(
            loaded, "ingest", str(papers_file(tmp_path / f"w{i}.jsonl", 20, f"Writer{i}")), env=no_wait
        )
        _, err = ingest.communicate(timeout=120)
        assert ingest.returncode == 0, err
    tag = litkb(loaded, "tag", "Hopfield Networks is All You Need", "meanwhile", env=no_wait)
    _, err = tag.communicate(timeout=120)
    assert tag.returncode == 0, err
    assert index.poll() is None  # all of that while the index ran
    _, err = index.communicate(timeout=600)
    assert index.returncode == 0, err
    assert litkb(loaded, "index").wait(timeout=600) == 0
    kb = assert_whole(loaded, 69 + 3000 + 40)
    assert "meanwhile" in kb.get("Hopfield Networks is All You Need").tags


# -- 2. crashes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ingest", "index"])
def test_sigkill_at_many_points_loses_nothing(kb_dir: Path, tmp_path: Path, command: str) -> None:
    source = papers_file(tmp_path / "many.jsonl", 1500, "Gamma")
    if command == "index":
        assert litkb(kb_dir, "ingest", str(source)).wait(timeout=120) == 0
    killed_after = []
    for delay in (0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0):
        process = litkb(kb_dir, command, *([str(source)] if command == "ingest" else []))
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_after.append(delay)
        process.wait(timeout=60)
        # what is there opens and reads whole
        kb = KnowledgeBase.open(kb_dir)
        papers, problems = kb.store.load_all()
        assert problems == []
        assert all(p.title.startswith("Gamma paper number") for p in papers)
    assert killed_after, "every run finished before the kill: nothing was tested"
    # running the command again finishes the job, without duplicates
    again = litkb(kb_dir, command, *([str(source)] if command == "ingest" else []))
    assert again.wait(timeout=300) == 0, again.communicate()[1]
    assert litkb(kb_dir, "index").wait(timeout=300) == 0
    kb = assert_whole(kb_dir, 1500)
    assert len({p.title for p in kb.papers()}) == 1500
    assert kb.search("Gamma paper number 77", k=1, mode="keyword")[0]["title"] == "Gamma paper number 77"


def test_index_rebuilds_a_damaged_local_index_from_the_records(runner: CliRunner, loaded: Path) -> None:
    kb = KnowledgeBase.open(loaded)
    count = len(kb.papers())
    kb.vectors.begin_change()  # as a `litkb index` killed in the middle of a write leaves it
    _truncate_chroma(loaded)
    result = run(runner, loaded, "index")
    assert result.exit_code == 0, result.output
    assert "rebuilt the index from the records: it was damaged" in result.stderr
    assert "database disk image is malformed" in result.stderr
    assert f"embedded {count} " in result.stderr
    assert_whole(loaded, count)
    assert run(runner, loaded, "doctor").exit_code == 0


# -- 3. full disk, I/O errors ----------------------------------------------------------------------


class _FailingFile:
    """A file whose writes fail as a full disk makes them fail."""

    def __init__(self, handle: object, error: int) -> None:
        self._handle = handle
        self._error = error

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()  # type: ignore[attr-defined]

    def write(self, text: str) -> int:
        raise OSError(self._error, os.strerror(self._error))


@pytest.mark.parametrize(
    ("error", "where"),
    [(errno.ENOSPC, "write"), (errno.EIO, "write"), (errno.EIO, "flush"), (errno.EIO, "rename")],
)
def test_a_failed_write_leaves_every_file_as_it_was(
    runner: CliRunner, loaded: Path, monkeypatch: pytest.MonkeyPatch, error: int, where: str
) -> None:
    import litkb.fsutil as fsutil

    records = sorted((loaded / "records").glob("*.yaml"))
    before = {path: path.read_bytes() for path in records}
    update = loaded.parent / "update.jsonl"  # a new abstract for every paper: a batch write of them all
    papers = KnowledgeBase.open(loaded).papers()
    update.write_text("".join(json.dumps({"title": p.title, "abstract": "Replaced."}) + "\n" for p in papers))
    failure = OSError(error, os.strerror(error))
    if where == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(fsutil.os, "fdopen", lambda *a, **k: _FailingFile(real_fdopen(*a, **k), error))
    elif where == "flush":
        monkeypatch.setattr(fsutil, "_flush_to_disk", lambda paths: (_ for _ in ()).throw(failure))
    else:
        monkeypatch.setattr(fsutil.os, "replace", lambda *a: (_ for _ in ()).throw(failure))
    one = run(runner, loaded, "tag", "Hopfield Networks is All You Need", "lost")
    many = run(runner, loaded, "ingest", str(update))
    for result in (one, many):
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: cannot write") and os.strerror(error) in result.stderr
        assert "Traceback" not in result.output
    assert {path: path.read_bytes() for path in records} == before
    assert not [p for p in (loaded / "records").iterdir() if p.name.endswith(".tmp")]


# -- 4. damaged index -------------------------------------------------------------------------------


def _truncate_chroma(kb: Path) -> None:
    with open(kb / "index" / "chroma" / "chroma.sqlite3", "r+b") as handle:
        handle.truncate(20_000)


def _garble_manifest(kb: Path) -> None:
    (kb / "index" / "manifest.json").write_text("{not json")


def _other_dimension(kb: Path) -> None:
    (kb / "config.yaml").write_text("model: 'hash:128'\n")


def _out_of_step(kb: Path) -> None:
    records = sorted((kb / "records").glob("*.yaml"))
    records[0].unlink()
    records[1].write_text(records[1].read_text().replace("abstract: ", "abstract: Edited. ", 1))
    (kb / "records" / "new-paper-0000000000.yaml").write_text(
        "id: new-paper-0000000000\ntitle: A new paper\n"
    )


def _garble_snapshot(kb: Path) -> None:
    segment = json.loads((kb / "index" / "passages.json").read_text())["segments"][0]["name"]
    with open(kb / "index" / f"passages-{segment}.first.npy", "r+b") as handle:
        handle.truncate(100)


def _remove_keyword_index(kb: Path) -> None:
    (kb / "index" / "bm25" / "data.npy").write_bytes(b"garbage")


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        (_truncate_chroma, "database disk image is malformed"),
        (_garble_manifest, "manifest is damaged"),
        (_other_dimension, "built with model 'hash:256'"),
        (_out_of_step, "not in the index"),
        (_garble_snapshot, "snapshot"),
        (_remove_keyword_index, "keyword"),
    ],
)
def test_doctor_finds_damage_and_repair_rebuilds_from_the_records(
    runner: CliRunner, loaded: Path, damage: object, found: str
) -> None:
    damage(loaded)  # type: ignore[operator]
    for command in (["search", "speculative decoding"], ["related", "Hopfield Networks is All You Need"]):
        result = run(runner, loaded, *command)
        assert "Traceback" not in result.output and "unexpected failure" not in result.output
        assert result.exit_code == 0 or "doctor" in result.stderr or "litkb index" in result.stderr, (
            result.stderr
        )
    report = run(runner, loaded, "doctor", "--json")
    findings = json.loads(report.stdout)["findings"]
    wrong = [f for f in findings if f["level"] != "ok"]
    assert wrong and any(found in f["message"] or found == f["area"] for f in wrong), findings
    assert all(f["repairable"] for f in wrong)
    repaired = run(runner, loaded, "doctor", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "the knowledge base is healthy" in repaired.stderr
    assert not list(loaded.glob("index.*"))  # the staging folder was swapped in, the old one removed
    papers = KnowledgeBase.open(loaded).papers()
    assert_whole(loaded, len(papers))
    hits = json.loads(run(runner, loaded, "search", "speculative decoding", "--json").stdout)
    assert hits and run(runner, loaded, "doctor").exit_code == 0


def test_doctor_names_a_record_it_cannot_read_and_never_touches_it(runner: CliRunner, loaded: Path) -> None:
    broken = sorted((loaded / "records").glob("*.yaml"))[3]
    broken.write_text("title: [unclosed\n")
    result = run(runner, loaded, "doctor")
    assert result.exit_code == 1 and broken.name in result.output and "by hand" in result.output
    run(runner, loaded, "doctor", "--repair")
    assert broken.read_text() == "title: [unclosed\n"


# -- 5. hostile input -------------------------------------------------------------------------------


def test_a_100_mb_line_is_refused_or_read_without_harm(
    runner: CliRunner, kb_dir: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("w") as handle:
        handle.write("x" * (100 * 2**20))
    result = run(runner, kb_dir, "ingest", str(huge))
    assert result.exit_code == 1 and result.stderr.startswith("Error:") and "huge.txt" in result.stderr
    assert "Traceback" not in result.output
    assert not (kb_dir / "records").exists() or not list((kb_dir / "records").iterdir())
    jsonl = tmp_path / "huge.jsonl"  # one 100 MB line that is one paper with an enormous abstract
    jsonl.write_text(json.dumps({"title": "Big", "abstract": "word " * (20 * 2**20)}) + "\n")
    result = run(runner, kb_dir, "ingest", str(jsonl))
    assert result.exit_code == 0 and "imported 1" in result.stderr, result.output
    assert len(KnowledgeBase.open(kb_dir).get("Big").abstract or "") == 5 * 20 * 2**20 - 1


def test_latin1_and_utf16_files_are_decoded(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    text = "title,abstract\nCaf\u00e9 cr\u00e8me for na\u00efve Bayes,R\u00e9sum\u00e9 of the method.\n"
    (tmp_path / "latin.csv").write_bytes(text.encode("latin-1"))
    (tmp_path / "utf16.csv").write_bytes(text.replace("Caf", "Th\u00e9 caf").encode("utf-16"))
    for name in ("latin.csv", "utf16.csv"):
        result = run(runner, kb_dir, "ingest", str(tmp_path / name))
        assert result.exit_code == 0 and "imported 1" in result.stderr, result.output
    titles = sorted(p.title for p in KnowledgeBase.open(kb_dir).papers())
    assert titles == [
        "Caf\u00e9 cr\u00e8me for na\u00efve Bayes",
        "Th\u00e9 caf\u00e9 cr\u00e8me for na\u00efve Bayes",
    ]


EXPECTED_TITLES = {"nul\x00byte": "nulbyte", "line\nbreak": "line break"}


def test_hostile_titles_stay_text_and_ids_stay_file_names(
    runner: CliRunner, kb_dir: Path, tmp_path: Path
) -> None:
    titles = [
        "../../etc/passwd",
        "a/b/c",
        "nul\x00byte",
        "line\nbreak",
        "x" * 500,
        r"\input{/etc/passwd}",
        "!!python/object/apply:os.system ['echo hi']",
        "{{7*7}} <script>alert(1)</script>",
    ]
    source = tmp_path / "hostile.jsonl"
    source.write_text("".join(json.dumps({"title": t, "abstract": "Abstract."}) + "\n" for t in titles))
    result = run(runner, kb_dir, "ingest", str(source))
    assert result.exit_code == 0, result.output
    files = sorted((kb_dir / "records").iterdir())
    assert all(f.parent == kb_dir / "records" and f.name.endswith(".yaml") for f in files)
    assert not (tmp_path / "etc").exists() and not (kb_dir / "records" / "a").exists()
    kb = KnowledgeBase.open(kb_dir)
    assert sorted(p.title for p in kb.papers()) == sorted(EXPECTED_TITLES.get(t, t) for t in titles)
    assert run(runner, kb_dir, "index").exit_code == 0
    bib = run(runner, kb_dir, "export", "-f", "bibtex")
    assert bib.exit_code == 0 and r"\input{" not in bib.stdout


def test_a_dotenv_with_chroma_settings_is_ignored(
    runner: CliRunner, loaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma reads `.env` in the working directory (and CHROMA_* variables): a file that would send the
    index to a server, turn telemetry on or reset the store changes nothing."""
    work = tmp_path / "cwd"
    work.mkdir()
    (work / ".env").write_text(
        "chroma_api_impl=chromadb.api.fastapi.FastAPI\nchroma_server_host=203.0.113.9\n"
        "chroma_server_http_port=9\nanonymized_telemetry=True\nis_persistent=False\n"
        "persist_directory=/tmp/elsewhere\nchroma_client_auth_provider=nope.Provider\n"
    )
    monkeypatch.chdir(work)
    monkeypatch.setenv("CHROMA_SERVER_HOST", "203.0.113.9")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "True")
    added = run(runner, loaded, "ingest", "--format", "jsonl", "-", input='{"title": "New one"}\n')
    assert added.exit_code == 0 and "imported 1" in added.stderr, added.output
    result = run(runner, loaded, "index")
    assert result.exit_code == 0, result.output
    (loaded / "index" / "passages.json").unlink()  # searches go through Chroma itself
    hits = run(runner, loaded, "search", "speculative decoding", "--json")
    assert hits.exit_code == 0 and json.loads(hits.stdout)
    assert not Path("/tmp/elsewhere").exists()
