"""Zotero libraries: read from zotero.sqlite without changing it, every item with its tags, collections,
notes, PDFs, annotations and citation keys, and kept in step on the next import."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from litkb.errors import InputError
from litkb.fulltext import library
from litkb.fulltext.pages import load_text
from litkb.kb import KnowledgeBase
from litkb.models import ZOTERO_NOTES_START, Paper
from litkb.parsers import ParseOptions
from litkb.parsers.zotero import read as read_zotero
from litkb.sync import zotero_pdfs
from tests.conftest import run
from tests.pdfs import HAVE_LATEX, SECRET_SENTENCE, latex_pdf, paper_tex
from tests.zotero_fixture import ZoteroLibrary

VERSIONS = ["6", "7", "10"]
BIG = "word " * 210_000  # a 1 MB abstract


@dataclass
class Sample:
    lib: ZoteroLibrary
    ids: dict[str, int]
    linked: Path


def build_sample(folder: Path, version: str, home: Path) -> Sample:
    """A library with an item of each kind the tests look at."""
    lib = ZoteroLibrary(folder / "Zotero", version)
    ids: dict[str, int] = {}
    thesis = lib.collection("Thesis")
    related = lib.collection("Related work", thesis)
    other = lib.collection("Reading group")
    ids["article"] = lib.item(
        "journalArticle",
        {
            "title": "Attention Is All You Need",
            "abstractNote": "The dominant sequence transduction models are based on recurrent networks.",
            "date": "2017-06-12 June 12, 2017",
            "DOI": "https://doi.org/10.5555/3295222.3295349",
            "url": "https://papers.example.org/attention",
            "publicationTitle": "Advances in Neural Information Processing Systems",
            "volume": "30",
            "issue": "4",
            "pages": "5998-6008",
            "publisher": "Curran Associates",
            "language": "en",
            "extra": "Citation Key: vaswani2017attention\ntex.howpublished: online\nPMID: 12345",
        },
        [("author", "Ashish", "Vaswani"), ("author", "Noam", "Shazeer"), ("editor", "Isabelle", "Guyon")],
        ["transformers", "to-cite"],
    )
    lib.add(related, ids["article"])
    lib.note(
        ids["article"],
        '<div data-schema-version="8"><h1>Why it matters</h1><p>Read the <a href="https://arxiv.org/abs/1706.03762">'
        "preprint</a> first &amp; compare.</p><ul><li>multi-head</li><li>no recurrence</li></ul>"
        "<script>alert(1)</script></div>",
    )
    pdf = lib.stored_pdf(ids["article"], "Vaswani - 2017 - Attention.pdf")
    lib.annotation(
        pdf,
        1,
        "Self-attention relates positions of a single sequence",
        "the key idea",
        "3",
        "00002|000100|00050",
    )
    lib.annotation(pdf, 2, "", "Compare with convolutional seq2seq", "5", "00004|000000|00010")
    lib.annotation(pdf, 3, "", "", "6", "00005|000000|00010")  # an image without a comment: nothing to keep
    ids["conference"] = lib.item(
        "conferencePaper",
        {
            "title": "Deep Residual Learning for Image Recognition",
            "date": "2016-06-00 June 2016",
            "proceedingsTitle": "Proceedings of CVPR",
            "conferenceName": "CVPR 2016",
            "pages": "770-778",
        },
        [("author", "Kaiming", "He"), ("author", "Xiangyu", "Zhang")],
    )
    lib.add(other, ids["conference"])
    linked = home / "papers" / "resnet.pdf"
    linked.parent.mkdir(parents=True, exist_ok=True)
    linked.write_bytes(b"%PDF-1.4\n%%EOF\n")
    lib.linked_file(ids["conference"], str(linked))
    lib.linked_file(ids["conference"], "attachments:relative/resnet-supp.pdf")
    (home / "base" / "relative").mkdir(parents=True, exist_ok=True)
    (home / "base" / "relative" / "resnet-supp.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    preprint_fields = {
        "title": "A Preprint About Sparse Mixtures",
        "archiveID": "arXiv:2401.01234",
        "repository": "arXiv",
        "url": "http://arxiv.org/abs/2401.01234v2",
        "date": "2024-01-03 2024-01-03",
    }
    if version != "6":
        preprint_fields["citationKey"] = "sparse2024mixtures"
    ids["preprint"] = lib.item("preprint", preprint_fields, [("author", "Ada", "Lovelace")])
    lib.add(related, ids["preprint"])
    ids["book"] = lib.item(
        "book",
        {
            "title": "Handbook of Edited Things",
            "publisher": "MIT Press",
            "place": "Cambridge, MA",
            "ISBN": "978-0-262-03384-8",
            "date": "2019-00-00 2019",
        },
        [("editor", "Grace", "Hopper"), ("editor", "Alan", "Turing")],
    )
    ids["chapter"] = lib.item(
        "bookSection",
        {
            "title": "A Chapter of Things",
            "bookTitle": "Handbook of Edited Things",
            "pages": "1-20",
            "date": "2019-00-00 2019",
        },
        [("author", "Barbara", "Liskov"), ("bookAuthor", "Donald", "Knuth"), ("editor", "Grace", "Hopper")],
    )
    ids["thesis"] = lib.item(
        "thesis",
        {
            "title": "On Thinking Machines",
            "university": "University of Somewhere",
            "thesisType": "PhD thesis",
            "date": "2020-09-00 September 2020",
        },
        [("author", "Claude", "Shannon")],
    )
    ids["report"] = lib.item(
        "report",
        {"title": "Technical Report on Things", "institution": "Bell Labs", "reportNumber": "TR-42"},
        [("author", "", "The Working Group")],
        single_field=True,
    )
    ids["webpage"] = lib.item(
        "webpage",
        {"title": "A Web Page", "websiteTitle": "Example Blog", "url": "https://blog.example.org/p"},
    )
    ids["software"] = lib.item(
        "computerProgram", {"title": "litkb, the Program"}, [("programmer", "Linus", "Torvalds")]
    )
    ids["trashed"] = lib.item(
        "journalArticle", {"title": "A Trashed Article", "DOI": "10.1000/trashed"}, [("author", "T", "Rash")]
    )
    lib.trash(ids["trashed"])
    ids["hostile"] = lib.item(
        "journalArticle",
        {
            "title": "Ünïcödé \u202ebidi\u202c 𝔘𝔫𝔦 — «quotes» 🙂 e\u0301",
            "abstractNote": BIG,
            "extra": "arXiv: 2101.00001v3\nOriginal Date: 1999",
        },
        [("author", "Zoë", "Ça")],
    )
    lib.note(
        ids["hostile"],
        "<p onclick='x()'>plain <b>bold</b> <img src='x'> <a href='javascript:evil()'>js</a></p>",
    )
    lib.note(None, "<p>A standalone thought</p>")
    lib.stored_pdf(None, "orphan.pdf")
    missing = lib.item("journalArticle", {"title": "Has a Missing PDF"})
    lib.stored_pdf(missing, "gone.pdf", write=False)
    ids["missing"] = missing
    lib.bbt({lib.key_of(ids["thesis"]): "shannon2020thinking", lib.key_of(ids["article"]): "vaswaniBBT"})
    lib.close()
    prefs = home / ".zotero" / "zotero" / "abc.default" / "prefs.js"
    prefs.parent.mkdir(parents=True)
    prefs.write_text(
        f'user_pref("extensions.zotero.baseAttachmentPath", "{home / "base"}");\n'
        f'user_pref("extensions.zotero.dataDir", "{lib.folder}");\n'
        'user_pref("extensions.zotero.useDataDir", true);\n',
        encoding="utf-8",
    )
    return Sample(lib, ids, linked)


def key_of(sample: Sample, name: str) -> str:
    """The Zotero key of one of the sample's items (read back from its database)."""
    with sqlite3.connect(sample.lib.path) as db:
        return str(db.execute("SELECT key FROM items WHERE itemID = ?", (sample.ids[name],)).fetchone()[0])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("LITKB_ZOTERO_PREFS", raising=False)
    monkeypatch.delenv("APPDATA", raising=False)
    return folder


