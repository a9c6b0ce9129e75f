"""Extraction: PDFs made with LaTeX read back right (reading order, ligatures, hyphenation, running heads,
page numbers, the references section), identified (title, authors, abstract, arXiv id), and hostile files
each ending in one line, in worker processes that nothing can take down."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from litkb.fulltext.clean import clean_pages, normalize, references_start
from litkb.fulltext.extract import RawPdf, read_pdf
from litkb.fulltext.identify import identify
from litkb.fulltext.pages import load_text
from litkb.fulltext.reading import read_files
from litkb.fulltext.workers import Limits, extract_files
from tests import pdfs
from tests.pdfs import made_pdfs, needs_latex

__all__ = ["made_pdfs"]  # the session's PDFs, made once for every test module that imports it


@pytest.fixture
def made(made_pdfs: dict[str, Path]) -> dict[str, Path]:
    return made_pdfs


def page_of(raw: RawPdf, text: str) -> list[int]:
    return [n for n, page in enumerate(raw.pages, start=1) if text in page.replace("\n", " ")]


@needs_latex
def test_a_two_column_paper_reads_in_order_with_ligatures_and_hyphenation_mended(
    made: dict[str, Path],
) -> None:
    raw = read_pdf(made["two"])
    text = "\n".join(raw.pages)
    assert raw.problem is None
    assert not re.search("[\ufb00-\ufb06\ufffe]", text)  # no ligature glyph, no hyphen marker left
    for word in ("efficient", "office", "workflow", "significant", "fluctuation", "affine", "coefficients"):
        assert word in text
    flat = text.replace("\n", " ")
    # words hyphenated at line ends are whole again (one broken over a page keeps its hyphen there)
    pieces = re.findall(r"\w*(?:internation|electroenceph)\w*-?", text)
    assert len(pieces) > 50
    assert all(p in ("internationalization", "electroencephalography") or p.endswith("-") for p in pieces)
    assert sum(p.endswith("-") for p in pieces) <= len(raw.pages)
    assert not any(re.search(r"[a-z]-\n[a-z]", page) for page in raw.pages)
    # the two columns read one after the other: each sentence of the body is whole
    assert flat.count(pdfs.BODY.strip()) >= 20
    assert "Running head of the test paper" not in text  # the running head is gone
    assert not any(re.fullmatch(r"\d+", line) for line in text.split("\n"))  # page numbers too
    assert "arXiv:2402.05109" not in text  # the stamp is not body text


@needs_latex
def test_pages_are_the_physical_pages_and_references_are_marked(made: dict[str, Path]) -> None:
    from pypdf import PdfReader

    raw = read_pdf(made["one"])
    found = page_of(raw, pdfs.SECRET_SENTENCE)
    reader = PdfReader(made["one"])  # an independent reader says where the sentence is
    expected = [
        n for n, page in enumerate(reader.pages, 1) if "key value cache" in (page.extract_text() or "")
    ]
    assert found == expected and len(found) == 1
    assert raw.page_count == len(reader.pages) == len(raw.pages)
    assert raw.references_start is not None
    page, offset = raw.references_start
    assert page == raw.page_count and raw.pages[page - 1][offset:].startswith("References")
    assert "A cited paper on caches" in raw.pages[page - 1][offset:]


@needs_latex
def test_a_paper_is_identified_from_page_one(made: dict[str, Path]) -> None:
    found = identify(read_pdf(made["two"]), "two.pdf")
    assert found.title == pdfs.TITLE
    assert found.arxiv_id == pdfs.ARXIV_ID and found.year == 2024
    assert found.authors == pdfs.AUTHORS
    assert found.abstract is not None and found.abstract.startswith("To combat the memory")
    assert found.abstract.endswith("without a separate draft model.")
    assert found.missing() == ["DOI"]
    one = identify(read_pdf(made["one"]), "one.pdf")
    assert one.title == pdfs.TITLE and one.arxiv_id is None and one.authors == pdfs.AUTHORS


@needs_latex
def test_the_arxiv_id_comes_from_the_file_name_when_page_one_has_no_stamp(made: dict[str, Path]) -> None:
    assert identify(read_pdf(made["named"]), made["named"].name).arxiv_id == pdfs.ARXIV_ID
    raw = read_pdf(made["one"])
    assert identify(raw, "arxiv-math-0501170.pdf").arxiv_id == "math/0501170"
    assert identify(raw, "paper-2024.13999.pdf").arxiv_id is None  # month 99: not an arXiv id


def test_cleaning_joins_hyphens_folds_ligatures_and_drops_running_lines() -> None:
    assert normalize("the e\ufb03cient work\ufffe\r\nflow of exam-\nples, ready-\nMade") == (
        "the efficient workflow of examples, ready-\nMade"
    )
    words = ["one", "two", "three", "four", "five", "six"]
    pages = [f"Journal of Tests, vol. {n}\nPage {w} reads.\n{n}" for n, w in enumerate(words, 1)]
    cleaned, refs = clean_pages(pages)
    assert cleaned == [f"Page {w} reads." for w in words]
    assert refs is None
    assert references_start(["Intro", "Text\nREFERENCES\n[1] A. B.", "Appendix"]) == (2, 5)


def test_hostile_files_each_end_in_one_line(made: dict[str, Path]) -> None:
    names = ["empty", "html", "scan", "bomb"] + (["encrypted", "truncated"] if pdfs.HAVE_LATEX else [])
    results = dict(extract_files([made[n] for n in names], Limits(memory=300 * 2**20, seconds=60)))
    said = {n: results[made[n]] for n in names}
    assert said["empty"] == "empty file (0 bytes)"
    assert said["html"] == "an HTML page (no %PDF header)"
    scan = said["scan"]
    assert isinstance(scan, RawPdf) and scan.problem == "no text layer (a scan?), not searchable"
    assert isinstance(said["bomb"], str) and "memory" in said["bomb"]  # the worker died, not litkb
    if pdfs.HAVE_LATEX:
        assert str(said["encrypted"]).startswith("encrypted: it needs a password")
        assert str(said["truncated"]).startswith("damaged or truncated")


@needs_latex
def test_a_file_that_hangs_is_stopped_and_the_next_one_still_read(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    hangs = tmp_path / "stalled.pdf"
    os.mkfifo(hangs)  # reading it blocks for ever, as a file on a stalled network drive does
    results = dict(extract_files([hangs, made["two"]], Limits(seconds=2), workers=1))
    assert results[hangs] == "took longer than 2 s to read; stopped"
    assert isinstance(results[made["two"]], RawPdf)
    [item] = read_files(tmp_path / "kb", [hangs])  # the parent never reads such a file itself
    assert item.problem == "not a regular file"


@needs_latex
def test_long_files_are_read_up_to_the_page_cap_and_say_so(tmp_path: Path, made: dict[str, Path]) -> None:
    [item] = read_files(tmp_path, [made["long"]], Limits(max_pages=5))
    assert item.text is not None and len(item.text.pages) == 5 and item.pages > 5
    assert item.notes == [f"{item.pages} pages: only the first 5 are searchable"]


@needs_latex
def test_read_files_caches_the_text_by_digest_and_reads_a_file_once(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    first = read_files(tmp_path, [made["one"], made["one"], made["empty"]])
    assert first[0].sha256 == first[1].sha256 and first[2].problem == "empty file (0 bytes)"
    cached = load_text(tmp_path, first[0].sha256)
    assert cached is not None and cached.status == "ok" and cached.extractor.startswith("pypdfium2 ")
    assert cached.meta["identified"]["title"] == pdfs.TITLE
    assert first[0].identified.title == pdfs.TITLE
    again = read_files(tmp_path, [made["one"]])  # from the cache: the same text
    assert again[0].text == first[0].text
    from litkb.fulltext import reading
    from litkb.fulltext.pages import save_text

    cached.meta["identify_version"] = -1  # an older litkb's identification: the file is read again
    cached.meta["identified"]["title"] = "Stale"
    save_text(tmp_path, cached)
    assert read_files(tmp_path, [made["one"]])[0].identified.title == pdfs.TITLE
    assert reading.IDENTIFY_VERSION >= 1


def test_a_stamp_or_a_proceedings_header_is_never_the_title() -> None:
    from litkb.fulltext.extract import Line

    def raw(lines: list[Line]) -> RawPdf:
        text = "\n".join(line.text for line in lines)
        return RawPdf(1, [text], None, text, lines, 792.0)

    stamp = Line("arXiv:2402.05109v2 [cs.LG] 7 Feb 2024", 20.0, 20, 600, 580)
    header = Line("Proceedings of the 62nd Annual Meeting of the ACL, pages 1-12", 18.0, 72, 740, 728)
    venue = Line("Published as a conference paper at ICLR 2024", 17.5, 72, 720, 708)
    title = Line("Sequentially Dependent Draft Heads", 17.2, 120, 690, 674)
    body = [
        Line(f"Body text line {n} of the paper.", 10.0, 72, 600 - 12 * n, 590 - 12 * n) for n in range(30)
    ]
    found = identify(raw([stamp, header, venue, title, *body]), "x.pdf")
    assert found.title == "Sequentially Dependent Draft Heads" and found.arxiv_id == "2402.05109"
    nothing = identify(raw([stamp, header, *body]), "x.pdf")
    assert nothing.title is None and "title" in nothing.missing()
