"""PDFs beside the records through the CLI: ingest (files and folders), attach, detach, rm and dedup
with files, show --text, open; every failure one line, nothing half-attached."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.fulltext.pages import load_text
from tests import pdfs
from tests.conftest import run
from tests.pdfs import made_pdfs, needs_latex

__all__ = ["made_pdfs"]


@pytest.fixture
def made(made_pdfs: dict[str, Path]) -> dict[str, Path]:
    return made_pdfs


def records(kb_dir: Path) -> dict[str, dict]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((kb_dir / "records").glob("*.yaml"))
    }


@needs_latex
def test_ingest_a_pdf_makes_a_record_with_its_file_and_text(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path]
) -> None:
    result = run(runner, kb_dir, "ingest", str(made["two"]))
    assert result.exit_code == 0, result.stderr
    [(paper_id, record)] = records(kb_dir).items()
    assert record["title"] == pdfs.TITLE and record["arxiv_id"] == pdfs.ARXIV_ID and record["year"] == 2024
    assert record["authors"] == pdfs.AUTHORS and record["abstract"].startswith("To combat")
    assert record["sources"] == [{"file": "two.pdf", "format": "pdf", "listing_date": None, "position": None}]
    [entry] = record["files"]
    assert entry["path"] == f"files/{paper_id}/two.pdf" and "linked" not in entry
    stored = kb_dir / entry["path"]
    assert stored.read_bytes() == made["two"].read_bytes() and entry["size"] == stored.stat().st_size
    assert entry["pages"] == 4 and entry["extractor"].startswith("pypdfium2 ")
    text = load_text(kb_dir, entry["sha256"])
    assert text is not None and text.status == "ok" and len(text.pages) == 4
    assert f"new record {paper_id} ({pdfs.TITLE}) (not found: DOI)" in result.stderr
    assert "/files/" in (kb_dir / ".gitignore").read_text().splitlines()  # out of git unless the owner wants
    # the same file again, under another name: one attachment
    copy = kb_dir.parent / "copy-of-two.pdf"
    shutil.copy(made["two"], copy)
    again = run(runner, kb_dir, "ingest", str(copy))
    assert again.exit_code == 0 and f"already attached to {paper_id}" in again.stderr
    assert len(records(kb_dir)[paper_id]["files"]) == 1


@needs_latex
def test_a_pdf_whose_arxiv_id_a_record_has_attaches_to_it(
    runner: CliRunner, kb_dir: Path, seed_path: Path, made: dict[str, Path]
) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    hydra = (
        KnowledgeBase.open(kb_dir).update_record("hydra", lambda p: setattr(p, "arxiv_id", pdfs.ARXIV_ID)).id
    )
    before = records(kb_dir)[hydra]
    result = run(runner, kb_dir, "ingest", str(made["two"]))
    assert result.exit_code == 0 and f"attached to {hydra}" in result.stderr
    after = records(kb_dir)[hydra]
    assert after["title"] == before["title"] and len(after["files"]) == 1  # the record's values stay
    assert len(records(kb_dir)) == 69


@needs_latex
def test_a_pdf_whose_title_a_record_has_attaches_to_it(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path], tmp_path: Path
) -> None:
    listing = tmp_path / "mine.bib"
    listing.write_text(f"@article{{a, title={{{pdfs.TITLE.upper()}}}, year={{2024}}}}\n", encoding="utf-8")
    run(runner, kb_dir, "ingest", str(listing))
    [paper_id] = records(kb_dir)
    result = run(runner, kb_dir, "ingest", str(made["one"]))  # no stamp, no id: the title matches
    assert result.exit_code == 0 and f"attached to {paper_id}" in result.stderr
    assert len(records(kb_dir)[paper_id]["files"]) == 1 and len(records(kb_dir)) == 1


@needs_latex
def test_a_folder_ingest_goes_on_past_bad_files_and_names_them(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "papers"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(made["one"], folder / "good.pdf")
    for name in ("empty", "html", "encrypted", "truncated"):
        shutil.copy(made[name], folder / "sub" / f"{name}.pdf")
    (folder / "notes.docx").write_bytes(b"ignored")
    without = run(runner, kb_dir, "ingest", str(folder))
    assert without.exit_code != 0 and "is a folder (add --recursive" in without.stderr
    result = run(runner, kb_dir, "ingest", str(folder), "--recursive")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "sub/" in line]
    assert len(lines) == 4 and all(line.count("\n") == 0 for line in lines)
    said = "\n".join(lines)
    assert "empty.pdf: empty file (0 bytes)" in said and "html.pdf: an HTML page" in said
    assert "encrypted.pdf: encrypted: it needs a password" in said and "truncated.pdf: damaged" in said
    assert "1 new record, 0 attached to existing records, 0 already attached, 4 failed" in result.stderr
    assert len(records(kb_dir)) == 1 and "Traceback" not in result.stderr


def test_nothing_added_is_a_non_zero_exit_and_nothing_is_written(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path]
) -> None:
    result = run(runner, kb_dir, "ingest", str(made["empty"]), str(made["html"]))
    assert result.exit_code == 1
    assert f"{made['empty']}: empty file (0 bytes)" in result.stderr
    assert "Error: nothing was added" in result.stderr
    assert not list(kb_dir.glob("records/*.yaml")) and not list(kb_dir.glob("files/**/*.pdf"))


def test_a_scan_is_attached_and_said_to_be_not_searchable(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path]
) -> None:
    result = run(runner, kb_dir, "ingest", str(made["scan"]))
    assert result.exit_code == 0
    assert "no text layer (a scan?), not searchable" in result.stderr
    [(paper_id, record)] = records(kb_dir).items()
    assert record["title"] == "scan" and record["files"][0]["pages"] == 1
    text = run(runner, kb_dir, "show", paper_id, "--text")
    assert text.exit_code == 1 and "no text to show: no text layer" in text.stderr


@needs_latex
def test_attach_detach_and_show_text_by_page(
    runner: CliRunner, kb_dir: Path, seed_path: Path, made: dict[str, Path]
) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    attached = run(runner, kb_dir, "attach", "mirror speculative", str(made["one"]))
    assert attached.exit_code == 0, attached.stderr
    paper = KnowledgeBase.open(kb_dir).get("mirror speculative")
    [entry] = paper.files
    cached = load_text(kb_dir, entry["sha256"])
    assert cached is not None
    [number] = [n for n, text in enumerate(cached.pages, 1) if "key value cache" in text.replace("\n", " ")]
    page = run(runner, kb_dir, "show", "mirror speculative", "--text", "--page", str(number))
    assert page.exit_code == 0 and f"page {number}" in page.stdout and "page 1 " not in page.stdout
    assert "key value cache" in page.stdout.replace("\n", " ")
    whole = run(runner, kb_dir, "show", "mirror speculative", "--text", "--json")
    assert [p["page"] for p in __import__("json").loads(whole.stdout)] == list(range(1, entry["pages"] + 1))
    beyond = run(runner, kb_dir, "show", "mirror speculative", "--text", "--page", "99")
    assert beyond.exit_code == 2 and f"has {entry['pages']} pages" in beyond.stderr
    shown = run(runner, kb_dir, "show", "mirror speculative")
    assert "one.pdf" in shown.stdout and f"({entry['pages']} pages)" in shown.stdout
    again = run(runner, kb_dir, "attach", "mirror speculative", str(made["one"]))
    assert "already attached" in again.stderr
    bad = run(runner, kb_dir, "attach", "mirror speculative", str(made["encrypted"]))
    assert (
        bad.exit_code == 1
        and "encrypted: it needs a password" in bad.stderr
        and "nothing was attached" in bad.stderr
    )
    assert len(KnowledgeBase.open(kb_dir).get("mirror speculative").files) == 1
    stored = kb_dir / entry["path"]
    kept = run(runner, kb_dir, "detach", "mirror speculative")
    assert kept.exit_code == 0 and "the file is kept" in kept.stderr and stored.exists()
    assert KnowledgeBase.open(kb_dir).get("mirror speculative").files == []
    run(runner, kb_dir, "attach", "mirror speculative", str(made["one"]))
    deleted = run(runner, kb_dir, "detach", "mirror speculative", "--delete")
    assert deleted.exit_code == 0 and "deleted" in deleted.stderr and not stored.exists()
    none = run(runner, kb_dir, "detach", "mirror speculative")
    assert none.exit_code == 1 and "has no file attached" in none.stderr


@needs_latex
def test_a_linked_file_is_not_copied_and_never_deleted(
    runner: CliRunner, kb_dir: Path, seed_path: Path, made: dict[str, Path], tmp_path: Path
) -> None:
    mine = tmp_path / "mine.pdf"
    shutil.copy(made["one"], mine)
    run(runner, kb_dir, "ingest", str(seed_path))
    result = run(runner, kb_dir, "attach", "mirror speculative", str(mine), "--link")
    assert result.exit_code == 0
    [entry] = KnowledgeBase.open(kb_dir).get("mirror speculative").files
    assert entry["path"] == str(mine.resolve()) and entry["linked"] is True
    assert not (kb_dir / "files").exists()
    run(runner, kb_dir, "detach", "mirror speculative", "--delete")
    assert mine.exists()


@needs_latex
def test_rm_deletes_a_file_only_when_no_other_record_has_it(
    runner: CliRunner, kb_dir: Path, seed_path: Path, made: dict[str, Path]
) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    run(runner, kb_dir, "attach", "mirror speculative", str(made["one"]))
    shared = run(runner, kb_dir, "attach", "hydra", str(made["one"]))
    assert "the same file is attached to" in shared.stderr
    kb = KnowledgeBase.open(kb_dir)
    [mirror_file] = kb.get("mirror speculative").files
    [hydra_file] = kb.get("hydra").files
    assert mirror_file["path"] == hydra_file["path"]  # one copy, two records
    stored = kb_dir / mirror_file["path"]
    assert run(runner, kb_dir, "rm", "mirror speculative").exit_code == 0
    assert stored.exists()  # hydra still has it
    assert run(runner, kb_dir, "rm", "hydra").exit_code == 0
    assert not stored.exists() and not stored.parent.exists()  # nothing orphaned


@needs_latex
def test_dedup_keeps_the_files_of_both_records(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path], tmp_path: Path
) -> None:
    from litkb.models import Paper

    listing = tmp_path / "one.bib"
    listing.write_text(
        "@article{a, title={A Paper on Caches}, year={2024}, doi={10.1/abc}}\n", encoding="utf-8"
    )
    run(runner, kb_dir, "ingest", str(listing))
    kb = KnowledgeBase.open(kb_dir)
    kb.store.save_many(
        [Paper(title="A paper on caches (preprint)", id="preprint-copy", doi="10.1/ABC", year=2024)]
    )
    assert run(runner, kb_dir, "attach", "a paper on caches", str(made["one"])).exit_code == 0
    assert run(runner, kb_dir, "attach", "preprint-copy", str(made["two"])).exit_code == 0
    merged = run(runner, kb_dir, "dedup", "--apply")
    assert merged.exit_code == 0, merged.stderr
    [(kept, record)] = records(kb_dir).items()
    assert len(record["files"]) == 2  # both files, each once, each still on disk
    assert all((kb_dir / f["path"]).exists() for f in record["files"])
    assert run(runner, kb_dir, "rm", kept).exit_code == 0
    assert not (kb_dir / "files").exists() or not any((kb_dir / "files").rglob("*.pdf"))


@needs_latex
def test_open_uses_the_platforms_opener_and_says_when_there_is_none(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(runner, kb_dir, "ingest", str(made["two"]))
    paper_id = next(iter(records(kb_dir)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "opened.txt"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$@" >> {log}\n', encoding="utf-8")
    opener.chmod(opener.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = run(runner, kb_dir, "open", paper_id, "--page", "3")
    assert result.exit_code == 0, result.stderr
    stored = (kb_dir / records(kb_dir)[paper_id]["files"][0]["path"]).resolve()
    assert log.read_text().strip() == stored.as_uri() + "#page=3"
    assert run(runner, kb_dir, "open", paper_id, "--page", "9").exit_code == 2
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    missing = run(runner, kb_dir, "open", paper_id)
    assert missing.exit_code == 1 and "no program to open files with" in missing.stderr
    assert str(stored) in missing.stderr.replace("\n", "")


@needs_latex
def test_exports_name_the_file_bibtex_as_jabref_and_zotero_read_it(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path]
) -> None:
    import bibtexparser
    import pybtex.database

    run(runner, kb_dir, "ingest", str(made["two"]))
    [(_paper_id, record)] = records(kb_dir).items()
    stored = (kb_dir / record["files"][0]["path"]).resolve()
    bib = run(runner, kb_dir, "export", "-f", "bibtex")
    assert bib.exit_code == 0, bib.output
    [entry] = bibtexparser.parse_string(bib.stdout).entries
    escaped = str(stored).replace("\\", "\\\\").replace(":", "\\:").replace(";", "\\;")
    assert entry.fields_dict["file"].value == f":{escaped}:PDF"
    assert pybtex.database.parse_string(bib.stdout, "bibtex").entries  # BibTeX tools take the field
    md = run(runner, kb_dir, "export", "-f", "markdown")
    assert f"PDF: [two.pdf](<{stored.as_uri()}>)" in md.stdout


@needs_latex
def test_a_record_that_cannot_be_written_takes_its_new_copy_with_it(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from litkb.errors import LitkbError
    from litkb.store import RecordStore

    def full_disk(self: RecordStore, papers: object) -> int:
        raise LitkbError("cannot write records/x.yaml: No space left on device; nothing was changed")

    monkeypatch.setattr(RecordStore, "save_many", full_disk)
    result = run(runner, kb_dir, "ingest", str(made["one"]))
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert not list(kb_dir.glob("files/**/*.pdf")) and not list(kb_dir.glob("records/*.yaml"))


@needs_latex
def test_the_text_is_extracted_again_when_its_cache_is_gone(
    runner: CliRunner, kb_dir: Path, made: dict[str, Path]
) -> None:
    run(runner, kb_dir, "ingest", str(made["one"]))
    paper_id = next(iter(records(kb_dir)))
    shutil.rmtree(kb_dir / ".cache" / "text")
    result = run(runner, kb_dir, "show", paper_id, "--text", "--page", "1")
    assert result.exit_code == 0 and pdfs.TITLE.split()[0] in result.stdout


def test_a_pdf_makes_a_new_knowledge_base_but_never_writes_into_another_folder(
    runner: CliRunner, tmp_path: Path, made: dict[str, Path]
) -> None:
    """What a new user does first: a PDF into a folder that is no knowledge base yet (missing, or empty) makes
    one; a folder that holds other things gets one error line and nothing written in it (not even the
    text cache that reading the PDF would leave)."""
    for fresh in (tmp_path / "new-kb", tmp_path / "empty-kb"):
        if fresh.name == "empty-kb":
            fresh.mkdir()
        result = run(runner, fresh, "ingest", str(made["two"]))
        assert result.exit_code == 0, result.stderr
        assert (fresh / "config.yaml").is_file() and len(list((fresh / "records").glob("*.yaml"))) == 1
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine\n")
    result = run(runner, project, "ingest", str(made["two"]))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "is not a knowledge base" in result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]