def by_title(kb_dir: Path) -> dict[str, Paper]:
    return {p.title: p for p in KnowledgeBase.open(kb_dir).papers()}


def imported(
    tmp_path: Path, version: str, home: Path, kb_dir: Path, runner: CliRunner
) -> tuple[Result, dict[str, Paper]]:
    """The sample library of `version` ingested into `kb_dir`: the command's result, the records by title."""
    sample = build_sample(tmp_path, version, home)
    result = run(runner, kb_dir, "ingest", str(sample.lib.path))
    assert result.exit_code == 0, result.stderr
    return result, by_title(kb_dir)


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under a folder with its modification time and content hash."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_every_item_type_comes_across(
    version: str, tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    _, papers = imported(tmp_path, version, home, kb_dir, runner)
    assert "A Trashed Article" not in papers
    assert len(papers) == 11  # every regular item outside the trash, none from notes or attachments
    article = papers["Attention Is All You Need"]
    assert article.authors == ["Vaswani, Ashish", "Shazeer, Noam"]  # the editor is not an author
    assert article.extra["creators"] == {"editor": ["Guyon, Isabelle"]}
    assert (article.doi, article.date, article.year, article.date_raw) == (
        "10.5555/3295222.3295349", "2017-06-12", 2017, "June 12, 2017",
    )  # fmt: skip
    assert article.urls == ["https://papers.example.org/attention"]
    assert article.extra["journal"] == "Advances in Neural Information Processing Systems"
    names = ("volume", "number", "pages", "publisher", "language", "item_type")
    assert {k: article.extra[k] for k in names} == {
        "volume": "30", "number": "4", "pages": "5998-6008", "publisher": "Curran Associates",
        "language": "en", "item_type": "journalArticle",
    }  # fmt: skip
    assert article.citation_key == "vaswani2017attention"  # extra's pinned key before BBT's database
    assert article.extra["tex"] == {"howpublished": "online"}
    assert article.extra["extra"] == "PMID: 12345"
    assert article.sources[0].format == "zotero" and article.sources[0].file == "zotero.sqlite"
    assert article.tags == ["to-cite", "transformers", "zotero:Thesis/Related work"]
    conference = papers["Deep Residual Learning for Image Recognition"]
    assert conference.extra["booktitle"] == "Proceedings of CVPR"
    assert conference.extra["eventtitle"] == "CVPR 2016"
    assert (conference.date, conference.year, conference.date_raw) == (None, 2016, "June 2016")
    preprint = papers["A Preprint About Sparse Mixtures"]
    assert preprint.arxiv_id == "2401.01234" and preprint.extra["publisher"] == "arXiv"
    book = papers["Handbook of Edited Things"]
    assert book.authors == [] and book.extra["creators"] == {"editor": ["Hopper, Grace", "Turing, Alan"]}
    assert book.extra["address"] == "Cambridge, MA" and book.extra["isbn"] == "978-0-262-03384-8"
    chapter = papers["A Chapter of Things"]
    assert (
        chapter.authors == ["Liskov, Barbara"] and chapter.extra["booktitle"] == "Handbook of Edited Things"
    )
    assert chapter.extra["creators"] == {"bookAuthor": ["Knuth, Donald"], "editor": ["Hopper, Grace"]}
    thesis = papers["On Thinking Machines"]
    assert thesis.extra["publisher"] == "University of Somewhere" and thesis.extra["type"] == "PhD thesis"
    assert thesis.citation_key == "shannon2020thinking"  # from Better BibTeX's own database
    report = papers["Technical Report on Things"]
    assert report.authors == ["The Working Group"] and report.extra["number"] == "TR-42"
    assert papers["A Web Page"].extra["container_title"] == "Example Blog"
    assert papers["litkb, the Program"].authors == ["Torvalds, Linus"]  # a program's primary creator
    if version != "6":
        assert preprint.citation_key == "sparse2024mixtures"  # Zotero's own citationKey field
    hostile = next(p for t, p in papers.items() if t.startswith("Ünïcödé"))
    assert hostile.abstract is not None and len(hostile.abstract) > 1_000_000
    assert hostile.arxiv_id == "2101.00001" and hostile.extra["extra"] == "Original Date: 1999"
    assert "🙂" in hostile.title and hostile.authors == ["Ça, Zoë"]


