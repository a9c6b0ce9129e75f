"""Getting the PDF: `fetch arxiv ... --pdf` and `attach --download` through the one HTTP layer, against
the loopback fake arXiv serving real PDF bytes (never the real service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.sources import arxiv as arxiv_source
from litkb.sources import http
from tests import pdfs
from tests.conftest import make_kb_dir, run
from tests.fake_services import Answer, ArxivPaper, FakeServices
from tests.pdfs import made_pdfs, needs_latex

__all__ = ["made_pdfs"]
pytestmark = needs_latex


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, made_pdfs: dict[str, Path]) -> Iterator[FakeServices]:
    fake = FakeServices().start()
    for name in ("LITKB_HF_URL", "LITKB_ARXIV_URL", "LITKB_CROSSREF_URL"):
        monkeypatch.setenv(name, fake.url)
    monkeypatch.setattr(arxiv_source, "INTERVAL", 0.0)  # the 3 s interval: its own test below
    monkeypatch.setattr(http, "BACKOFF", 0.01)
    fake.arxiv[pdfs.ARXIV_ID] = ArxivPaper(pdfs.ARXIV_ID, pdfs.TITLE, pdfs.ABSTRACT, pdfs.AUTHORS)
    fake.pdfs[pdfs.ARXIV_ID] = made_pdfs["two"].read_bytes()
    yield fake
    fake.stop()


def test_fetch_arxiv_with_pdf_downloads_and_attaches(
    runner: CliRunner, kb_dir: Path, services: FakeServices, made_pdfs: dict[str, Path]
) -> None:
    result = run(runner, kb_dir, "fetch", "arxiv", pdfs.ARXIV_ID, "--pdf")
    assert result.exit_code == 0, result.output
    paper = KnowledgeBase.open(kb_dir).get(pdfs.ARXIV_ID)
    [entry] = paper.files
    assert entry["path"] == f"files/{paper.id}/{pdfs.ARXIV_ID}.pdf"
    assert (kb_dir / entry["path"]).read_bytes() == made_pdfs["two"].read_bytes()
    assert f"/pdf/{pdfs.ARXIV_ID}" in services.requests
    assert f"{paper.id}: downloaded {pdfs.ARXIV_ID}.pdf and attached it" in result.stderr
    # again: the record has its file; nothing is downloaded
    before = len(services.requests)
    again = run(runner, kb_dir, "attach", "--download", paper.id)
    assert again.exit_code == 0 and "has a file already" in again.stderr, again.output
    assert len(services.requests) == before


def test_attach_download_lists_what_could_not_be_fetched_and_writes_nothing_for_it(
    runner: CliRunner, kb_dir: Path, seed_path: Path, services: FakeServices
) -> None:
    run(runner, kb_dir, "ingest", str(seed_path))
    kb = KnowledgeBase.open(kb_dir)
    hydra = kb.update_record("hydra", lambda p: setattr(p, "arxiv_id", pdfs.ARXIV_ID)).id
    mirror = kb.update_record("mirror speculative", lambda p: setattr(p, "arxiv_id", "2510.13161")).id
    hopfield = kb.update_record("hopfield networks", lambda p: setattr(p, "arxiv_id", "2008.02217")).id
    services.script(
        "/pdf/2008.02217", Answer(200, "<html>Please log in</html>", {"Content-Type": "text/html"})
    )
    result = run(runner, kb_dir, "attach", "--download")  # every paper with an arXiv id and no file
    assert result.exit_code == 0, result.output
    assert f"{hydra}: downloaded" in result.stderr
    assert f"{mirror}: arXiv: " in result.stderr and "HTTP 404" in result.stderr
    assert (
        f"{hopfield}: arXiv: " in result.stderr and "answered text/html, not application/pdf" in result.stderr
    )
    assert "no arXiv id" not in result.stderr  # a selection leaves those out, without a line each
    kb = KnowledgeBase.open(kb_dir)
    assert len(kb.get(hydra).files) == 1 and kb.get(mirror).files == [] and kb.get(hopfield).files == []
    assert sorted(p.name for p in (kb_dir / "files").iterdir()) == [hydra]
    named = run(runner, kb_dir, "attach", "--download", "paging with succinct")
    assert named.exit_code == 1 and "no arXiv id; nothing to download" in named.stderr


def test_downloads_keep_arxivs_interval_use_the_cache_and_the_size_cap(
    runner: CliRunner,
    kb_dir: Path,
    services: FakeServices,
    made_pdfs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(http.time, "sleep", waits.append)
    monkeypatch.setattr(arxiv_source, "INTERVAL", 3.0)
    services.arxiv["2401.00001"] = ArxivPaper("2401.00001", "Another Paper", "An abstract.", ["A. Author"])
    services.pdfs["2401.00001"] = made_pdfs["one"].read_bytes()
    result = run(runner, kb_dir, "fetch", "arxiv", pdfs.ARXIV_ID, "2401.00001", "--pdf")
    assert result.exit_code == 0, result.output
    assert waits and all(2.5 <= w <= 3.0 for w in waits)  # one request every 3 s to arXiv's host
    pdf_requests = [r for r in services.requests if r.startswith("/pdf/")]
    assert len(pdf_requests) == 2
    # the cache: the same PDFs again (after detaching) need no request
    for ref in (pdfs.ARXIV_ID, "2401.00001"):
        run(runner, kb_dir, "detach", ref, "--delete")
    again = run(runner, kb_dir, "attach", "--download")
    assert again.exit_code == 0 and again.stderr.count("downloaded") == 2
    assert len([r for r in services.requests if r.startswith("/pdf/")]) == 2
    # the size cap
    for ref in (pdfs.ARXIV_ID, "2401.00001"):
        run(runner, kb_dir, "detach", ref, "--delete")
    monkeypatch.setattr(arxiv_source, "PDF_MAX_BYTES", 1000)
    for cached in (kb_dir / ".cache" / "http").glob("*.pdf"):
        cached.unlink()  # not from the cache this time
    too_big = run(runner, kb_dir, "attach", "--download")
    assert too_big.exit_code == 1 and "over 1,000 bytes; not read" in too_big.stderr
    assert all(p.files == [] for p in KnowledgeBase.open(kb_dir).papers())


def test_ingest_fetch_fills_a_new_record_from_arxiv(
    runner: CliRunner, kb_dir: Path, services: FakeServices, made_pdfs: dict[str, Path], tmp_path: Path
) -> None:
    services.arxiv[pdfs.ARXIV_ID] = ArxivPaper(
        pdfs.ARXIV_ID,
        "Hydra: Sequentially-Dependent Draft Heads",
        "arXiv's abstract.",
        ["Zachary Ankner", "Rishab P."],
    )
    result = run(runner, kb_dir, "ingest", str(made_pdfs["named"]), "--fetch")  # 2402.05109v2.pdf
    assert result.exit_code == 0, result.output
    paper = KnowledgeBase.open(kb_dir).get(pdfs.ARXIV_ID)
    assert (
        paper.title == "Hydra: Sequentially-Dependent Draft Heads" and paper.abstract == "arXiv's abstract."
    )
    assert [s.format for s in paper.sources] == ["arxiv", "pdf"] and len(paper.files) == 1
    assert any(r.startswith("/api/query") for r in services.requests)
    # arXiv failing: a warning, and the record is made from the file alone
    services.script("/api/query", *[Answer(500, "down")] * http.MAX_TRIES)
    elsewhere = make_kb_dir(tmp_path / "kb2")
    other = run(runner, elsewhere, "ingest", str(made_pdfs["two"]), "--fetch")
    assert other.exit_code == 0, other.output
    assert "Warning: --fetch: " in other.stderr and "arXiv: " in other.stderr
    assert "the records are made from the files alone" in other.stderr
    assert KnowledgeBase.open(elsewhere).get(pdfs.ARXIV_ID).title == pdfs.TITLE
