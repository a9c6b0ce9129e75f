"""Every command through the CLI, with the fast hashing embedder, including the error paths."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.cli import app
from tests.conftest import make_kb_dir, run


def test_help_lists_every_command_and_each_has_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = ["ingest", "index", "search", "related", "show", "list", "themes", "export", "dedup"]
    commands += ["tag", "untag", "note", "mark", "like", "dislike", "next", "saved"]
    for command in commands:
        assert command in result.stdout
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "Example: litkb" in sub.stdout, command


def test_ingest_is_idempotent_and_summarises(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    first = run(runner, kb_dir, "ingest", str(seed_path))
    assert first.exit_code == 0
    assert "imported 69, updated 0, unchanged 0, skipped 0" in first.stderr
    files = sorted((kb_dir / "records").glob("*.yaml"))
    snapshot = {p: p.read_bytes() for p in files}
    again = run(runner, kb_dir, "ingest", str(seed_path))
    assert "imported 0, updated 0, unchanged 69, skipped 0" in again.stderr
    assert {p: p.read_bytes() for p in sorted((kb_dir / "records").glob("*.yaml"))} == snapshot
    gitignore = (kb_dir / ".gitignore").read_text()
    assert "/index/" in gitignore and "/.cache/" in gitignore


def test_newer_listing_updates_upvotes_and_keeps_hand_edits(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    record = next((kb_dir / "records").glob("hydra-*.yaml"))
    record.write_text(
        record.read_text().replace("tags: []", "tags:\n- to-read").replace("notes: null", "notes: good")
    )
    newer = tmp_path / "newer.txt"
    newer.write_text(seed_path.read_text().replace("Feb 7, 2024 2", "Feb 7, 2024 40"))
    result = run(runner, kb_dir, "ingest", str(newer))
    assert "imported 0, updated 69, unchanged 0" in result.stderr  # every paper gains a second source
    shown = json.loads(run(runner, kb_dir, "show", "Hydra", "--json").stdout)
    assert shown["upvotes"] == 40 and shown["tags"] == ["to-read"] and shown["notes"] == "good"
    assert [s["file"] for s in shown["sources"]] == [seed_path.name, "newer.txt"]


def test_ingest_errors(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    missing = run(runner, kb_dir, "ingest", str(tmp_path / "nope.txt"))
    assert missing.exit_code != 0 and "nope.txt: no such file" in missing.stderr
    assert "Traceback" not in missing.output
    empty = tmp_path / "empty.txt"
    empty.write_text("Daily Papers\n\nNov 18\n")
    result = run(runner, kb_dir, "ingest", str(empty))
    assert result.exit_code != 0 and "no paper found" in result.stderr
    assert not list((kb_dir / "records").glob("*.yaml"))
    unknown = run(runner, kb_dir, "ingest", "--format", "nope", str(empty))
    assert (
        unknown.exit_code != 0
        and "known formats: arxiv, bibtex, csl-json, csv, hf-daily, jsonl" in unknown.stderr
    )
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\x00\x01\xff\xfe\x00" * 100)
    assert "binary" in run(runner, kb_dir, "ingest", str(binary)).stderr


def test_one_bad_file_among_several_fails_the_command_and_the_others_are_written(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    result = run(runner, kb_dir, "ingest", str(tmp_path / "missing.txt"), str(seed_path))
    assert result.exit_code == 1
    assert (
        "Error: " in result.stderr and "missing.txt: no such file; the other files were read" in result.stderr
    )
    assert "imported 69" in result.stderr


def test_ingest_stdin_and_jsonl_warnings(runner: CliRunner, kb_dir: Path) -> None:
    lines = '{"id": "1", "title": "Stdin Paper", "abstract": "x"}\n{"abstract": "no title"}\n'
    result = run(runner, kb_dir, "ingest", "-", input=lines)
    assert result.exit_code == 0, result.output
    assert "<stdin>:2: skipped a row without a title" in result.stderr
    assert "imported 1, updated 0, unchanged 0, skipped 1" in result.stderr


def test_unwritable_knowledge_base(
    runner: CliRunner, tmp_path: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:  # root ignores permission bits: make the denial happen as it would for a user
        real_mkdir = os.mkdir

        def denied(path: object, *args: object, **kwargs: object) -> None:
            if str(path).startswith(str(locked)):
                raise PermissionError(13, "Permission denied", str(path))
            real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "mkdir", denied)
    result = run(runner, locked / "kb", "ingest", str(seed_path))
    assert result.exit_code != 0 and "permission denied" in result.stderr
    assert "Traceback" not in result.output


def test_a_file_where_the_knowledge_base_should_be(
    runner: CliRunner, tmp_path: Path, seed_path: Path
) -> None:
    blocker = tmp_path / "kbfile"
    blocker.write_text("x")
    result = run(runner, blocker, "ingest", str(seed_path))
    assert result.exit_code == 2 and "is a file, not a knowledge-base folder" in result.stderr
    # A folder that is not a knowledge base is the same mistake (a wrong --kb): the same exit code.
    project = tmp_path / "project"
    project.mkdir()
    (project / "README").write_text("x")
    result = run(runner, project, "ingest", str(seed_path))
    assert result.exit_code == 2 and "is not a knowledge base" in result.stderr
    assert run(runner, blocker, "list").exit_code == 2


def test_search_json_shape(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "search", "speculative decoding draft heads", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert set(hits[0]) == {
        "rank",
        "id",
        "external_id",
        "doi",
        "arxiv_id",
        "title",
        "year",
        "score",
        "similarity",
        "match",
        "snippet",
        "page",
        "quote",
    }
    assert all(h["page"] is None and h["quote"] is None for h in hits)  # no paper here has full text
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert all(isinstance(h["similarity"], float) for h in hits)  # no label on the fake embedder
    assert all(h["match"] is None for h in hits)
    assert isinstance(hits[0]["year"], int) and hits[0]["external_id"] is None
    assert any("Speculative" in h["title"] or "Medusa" in h["title"] for h in hits)


def test_search_table(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "search", "model editing", "-k", "2")
    assert result.exit_code == 0 and "Search: model editing" in result.stdout


def test_search_queries_file(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    plain = tmp_path / "q.txt"
    plain.write_text("continual learning\n\nmodel editing\n")
    result = run(runner, loaded, "search", "--queries", str(plain), "-k", "2")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query_id"] for line in lines] == [1, 3]
    assert all(len(line["results"]) == 2 for line in lines)
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"_id": "q9", "text": "hopfield"}\n{"id": 4, "text": "rag"}\n')
    result = run(runner, loaded, "search", "--queries", str(jsonl), "-k", "1")
    assert [json.loads(line)["query_id"] for line in result.stdout.splitlines()] == ["q9", 4]


def test_related_excludes_itself_and_matches_titles_forgivingly(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "related", "hopfield networks IS all you need!", "--json", "-k", "5")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 5 and all(not h["title"].startswith("Hopfield") for h in hits)
    by_prefix = run(runner, loaded, "related", "Hopfield Net", "--json")
    assert by_prefix.exit_code == 0 and len(json.loads(by_prefix.stdout)) == 10


def test_related_ambiguous_and_unknown(runner: CliRunner, loaded: Path) -> None:
    ambiguous = run(runner, loaded, "related", "a")
    lines = ambiguous.stderr.splitlines()
    assert ambiguous.exit_code == 1 and lines[0] == "Error: 'a' matches 9 papers; give one of these ids:"
    # One candidate a line: id, year, title in full (never cut at 60 characters).
    assert len(lines) == 10 and all(re.fullmatch(r"  [a-z0-9-]+  \d{4}  .+", line) for line in lines[1:])
    assert "  2023  A Comprehensive Survey of Continual Learning: Theory, Method and Application" in lines[1]
    unknown = run(runner, loaded, "related", "No Such Paper Anywhere")
    assert unknown.exit_code != 0 and "no paper matches 'No Such Paper Anywhere'" in unknown.stderr


def test_show_and_list(runner: CliRunner, loaded: Path) -> None:
    shown = run(runner, loaded, "show", "mirror speculative decoding")
    assert shown.exit_code == 0 and "Apple" in shown.stdout and "2025-10-15" in shown.stdout
    by_id = json.loads(run(runner, loaded, "show", "--json", json.loads(shown_id(runner, loaded))).stdout)
    assert by_id["title"].startswith("Mirror Speculative Decoding")
    listed = json.loads(run(runner, loaded, "list", "--sort", "upvotes", "--json", "-n", "3").stdout)
    assert [p["upvotes"] for p in listed] == [4, 2, 2]
    dates = [p["date"] for p in json.loads(run(runner, loaded, "list", "--json").stdout)]
    assert dates == sorted(dates, reverse=True) and len(dates) == 69
    oldest = json.loads(run(runner, loaded, "list", "--json", "--reverse", "-n", "1").stdout)
    assert oldest[0]["date"] == "2017-12-23"
    assert "69 of 69 papers" in run(runner, loaded, "list").stdout


def shown_id(runner: CliRunner, kb: Path) -> str:
    return json.dumps(json.loads(run(runner, kb, "show", "Mirror Speculative", "--json").stdout)["id"])


def test_commands_on_an_empty_or_missing_knowledge_base(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for args in (["search", "x"], ["related", "x"], ["show", "x"], ["list"], ["index"]):
        result = run(runner, missing, *args)
        assert result.exit_code != 0 and "no knowledge base at" in result.stderr, args
        assert "Traceback" not in result.output
    empty = make_kb_dir(tmp_path / "empty")
    result = run(runner, empty, "search", "x")
    assert result.exit_code != 0 and "is empty" in result.stderr


def test_search_before_index_and_with_another_model(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    result = run(runner, kb_dir, "search", "x")
    assert result.exit_code != 0 and "run `litkb index`" in result.stderr
    run(runner, kb_dir, "index")
    (kb_dir / "config.yaml").write_text("model: 'hash:128'\n")
    result = run(runner, kb_dir, "search", "x")
    assert (
        result.exit_code != 0
        and "built with model 'hash:256'" in result.stderr
        and "re-index" in result.stderr
    )
    reindexed = run(runner, kb_dir, "index")
    assert "rebuilt the index: embedded 69" in reindexed.stderr
    assert run(runner, kb_dir, "search", "x").exit_code == 0


def test_index_embeds_only_what_changed_and_drops_what_is_gone(runner: CliRunner, loaded: Path) -> None:
    assert "embedded 0 (0 passages), deleted 0, unchanged 69" in run(runner, loaded, "index").stderr
    records = sorted((loaded / "records").glob("*.yaml"))
    kb = KnowledgeBase.open(loaded)
    changed = kb.store.load(records[0].stem)
    changed.abstract = "Zebrafinch songs and zebrafinch calls."
    kb.store.save_many([changed])
    records[1].unlink()
    report = run(runner, loaded, "index").stderr
    assert "embedded 1 (" in report and "deleted 1, unchanged 67" in report
    # the snapshot was patched (a new segment) in place of re-reading Chroma: it holds what reading Chroma
    # would give
    patched = KnowledgeBase.open(loaded).vectors.current_snapshot()
    assert patched is not None and len(patched.segments) == 2
    fresh = KnowledgeBase.open(loaded)
    fresh.vectors.write_snapshot(fresh.vectors.snapshot_hashes() or {})
    whole = KnowledgeBase.open(loaded).vectors.current_snapshot()
    assert whole is not None and len(whole.segments) == 1
    assert patched.hash_map() == whole.hash_map() and patched.papers == whole.papers
    (owners, numbers, matrix), (owners2, numbers2, matrix2) = patched.rows(None), whole.rows(None)
    assert owners == owners2 and numbers == numbers2 and abs(matrix - matrix2).max() < 1e-6, abs(
        matrix - matrix2
    ).max()
    # the changed vector is what searches see (the snapshot was refreshed), and the removed paper is gone
    for mode in ("semantic", "hybrid"):
        hits = json.loads(run(runner, loaded, "search", "zebrafinch songs", "--mode", mode, "--json").stdout)
        assert hits[0]["id"] == records[0].stem
        assert records[1].stem not in {hit["id"] for hit in hits}
    manifest = json.loads((loaded / "index" / "manifest.json").read_text())
    assert manifest["count"] == 68 and manifest["passages"] >= 68
    assert (manifest["schema"], manifest["model"], manifest["dim"]) == (2, "hash:256", 256)


def test_unknown_id_and_debug_traceback(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "show", "zzz-no-such-id-0000000000")
    assert result.exit_code != 0 and result.stderr.startswith("Error: no paper matches")
    debug = runner.invoke(app, ["--kb", str(loaded), "--debug", "show", "zzz-no-such-id-0000000000"])
    assert debug.exit_code != 0 and debug.exception is not None


def test_kb_option_wins_over_environment(
    runner: CliRunner, tmp_path: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_kb = make_kb_dir(tmp_path / "env")
    flag_kb = make_kb_dir(tmp_path / "flag")
    monkeypatch.setenv("LITKB_HOME", str(env_kb))
    runner.invoke(app, ["ingest", str(seed_path)])
    assert len(list((env_kb / "records").glob("*.yaml"))) == 69
    runner.invoke(app, ["--kb", str(flag_kb), "ingest", str(seed_path)])
    assert len(list((flag_kb / "records").glob("*.yaml"))) == 69


def test_default_location_without_configuration(runner: CliRunner, tmp_path: Path, seed_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(seed_path)])
    assert result.exit_code == 0
    assert len(list((tmp_path / "xdg" / "litkb" / "records").glob("*.yaml"))) == 69


def test_help_is_instant_no_heavy_imports() -> None:
    code = (
        "import sys; from litkb.cli import app; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("command", [["serve"], ["mcp", "--http"]])
def test_a_server_on_a_busy_port_says_so_in_one_line(
    runner: CliRunner, kb_dir: Path, seed_path: Path, command: list[str]
) -> None:
    import socket

    assert run(runner, kb_dir, "ingest", str(seed_path)).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(runner, kb_dir, *command, "--port", str(port))
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: port {port} on 127.0.0.1 is in use; choose another with --port\n"
    assert result.stdout == ""  # no address printed for a server that never started


def _commands(group: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def test_help_has_no_stray_line_breaks(runner: CliRunner) -> None:
    """Every command's --help as Typer renders it, wide enough that nothing needs to wrap: each option,
    argument and command is one row of its panel, and each paragraph one line."""
    import typer

    for path, command in _commands(typer.main.get_command(app), []):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}, terminal_width=300)
        assert result.exit_code == 0, path
        lines = [line.rstrip() for line in result.stdout.splitlines()]
        rows = [line for line in lines if line.startswith("│")]
        shown = [p for p in command.params if not getattr(p, "hidden", False)] + [None]  # + --help
        expected = len(shown) + len(getattr(command, "commands", {}))
        assert len(rows) == expected, f"litkb {' '.join(path)} --help:\n{result.stdout}"
        text = [line for line in lines if line and not line.startswith(("│", "╭", "╰", " Usage"))]
        before_panels = lines[: next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines))]
        paragraphs = "\n".join(before_panels).split("\n\n")
        for paragraph in paragraphs:
            assert paragraph.strip().count("\n") == 0, f"litkb {' '.join(path)}: {paragraph!r}"
        assert text, path


def test_a_file_that_gives_no_paper_fails_the_command_but_the_others_are_written(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Title,Authors,Year,DOI,Abstract\nA Spreadsheet Paper,Ann Smith,2020,10.1/x,Text.\n")
    alone = run(runner, kb_dir, "ingest", str(sheet))
    assert alone.exit_code == 0, alone.output
    assert "imported 1" in alone.stderr and "read the columns Title as title" in alone.stderr
    german = tmp_path / "papiere.csv"
    german.write_text("Titel,Autoren\nEin Papier,Anna\n")
    both = run(runner, kb_dir, "ingest", str(german), str(seed_path))
    assert both.exit_code == 1
    assert "imported 69" in both.stderr  # the good file is written all the same
    assert f"Error: {german}:1: no column of titles (the columns: Titel, Autoren)" in both.stderr
    assert "the other files were read" in both.stderr
    only = run(runner, kb_dir, "ingest", str(german))
    assert only.exit_code == 1 and only.stderr.count("\n") == 1 and "nothing was written" in only.stderr


def test_a_jsonl_line_that_is_not_unicode_is_skipped(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    rows = [f'{{"title": "Good paper {i}", "abstract": "x"}}' for i in range(10)]
    rows.insert(4, '{"title": "\\ud800 broken", "abstract": "y"}')
    source = tmp_path / "s.jsonl"
    source.write_text("\n".join(rows) + "\n")
    result = run(runner, kb_dir, "ingest", str(source))
    assert result.exit_code == 0, result.output
    assert f"{source}:5: skipped a line whose text is not valid Unicode" in result.stderr
    assert "imported 10, updated 0, unchanged 0, skipped 1" in result.stderr
    # Any format: a CSL JSON item with one is skipped, named by its title, and the others are read.
    csl = tmp_path / "library.json"
    csl.write_text(
        '[{"id": "a", "type": "article", "title": "Fine Paper"},'
        ' {"id": "b", "type": "article", "title": "Odd Paper", "abstract": "bad \\udc80 text"}]'
    )
    result = run(runner, kb_dir, "ingest", "--format", "csl-json", str(csl))
    assert result.exit_code == 0, result.output
    assert "skipped 'Odd Paper': its text is not valid Unicode (a lone surrogate \\udc80)" in result.stderr
    assert "imported 1" in result.stderr