@pytest.mark.parametrize("version", VERSIONS)
def test_notes_annotations_and_what_is_reported(
    version: str, tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    result, papers = imported(tmp_path, version, home, kb_dir, runner)
    notes = papers["Attention Is All You Need"].notes or ""
    assert notes.startswith(ZOTERO_NOTES_START)
    assert "Why it matters\nRead the [preprint](https://arxiv.org/abs/1706.03762) first & compare." in notes
    assert "- multi-head\n- no recurrence" in notes and "alert" not in notes
    assert (
        "Annotations (Full Text PDF):\n"
        "p. 3: “Self-attention relates positions of a single sequence” — the key idea" in notes
    )
    assert "p. 5: Compare with convolutional seq2seq" in notes and "p. 6" not in notes
    hostile = next(p for t, p in papers.items() if t.startswith("Ünïcödé"))
    assert "plain bold [image] js" in (hostile.notes or "") and "evil" not in (hostile.notes or "")
    assert "1 item(s) in Zotero's trash skipped" in result.stderr
    assert "1 standalone note(s) not imported ('A standalone thought')" in result.stderr
    assert "orphan.pdf" in result.stderr  # a PDF without a parent item is named, not dropped silently
    assert "1 PDF(s) Zotero lists are not on disk" in result.stderr and "gone.pdf" in result.stderr


def test_pdf_paths_stored_linked_and_relative(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, "7", home)
    assert run(runner, kb_dir, "ingest", str(sample.lib.path)).exit_code == 0
    papers = by_title(kb_dir)
    stored = papers["Attention Is All You Need"].extra["zotero"]["pdfs"]
    key = stored[0]["key"]
    assert stored == [
        {
            "key": key,
            "path": str(sample.lib.folder / "storage" / key / "Vaswani - 2017 - Attention.pdf"),
            "linked": False,
        }
    ]
    linked = papers["Deep Residual Learning for Image Recognition"].extra["zotero"]["pdfs"]
    assert [(f["path"], f["linked"]) for f in linked] == [
        (str(sample.linked), True),
        (str(home / "base" / "relative" / "resnet-supp.pdf"), True),  # `attachments:` under prefs.js's base
    ]
    missing = papers["Has a Missing PDF"].extra["zotero"]["pdfs"]
    assert missing[0]["missing"] is True
    assert zotero_pdfs(papers["Has a Missing PDF"]) == []
    assert zotero_pdfs(papers["Deep Residual Learning for Image Recognition"]) == [
        (str(sample.linked), True),
        (str(home / "base" / "relative" / "resnet-supp.pdf"), True),
    ]
    shown = run(runner, kb_dir, "show", papers["Attention Is All You Need"].id)
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert f"user/{key_of(sample, 'article')} (modified in Zotero 2024-01-02 03:04:05)" in text
    assert "Vaswani - 2017 - Attention.pdf" in text and "p. 5: Compare with convolutional seq2seq" in text
    assert "digest" not in text


def test_never_writes_to_the_zotero_folder_and_reads_while_zotero_holds_its_lock(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, "7", home)
    before = snapshot(sample.lib.folder)
    zotero = sqlite3.connect(sample.lib.path)  # Zotero running: an exclusive lock on its database
    zotero.execute("PRAGMA locking_mode = EXCLUSIVE")
    zotero.execute("BEGIN EXCLUSIVE")
    try:
        result = run(runner, kb_dir, "ingest", str(sample.lib.path))
    finally:
        zotero.rollback()
        zotero.close()
    assert result.exit_code == 0, result.stderr
    assert "imported 11" in result.stderr
    assert snapshot(sample.lib.folder) == before  # nothing written, no journal or -wal file left


def test_data_folder_with_format(tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner) -> None:
    sample = build_sample(tmp_path, "6", home)
    result = run(runner, kb_dir, "ingest", "--format", "zotero", str(sample.lib.folder))
    assert result.exit_code == 0, result.stderr
    assert "imported 11" in result.stderr
    again = run(runner, kb_dir, "ingest", str(sample.lib.folder))  # a data folder is recognised too
    assert "imported 0, updated 0, unchanged 11" in again.stderr


def test_bad_files_get_one_line_errors(tmp_path: Path, kb_dir: Path, runner: CliRunner) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    plain = tmp_path / "other.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.commit()
    unknown = tmp_path / "unknown" / "zotero.sqlite"
    unknown.parent.mkdir()
    db = sqlite3.connect(unknown)
    db.executescript(
        "CREATE TABLE version (schema TEXT, version INT); INSERT INTO version VALUES ('userdata', 999);"
        "CREATE TABLE items (itemID INTEGER PRIMARY KEY); CREATE TABLE itemData (itemID INT);"
    )
    db.close()
    corrupt = tmp_path / "corrupt" / "zotero.sqlite"
    corrupt.parent.mkdir()
    good = build_sample(tmp_path / "good", "7", tmp_path / "good-home").lib.path
    corrupt.write_bytes(good.read_bytes()[:4096] + b"\x00garbage" * 600)
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()
    cases = [
        (["--format", "zotero", str(text)], "not a SQLite database"),
        ([str(plain)], "not a Zotero one"),
        ([str(unknown)], "a schema litkb does not know (userdata version 999; no table libraries)"),
        ([str(corrupt)], "corrupt/zotero.sqlite"),
        (["--format", "zotero", str(empty_folder)], "a folder without zotero.sqlite"),
    ]
    for args, message in cases:
        result = run(runner, kb_dir, "ingest", *args)
        assert result.exit_code != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, (
            args,
            result.stderr,
        )
    assert not (kb_dir / "records").exists() or not any((kb_dir / "records").iterdir())


def test_reimport_keeps_in_step(tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner) -> None:
    sample = build_sample(tmp_path, "7", home)
    path = str(sample.lib.path)
    assert run(runner, kb_dir, "ingest", path).exit_code == 0
    records = kb_dir / "records"
    files = {p.name: p.stat().st_mtime_ns for p in records.iterdir()}
    again = run(runner, kb_dir, "ingest", path)
    assert "imported 0, updated 0, unchanged 11, skipped 0" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in records.iterdir()} == files  # nothing written
    kb = KnowledgeBase.open(kb_dir)
    article = by_title(kb_dir)["Attention Is All You Need"]
    # The owner's own marks in litkb, which Zotero knows nothing of.
    kb.update_record(
        article.id,
        lambda p: (p.tags.append("mine"), setattr(p, "status", "read"), setattr(p, "rating", "like")),
    )
    assert run(runner, kb_dir, "note", article.id, "-m", "My own thought.").exit_code == 0
    # Edited in Zotero: the title, a tag removed, a note added.
    lib = sample.lib
    lib.db = sqlite3.connect(lib.path)
    lib.set(sample.ids["article"], "title", "Attention Is All You Need (revised)")
    lib.untag(sample.ids["article"], "to-cite")
    lib.note(sample.ids["article"], "<p>A second note</p>")
    lib.close()
    third = run(runner, kb_dir, "ingest", path)
    assert third.exit_code == 0, third.stderr
    assert "imported 0, updated 1, unchanged 10" in third.stderr
    assert "changed: title in 1, tags in 1, notes in 1" in third.stderr
    revised = KnowledgeBase.open(kb_dir).get(article.id)
    assert revised.title == "Attention Is All You Need (revised)"
    assert revised.tags == ["transformers", "zotero:Thesis/Related work", "mine"]
    assert (revised.status, revised.rating) == ("read", "like")
    notes = revised.notes or ""
    assert notes.count(ZOTERO_NOTES_START) == 1 and "A second note" in notes
    assert notes.rstrip().endswith("My own thought.")  # the owner's note, after Zotero's block, kept


