"""The Hugging Face Daily Papers parser: a golden test on the shipped listing, and the awkward variants."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from litkb.identity import Catalog
from litkb.parsers import ParseOptions, detect_parser
from litkb.parsers.daily_papers import extract_urls, parse
from litkb.store import dump_record
from tests.conftest import GOLDEN, check_golden

FULL_RECORDS = ["Low Rank Matrix Completion", "AReaL", "Hopfield Networks is All You Need"]


def parse_text(text: str, name: str = "listing.txt", year: int | None = None):
    return parse(text, ParseOptions(source_name=name, year=year))


@pytest.fixture(scope="module")
def seed(seed_path: Path):
    return parse_text(seed_path.read_text(encoding="utf-8"), seed_path.name)


def test_seed_golden_every_paper(seed) -> None:
    summary = [
        {
            "title": p.title,
            "date": p.date,
            "date_raw": p.date_raw,
            "year": p.year,
            "upvotes": p.upvotes,
            "n_authors": p.n_authors,
            "organization": p.organization,
            "urls": p.urls,
            "abstract_sha1": hashlib.sha1((p.abstract or "").encode()).hexdigest(),
            "position": p.sources[0].position,
        }
        for p in seed.papers
    ]
    check_golden(
        GOLDEN / "hf-daily-papers-2025-11-18.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
    )


def test_seed_golden_full_records(seed) -> None:
    catalog = Catalog([])
    for prefix in FULL_RECORDS:
        paper = next(p for p in seed.papers if p.title.startswith(prefix))
        paper.id = catalog.new_id(paper)
        slug = paper.id.rsplit("-", 1)[0]
        check_golden(GOLDEN / f"record-{slug}.yaml", dump_record(paper))


def test_seed_facts(seed) -> None:
    """The facts stated about the seed, checked by hand rather than against a golden file."""
    papers = seed.papers
    assert len(papers) == 69
    assert seed.warnings == [] and seed.skipped == 0
    assert not any(p.title in {"Daily Papers", "new", "Subscribe", "Nov 18"} for p in papers)
    by_title = {p.title.split(":")[0]: p for p in papers}
    assert by_title["AlphaEvolve"].date == "2025-06-16"
    assert by_title["AlphaEvolve"].date_raw == "Jun 16"
    first = papers[0]
    assert first.title.startswith("Low Rank Matrix Completion")
    assert (first.date, first.n_authors, first.upvotes) == ("2023-02-21", 4, None)
    assert first.abstract is not None and first.abstract.startswith("Given a matrix Min R^{mtimes n}")
    apple = [p for p in papers if p.organization]
    assert len(apple) == 1 and apple[0].organization == {"handle": "apple", "name": "Apple"}
    assert apple[0].n_authors is None
    with_votes = {p.date_raw: p.upvotes for p in papers if p.upvotes is not None}
    assert with_votes["Feb 7"] == 4
    assert with_votes["Jul 12, 2024"] == 2
    assert all(p.sources[0].listing_date == "2025-11-18" for p in papers)
    assert all(p.date and p.year == int(p.date[:4]) for p in papers)
    areal = next(p for p in papers if p.title.startswith("AReaL"))
    assert areal.urls == ["https://github.com/inclusionAI/AReaL/"]
    edits = [u for p in papers for u in p.urls if "MultiEdits" in u]
    assert edits == ["https://mingzhenhuang.com/projects/MultiEdits.html"]
    assert papers[-1].date == "2023-03-07"  # the file has no final newline


def test_detects_the_format(seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    assert detect_parser(text, "anything.dat").name == "hf-daily"


ENTRY = "{title}\n\n{abstract}\n\n  • {n} authors\n·\n{date}\n\n"
HEADER = "Daily Papers\n\nbyAK and the research community\n\nNov 18\n\n"


def test_crlf_blank_lines_trailing_spaces_one_author_paragraphs() -> None:
    text = (
        HEADER
        + "First Paper   \n\n\n\nPara one\nstill one.   \n\nPara   two.\n\n\n"
        + "  • 1 author  \n·\nSep 23 7  \n\n\n"
        + "Second Paper\n\nAbstract.\n\n  • 2 authors\n·\nMar 3, 2021\n"
    ).replace("\n", "\r\n")
    result = parse_text(text)
    assert result.warnings == []
    first, second = result.papers
    assert first.title == "First Paper"
    assert first.abstract == "Para one still one. Para two."
    assert (first.n_authors, first.upvotes, first.date, first.date_raw) == (1, 7, "2022-09-23", "Sep 23")
    assert (second.n_authors, second.date, second.year) == (2, "2021-03-03", 2021)


def test_year_from_option_and_page() -> None:
    text = HEADER + ENTRY.format(title="A", abstract="x", n=2, date="Jan 5")
    assert parse_text(text, year=2030).papers[0].date == "2030-01-05"
    dated = "Daily Papers\n\nNov 18, 2024\n\n" + ENTRY.format(title="A", abstract="x", n=2, date="Jan 5")
    assert parse_text(dated).papers[0].date == "2024-01-05"


def test_no_year_anywhere_says_which_year_was_assumed() -> None:
    result = parse_text(HEADER + ENTRY.format(title="A", abstract="x", n=2, date="Jan 5"))
    assert any("--year" in w and "this year" in w for w in result.assumed)
    assert result.papers[0].date is not None


def test_missing_abstract_is_kept() -> None:
    result = parse_text(HEADER + "Only A Title\n\n  • 3 authors\n·\nFeb 1, 2024\n")
    assert result.papers[0].title == "Only A Title" and result.papers[0].abstract is None


def test_broken_block_warns_with_line_and_rest_loads() -> None:
    text = (
        HEADER
        + ENTRY.format(title="Good One", abstract="x", n=2, date="Jan 5, 2024")
        + "Broken\n\nabstract\n\n  • 2 authors\n·\nnot a date\n\n"
        + ENTRY.format(title="Good Two", abstract="y", n=3, date="Jan 6, 2024")
        + "Dangling title with no date\n"
    )
    result = parse_text(text, name="x.txt")
    assert [p.title for p in result.papers] == ["Good One", "Good Two"]
    assert result.skipped == 2
    assert result.warnings[0].startswith("x.txt:15: skipped the entry 'Broken'"), result.warnings
    assert "line 21" in result.warnings[0]
    assert "Dangling" in result.warnings[1] and result.warnings[1].startswith("x.txt:31:")


def test_page_without_papers_has_none() -> None:
    assert parse_text(HEADER).papers == []


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see https://github.com/a/b.", ["https://github.com/a/b"]),
        ("(code: https://x.org/y)", ["https://x.org/y"]),
        ("at https://x.org/wiki/A_(b) now", ["https://x.org/wiki/A_(b)"]),
        ("https://a.io/x, and https://a.io/x.", ["https://a.io/x"]),
    ],
)
def test_extract_urls(text: str, urls: list[str]) -> None:
    assert extract_urls(text) == urls