def test_trash_removes_only_records_from_zotero_alone(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, "7", home)
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{resnet, title={Deep Residual Learning for Image Recognition}, year={2016}}\n")
    assert run(runner, kb_dir, "ingest", str(bib)).exit_code == 0
    first = run(runner, kb_dir, "ingest", str(sample.lib.path))
    assert "imported 10, updated 1" in first.stderr  # the BibTeX record gained Zotero as a second source
    resnet = by_title(kb_dir)["Deep Residual Learning for Image Recognition"]
    assert [s.format for s in resnet.sources] == ["bibtex", "zotero"]
    lib = sample.lib
    lib.db = sqlite3.connect(lib.path)
    lib.trash(sample.ids["conference"])
    lib.trash(sample.ids["book"])
    lib.close()
    result = run(runner, kb_dir, "ingest", str(sample.lib.path))
    assert result.exit_code == 0, result.stderr
    assert "removed 1 record(s) whose Zotero item was deleted or trashed" in result.stderr
    assert "'Handbook of Edited Things'" in result.stderr
    assert "kept 1 record(s)" in result.stderr
    papers = by_title(kb_dir)
    assert "Handbook of Edited Things" not in papers
    kept = papers["Deep Residual Learning for Image Recognition"]
    assert [s.format for s in kept.sources] == ["bibtex"] and "zotero" not in kept.extra


def test_same_paper_from_bibtex_is_one_record_and_two_keys_are_two_papers(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    lib = ZoteroLibrary(tmp_path / "Zotero", "7")
    lib.item("journalArticle", {"title": "Same Title", "date": "2020-00-00 2020"}, [("author", "A", "One")])
    lib.item("journalArticle", {"title": "Same Title", "date": "2020-00-00 2020"}, [("author", "B", "Two")])
    lib.item("journalArticle", {"title": "Known by DOI", "DOI": "10.1/abc"})
    lib.close()
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k, title={Something Else Entirely}, doi={10.1/ABC}, year={2020}}\n")
    assert run(runner, kb_dir, "ingest", str(bib)).exit_code == 0
    result = run(runner, kb_dir, "ingest", str(lib.path))
    assert "imported 2, updated 1" in result.stderr, result.stderr
    papers = KnowledgeBase.open(kb_dir).papers()
    assert sorted(p.title for p in papers) == ["Same Title", "Same Title", "Something Else Entirely"]
    merged = next(p for p in papers if p.doi)
    assert [s.format for s in merged.sources] == ["bibtex", "zotero"]


def test_collection_selects_it_and_its_children(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, "10", home)
    result = run(runner, kb_dir, "ingest", str(sample.lib.path), "--collection", "Thesis")
    assert result.exit_code == 0, result.stderr
    assert sorted(by_title(kb_dir)) == ["A Preprint About Sparse Mixtures", "Attention Is All You Need"]
    listed = run(runner, kb_dir, "list", "--tag", "zotero:Thesis/Related work", "--json")
    assert listed.exit_code == 0 and "Attention Is All You Need" in listed.stdout
    wrong = run(runner, kb_dir, "ingest", str(sample.lib.path), "--collection", "Thesis/Nope")
    assert wrong.exit_code != 0
    assert (
        "--collection Thesis/Nope: no such collection" in wrong.stderr
        and "Thesis/Related work" in wrong.stderr
    )
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k, title={T}}\n")
    not_zotero = run(runner, kb_dir, "ingest", str(bib), "--collection", "Thesis")
    assert not_zotero.exit_code == 2 and "--collection reads a Zotero library" in not_zotero.stderr


def test_group_libraries_and_their_collections(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    lib = ZoteroLibrary(tmp_path / "Zotero", "7")
    lib.group(2, 4711, "Lab")
    shared = lib.collection("Shared", library=2)
    item = lib.item("journalArticle", {"title": "A Group Paper"}, library=2)
    lib.add(shared, item)
    lib.close()
    assert run(runner, kb_dir, "ingest", str(lib.path), "--collection", "Lab/Shared").exit_code == 0
    paper = by_title(kb_dir)["A Group Paper"]
    assert paper.tags == ["zotero:Lab/Shared"] and paper.extra["zotero"]["library"] == "group/4711"


@pytest.mark.parametrize("version", VERSIONS)
def test_citation_keys_reach_the_bibtex_export(
    version: str, tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, version, home)
    assert run(runner, kb_dir, "ingest", str(sample.lib.path)).exit_code == 0
    exported = run(runner, kb_dir, "export", "--format", "bibtex")
    assert exported.exit_code == 0, exported.stderr
    assert "@article{vaswani2017attention," in exported.stdout
    assert "{shannon2020thinking," in exported.stdout
    if version != "6":
        assert "{sparse2024mixtures," in exported.stdout


def test_annotations_are_searchable(tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner) -> None:
    sample = build_sample(tmp_path, "7", home)
    assert run(runner, kb_dir, "ingest", str(sample.lib.path)).exit_code == 0
    assert run(runner, kb_dir, "index").exit_code == 0
    kb = KnowledgeBase.open(kb_dir)
    hits = kb.search("convolutional seq2seq", k=3, mode="keyword")
    assert hits and hits[0]["title"] == "Attention Is All You Need"
    assert hits[0]["snippet"] == "p. 5: Compare with convolutional seq2seq"  # the user's words, with the page
    meaning = kb.search("relates positions of a single sequence", k=1, mode="semantic")
    assert meaning[0]["title"] == "Attention Is All You Need"
    assert "p. 3: “Self-attention relates positions of a single sequence”" in meaning[0]["snippet"]


def test_bibtex_export_keeps_what_zotero_had(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner
) -> None:
    sample = build_sample(tmp_path, "7", home)
    assert run(runner, kb_dir, "ingest", str(sample.lib.path)).exit_code == 0
    exported = run(runner, kb_dir, "export", "--format", "bibtex").stdout
    article = exported[exported.index("@article{vaswani2017attention,") :].split("\n}\n")[0]
    for line in ("volume = {30}", "number = {4}", "pages = {5998-6008}", "publisher = {Curran Associates}"):
        assert line in article
    assert "editor = {Guyon, Isabelle}" in article and "Guyon" not in article.split("editor =")[0]
    assert "@book{" in exported and "editor = {Hopper, Grace and Turing, Alan}" in exported
    assert "@phdthesis{shannon2020thinking," in exported and "school = {University of Somewhere}" in exported
    # Types whose required fields the item lacks fall back as every export does (README, "Export"): the
    # report has no year (@misc), the chapter no publisher (@inproceedings, its book as booktitle).
    assert "institution = {Bell Labs}" in exported and "number = {TR-42}" in exported
    chapter = exported[exported.index("@inproceedings{liskov2019chapter,") :].split("\n}\n")[0]
    assert "booktitle = {Handbook of Edited Things}" in chapter and "editor = {Hopper, Grace}" in chapter


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=200_000), noise=st.binary(min_size=1, max_size=64))
def test_damaged_databases_are_one_line_errors(tmp_path: Path, cut: int, noise: bytes) -> None:
    """A Zotero database cut short or overwritten in places: an InputError naming the file, or papers;
    never another exception."""
    good = tmp_path / "good" / "zotero.sqlite"
    if not good.exists():
        lib = ZoteroLibrary(good.parent, "7")
        for n in range(40):
            lib.item("journalArticle", {"title": f"Paper {n}", "abstractNote": "text " * 50}, tags=[f"t{n}"])
        lib.close()
    data = bytearray(good.read_bytes())
    damaged = tmp_path / "bad.sqlite"
    damaged.write_bytes(bytes(data[:cut]) + noise + bytes(data[cut + len(noise) :]))
    try:
        result = read_zotero(damaged, ParseOptions(str(damaged)))
    except InputError as exc:
        assert str(exc).startswith(str(damaged)) and "\n" not in str(exc)
    else:
        assert all(p.title for p in result.papers)


def test_reads_the_changes_zotero_keeps_in_its_write_ahead_log(
    tmp_path: Path, kb_dir: Path, runner: CliRunner
) -> None:
    """Zotero 10 runs its database in WAL mode: while Zotero runs, its latest changes are in
    zotero.sqlite-wal, not yet in zotero.sqlite; they come across, and nothing in the folder changes."""
    lib = ZoteroLibrary(tmp_path / "Zotero", "10")
    lib.item("journalArticle", {"title": "Written Before"})
    lib.close()
    zotero = sqlite3.connect(lib.path)  # Zotero, running: WAL mode, its exclusive lock, no checkpoint yet
    zotero.execute("PRAGMA journal_mode = WAL")
    zotero.execute("PRAGMA wal_autocheckpoint = 0")
    zotero.execute("PRAGMA locking_mode = EXCLUSIVE")
    lib.db = zotero
    lib.item("journalArticle", {"title": "Only in the Write-Ahead Log"})
    zotero.commit()
    wal = lib.path.with_name("zotero.sqlite-wal")
    assert wal.stat().st_size > 0
    before = snapshot(lib.folder)
    try:
        result = run(runner, kb_dir, "ingest", str(lib.path))
        after = snapshot(lib.folder)  # while "Zotero" still runs (closing, it checkpoints its log)
    finally:
        zotero.close()
    assert result.exit_code == 0, result.stderr
    assert sorted(by_title(kb_dir)) == ["Only in the Write-Ahead Log", "Written Before"]
    assert after == before


def test_what_is_in_the_trash_stays_out(tmp_path: Path, kb_dir: Path, runner: CliRunner) -> None:
    """A collection in the trash (and its subcollections) tags nothing; a trashed child note, PDF or
    annotation is not kept; an item with no title is skipped and named; automatic tags come too."""
    lib = ZoteroLibrary(tmp_path / "Zotero", "7")
    kept, gone = lib.collection("Kept"), lib.collection("Gone")
    below = lib.collection("Below", gone)
    item = lib.item("journalArticle", {"title": "Still Here"}, tags=["manual"])
    lib.tag(item, "Automatic Subject", automatic=True)
    for collection in (kept, gone, below):
        lib.add(collection, item)
    lib.db.execute("INSERT INTO deletedCollections (collectionID) VALUES (?)", (gone,))
    lib.trash(lib.note(item, "<p>a trashed note</p>"))
    lib.note(item, "<p>a live note</p>")
    trashed_pdf = lib.stored_pdf(item, "old.pdf")
    lib.annotation(trashed_pdf, 1, "highlight on a trashed PDF", "", "1", "00001|0|0")
    lib.trash(trashed_pdf)
    live_pdf = lib.stored_pdf(item, "new.pdf")
    lib.trash(lib.annotation(live_pdf, 1, "a trashed highlight", "", "2", "00002|0|0"))
    lib.annotation(live_pdf, 1, "a live highlight", "", "3", "00003|0|0")
    lib.item("journalArticle", {"abstractNote": "no title here"})
    lib.close()
    result = run(runner, kb_dir, "ingest", str(lib.path))
    assert result.exit_code == 0, result.stderr
    assert "skipped 1" in result.stderr and "(journalArticle)': no title" in result.stderr
    [paper] = KnowledgeBase.open(kb_dir).papers()
    assert paper.tags == ["Automatic Subject", "manual", "zotero:Kept"]
    notes = paper.notes or ""
    assert "a live note" in notes and "a trashed note" not in notes
    assert "p. 3: “a live highlight”" in notes and "trashed" not in notes
    assert [Path(p["path"]).name for p in paper.extra["zotero"]["pdfs"]] == ["new.pdf"]


def test_a_linked_file_under_an_unknown_base_directory_is_reported(
    tmp_path: Path, home: Path, kb_dir: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = build_sample(tmp_path, "7", home)
    monkeypatch.setenv("LITKB_ZOTERO_PREFS", str(tmp_path / "no-such-prefs.js"))
    result = run(runner, kb_dir, "ingest", str(sample.lib.path))
    assert result.exit_code == 0, result.stderr
    assert "2 PDF(s) Zotero lists are not on disk" in result.stderr
    assert "'resnet-supp.pdf (linked under a base directory litkb could not find)'" in result.stderr
    pdfs = by_title(kb_dir)["Deep Residual Learning for Image Recognition"].extra["zotero"]["pdfs"]
    assert pdfs[1] == {"key": pdfs[1]["key"], "path": "", "linked": True, "missing": True}


# -- Zotero's PDFs: attached by reference, their text read by the next `litkb index` ------------------


@pytest.fixture(scope="module")
def real_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Three real papers (pdflatex), each with its own title, as bytes."""
    if not HAVE_LATEX:
        pytest.skip("pdflatex is not installed (apt install texlive-latex-base)")
    folder = tmp_path_factory.mktemp("zotero-pdfs")
    titles = {"stored": "Stored Paper on Caches", "linked": "Linked Paper on Heads", "mine": "My Own Paper"}
    return {
        name: latex_pdf(folder, name, paper_tex(title=t, pages=2)).read_bytes() for name, t in titles.items()
    }


@dataclass
class PdfLibrary:
    lib: ZoteroLibrary
    stored: int  # the item with a stored PDF
    stored_pdf: int  # that PDF's attachment item
    stored_key: str  # and its key
    linked: int  # the item with a linked PDF
    linked_path: Path
    damaged: int  # an item whose stored "PDF" is not a readable PDF


def pdf_library(tmp_path: Path, pdfs: dict[str, bytes]) -> PdfLibrary:
    lib = ZoteroLibrary(tmp_path / "Zotero", "7")
    stored = lib.item("journalArticle", {"title": "Stored Paper on Caches"}, [("author", "A", "One")])
    stored_pdf = lib.stored_pdf(stored, "One - 2024 - Stored.pdf", content=pdfs["stored"])
    linked = lib.item("journalArticle", {"title": "Linked Paper on Heads"}, [("author", "B", "Two")])
    linked_path = tmp_path / "elsewhere" / "heads.pdf"
    linked_path.parent.mkdir()
    linked_path.write_bytes(pdfs["linked"])
    lib.linked_file(linked, str(linked_path))
    missing = lib.item("journalArticle", {"title": "Its PDF Is Gone"})
    lib.stored_pdf(missing, "gone.pdf", write=False)
    damaged = lib.item("journalArticle", {"title": "A Damaged PDF"})
    lib.stored_pdf(damaged, "damaged.pdf", content=b"%PDF-1.4\n%%EOF\n")
    key = lib.key_of(stored_pdf)
    lib.close()
    return PdfLibrary(lib, stored, stored_pdf, key, linked, linked_path, damaged)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached(kb_dir: Path) -> set[str]:
    folder = kb_dir / ".cache" / "text"
    return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def test_pdfs_attached_by_reference_and_read_by_the_next_index(
    tmp_path: Path, kb_dir: Path, runner: CliRunner, real_pdfs: dict[str, bytes]
) -> None:
    z = pdf_library(tmp_path, real_pdfs)
    before = {**snapshot(z.lib.folder), **snapshot(z.linked_path.parent)}
    result = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert result.exit_code == 0, result.stderr
    assert "3 PDF(s) attached (by reference, nothing copied" in result.stderr
    assert "1 PDF(s) Zotero lists are not on disk" in result.stderr and "gone.pdf" in result.stderr
    papers = by_title(kb_dir)
    [stored] = papers["Stored Paper on Caches"].files
    path = z.lib.folder / "storage" / z.stored_key / "One - 2024 - Stored.pdf"
    assert stored == {
        "path": str(path),
        "sha256": sha(real_pdfs["stored"]),
        "size": len(real_pdfs["stored"]),
        "linked": True,
        "zotero": z.stored_key,
        "mtime_ns": path.stat().st_mtime_ns,
    }  # no pages yet: nothing was extracted at import
    [linked] = papers["Linked Paper on Heads"].files
    assert (linked["path"], linked["sha256"], linked["linked"]) == (
        str(z.linked_path), sha(real_pdfs["linked"]), True,
    )  # fmt: skip
    assert papers["Its PDF Is Gone"].files == []
    assert not (kb_dir / "files").exists() and cached(kb_dir) == set()

    indexed = run(runner, kb_dir, "index")
    assert indexed.exit_code == 0, indexed.stderr
    assert "read the text of 3 attached file(s)" in indexed.stderr
    warnings = [line for line in indexed.stderr.splitlines() if "damaged.pdf" in line]
    assert len(warnings) == 1 and "its text is not searchable" in warnings[0]  # one line for the bad file
    assert {sha(real_pdfs["stored"]), sha(real_pdfs["linked"])} <= cached(kb_dir)
    entry = by_title(kb_dir)["Stored Paper on Caches"].files[0]
    text = load_text(kb_dir, entry["sha256"])
    assert text is not None and text.status == "ok" and entry["pages"] == len(text.pages) > 2
    assert entry["extractor"] == text.extractor and entry["extractor"].startswith("pypdfium2 ")
    shown = run(runner, kb_dir, "show", "Stored Paper on Caches", "--text")
    assert shown.exit_code == 0 and SECRET_SENTENCE in " ".join(shown.stdout.split())
    again = run(runner, kb_dir, "index")
    assert again.exit_code == 0 and "read the text" not in again.stderr and "damaged.pdf" not in again.stderr

    shutil.rmtree(kb_dir / ".cache")  # derived: rebuilt by the next index
    rebuilt = run(runner, kb_dir, "index")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert "read the text of 3 attached file(s)" in rebuilt.stderr
    assert {sha(real_pdfs["stored"]), sha(real_pdfs["linked"])} <= cached(kb_dir)
    after = {**snapshot(z.lib.folder), **snapshot(z.linked_path.parent)}
    assert after == before  # nothing in Zotero's folder (or the linked file) written or touched


def test_reimport_hashes_only_changed_files_and_follows_zotero(
    tmp_path: Path,
    kb_dir: Path,
    runner: CliRunner,
    real_pdfs: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    z = pdf_library(tmp_path, real_pdfs)
    hashed: list[str] = []
    real_digest = library.digest

    def counting(path: Path) -> tuple[str, int]:
        hashed.append(Path(path).name)
        return real_digest(path)

    monkeypatch.setattr(library, "digest", counting)
    assert run(runner, kb_dir, "ingest", str(z.lib.path)).exit_code == 0
    assert sorted(hashed) == ["One - 2024 - Stored.pdf", "damaged.pdf", "heads.pdf"]
    mine = tmp_path / "mine.pdf"
    mine.write_bytes(real_pdfs["mine"])
    attached = run(runner, kb_dir, "attach", "Stored Paper on Caches", str(mine))  # the owner's own file
    assert attached.exit_code == 0, attached.stderr
    records = kb_dir / "records"
    written = {p.name: p.stat().st_mtime_ns for p in records.iterdir()}

    hashed.clear()
    same = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert same.exit_code == 0 and "imported 0, updated 0, unchanged 4" in same.stderr, same.stderr
    assert hashed == []  # size and time unchanged: not read again
    assert {p.name: p.stat().st_mtime_ns for p in records.iterdir()} == written

    z.linked_path.write_bytes(real_pdfs["mine"])  # the linked file replaced by the owner, Zotero unaware
    os.utime(z.linked_path, ns=(1, 10**18))
    changed = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert changed.exit_code == 0 and "updated 1" in changed.stderr and "files in 1" in changed.stderr
    assert hashed == ["heads.pdf"]
    assert by_title(kb_dir)["Linked Paper on Heads"].files[0]["sha256"] == sha(real_pdfs["mine"])

    z.lib.db = sqlite3.connect(z.lib.path)
    z.lib.trash(z.stored_pdf)  # the PDF removed in Zotero
    z.lib.close()
    removed = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert removed.exit_code == 0, removed.stderr
    assert "1 taken off (no longer in the library)" in removed.stderr
    files = by_title(kb_dir)["Stored Paper on Caches"].files
    assert [f["sha256"] for f in files] == [sha(real_pdfs["mine"])]  # the owner's file stays
    assert "zotero" not in files[0] and files[0]["path"].startswith("files/")

    detached = run(runner, kb_dir, "detach", "Linked Paper on Heads")  # the owner takes Zotero's PDF off
    assert detached.exit_code == 0, detached.stderr
    z.lib.db = sqlite3.connect(z.lib.path)
    z.lib.set(z.linked, "title", "Linked Paper on Heads, Revised")  # and the item changes in Zotero
    z.lib.close()
    later = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert later.exit_code == 0 and "updated 1" in later.stderr, later.stderr
    assert by_title(kb_dir)["Linked Paper on Heads, Revised"].files == []  # not attached again


def test_copy_files_copies_and_a_removed_pdf_takes_its_copy_away(
    tmp_path: Path, kb_dir: Path, runner: CliRunner, real_pdfs: dict[str, bytes]
) -> None:
    z = pdf_library(tmp_path, real_pdfs)
    result = run(runner, kb_dir, "ingest", str(z.lib.path), "--copy-files")
    assert result.exit_code == 0, result.stderr
    assert "3 PDF(s) attached (copied into files/" in result.stderr
    paper = by_title(kb_dir)["Stored Paper on Caches"]
    [entry] = paper.files
    original = z.lib.folder / "storage" / z.stored_key / "One - 2024 - Stored.pdf"
    assert entry["path"] == f"files/{paper.id}/One---2024---Stored.pdf" and "linked" not in entry
    assert entry["original"] == str(original) and entry["zotero"] == z.stored_key
    copy = kb_dir / entry["path"]
    assert copy.read_bytes() == real_pdfs["stored"]
    again = run(runner, kb_dir, "ingest", str(z.lib.path))  # without --copy-files: copies stay copies
    assert again.exit_code == 0 and "unchanged 4" in again.stderr, again.stderr
    z.lib.db = sqlite3.connect(z.lib.path)
    z.lib.trash(z.stored_pdf)
    z.lib.close()
    removed = run(runner, kb_dir, "ingest", str(z.lib.path))
    assert removed.exit_code == 0, removed.stderr
    assert by_title(kb_dir)["Stored Paper on Caches"].files == [] and not copy.exists()
    assert original.exists()  # Zotero's own file is never touched
