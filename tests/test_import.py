"""Import: BibTeX, arXiv Atom, CSL JSON, one record per paper across sources, dedup, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.names import split_name
from tests.conftest import make_kb_dir, run

INPUTS = Path(__file__).parent / "inputs"


def ingest(runner: CliRunner, kb: Path, *files: Path | str, ok: bool = True):
    result = run(runner, kb, "ingest", *map(str, files))
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_bibtex_with_the_awkward_parts(runner: CliRunner, kb_dir: Path) -> None:
    result = ingest(runner, kb_dir, INPUTS / "zotero.bib")
    assert "imported 3, updated 0, unchanged 0, skipped 3" in result.stderr  # proc2021 is a crossref parent
    assert "zotero.bib:18: skipped an entry that cannot be parsed" in result.stderr  # missing commas
    assert (
        "zotero.bib:46: skipped the entry 'vaswani2017attention' that repeats an earlier key" in result.stderr
    )
    assert "zotero.bib:51: skipped the entry 'notitle2019': no title" in result.stderr
    kb = KnowledgeBase.open(kb_dir)
    attention = kb.get("Attention Is All You Need")
    assert attention.authors == ["Vaswani, Ashish", "Shazeer, Noam", "Parmar, Niki", "Müller, Jörg"]
    assert (attention.arxiv_id, attention.extra["arxiv_version"], attention.doi) == (
        "1706.03762",
        5,
        "10.48550/arXiv.1706.03762",
    )
    assert attention.extra["booktitle"] == "Advances in Neural Information Processing Systems"  # @string
    assert attention.abstract == (
        "The dominant sequence transduction models are based on complex recurrent networks – with "
        "attention and 50% fewer α parameters."
    )  # nested braces, \\emph, \\%, $\\alpha$, --
    assert attention.tags == ["transformers", "attention"] and attention.external_id == "vaswani2017attention"
    chapter = kb.get("A Chapter With Crossref")
    assert (chapter.year, chapter.extra["booktitle"], chapter.extra["publisher"]) == (
        2021,
        "Proceedings of Things",
        "ACM",
    )
    assert "Proceedings of Things" not in [p.title for p in kb.papers()]  # only the chapter's parent
    assert kb.get("Hopfield Networks").authors == [
        "Ramsauer, Hubert",
        "Schäfl, Bernhard",
    ]  # `and others` is not a name: it is kept as extra.more_authors


def test_bibtex_months_string_joins_verbatim_links_math_and_crossref_parents(
    runner: CliRunner, kb_dir: Path
) -> None:
    result = ingest(runner, kb_dir, INPUTS / "fields.bib")
    assert "imported 6, updated 0, unchanged 0, skipped 0" in result.stderr  # conf2022 is no paper
    kb = KnowledgeBase.open(kb_dir)
    assert "Proceedings of the Conference on Things 2022" not in [p.title for p in kb.papers()]
    sort = kb.get("muller2023sort")
    assert sort.title == r"An $\mathcal{O}(n \log n)$ Sort for GPUs"  # math kept as written
    assert sort.extra["title_math"] == [r"$\mathcal{O}(n \log n)$"]
    assert sort.extra["booktitle"] == "Advances in Neural Information Processing Systems 36 (NeurIPS 2023)"
    assert (sort.date, sort.year, sort.date_raw) == ("2023-04", 2023, "April 2023")  # `month = apr`
    assert sort.urls == ["https://example.org/~muller/paper_v2.pdf"] and sort.doi == "10.5555/abc_def.12"
    assert sort.extra["file"] == r"Full Text:C\:/Users/m/Zotero/paper_v2.pdf:application/pdf"
    assert (sort.extra["pages"], sort.extra["editor"]) == ("12–20", "Oh, A. and Naumann, T.")
    assert kb.get("knuth1997art").date == "1997-10"  # `{October}`
    thesis = kb.get("doe2020thesis")
    assert thesis.date == "2020-12" and thesis.title == r"Learning $\alpha$-Divergences"  # `{12}`
    assert thesis.urls == ["https://example.org/theses/doe_2020/~final%20version.pdf"]
    child = kb.get("child2022")  # the parent's fields, its title as the booktitle
    assert (child.date, child.extra["booktitle"], child.extra["publisher"], child.extra["pages"]) == (
        "2022-07",
        "Proceedings of the Conference on Things 2022",
        "ACM",
        "1–9",
    )


def test_arxiv_atom(runner: CliRunner, kb_dir: Path) -> None:
    ingest(runner, kb_dir, INPUTS / "arxiv.xml")
    paper = KnowledgeBase.open(kb_dir).get("Speculative Decoding at Scale")
    assert (paper.arxiv_id, paper.extra["arxiv_version"], paper.date, paper.year) == (
        "2401.12345",
        3,
        "2024-01-22",
        2024,
    )
    assert paper.authors == ["Ada Lovelace", "Alan Turing"] and paper.doi == "10.1000/spec.2024"
    assert paper.extra["categories"] == ["cs.CL", "cs.LG"] and paper.extra["primary_category"] == "cs.CL"
    assert paper.extra["journal_ref"] == "J. Fast Inference 3 (2024) 1-10"
    assert paper.extra["updated"] == "2024-03-01T10:00:00Z"
    assert paper.abstract == "We study speculative decoding. It is fast."


def test_csl_json(runner: CliRunner, kb_dir: Path) -> None:
    result = ingest(runner, kb_dir, INPUTS / "library.json")
    assert "library.json: skipped item 2: no title" in result.stderr
    paper = KnowledgeBase.open(kb_dir).get("Notes on the Analytical Engine")
    assert paper.authors == ["Lovelace, Ada", "Babbage Lab"] and paper.date == "2024-05-02"
    assert paper.tags == ["history", "computing"] and paper.extra["container-title"] == "Journal of Engines"


def test_one_record_per_paper_across_sources(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    ingest(runner, kb_dir, seed_path)
    ingest(runner, kb_dir, INPUTS / "zotero.bib", INPUTS / "arxiv.xml")
    kb = KnowledgeBase.open(kb_dir)
    matches = [p for p in kb.papers() if p.title == "Hopfield Networks is All You Need"]
    assert len(matches) == 1
    hopfield = matches[0]
    assert [s.format for s in hopfield.sources] == ["hf-daily", "bibtex", "arxiv"]
    assert hopfield.authors == ["Ramsauer, Hubert", "Schäfl, Bernhard"]  # names from BibTeX fill the gap
    assert hopfield.arxiv_id == "2008.02217" and hopfield.date == "2020-07-16"
    assert hopfield.urls == ["https://github.com/ml-jku/hopfield-layers"]
    # the listing counted 16 authors, arXiv names 1: both kept, with their sources; the first is shown.
    # BibTeX names 2 `and others`: no count (it says the list is incomplete), and that is kept too.
    assert hopfield.n_authors == 16 and hopfield.extra["more_authors"] is True
    assert hopfield.conflicts["n_authors"] == {
        "shown": "hf-daily-papers-2025-11-18.txt",
        "values": [
            {"source": "hf-daily-papers-2025-11-18.txt", "value": 16},
            {"source": "arxiv.xml", "value": 1},
        ],
    }
    assert hopfield.abstract and hopfield.abstract.startswith("We introduce a modern Hopfield network with")
    assert hopfield.conflicts["abstract"]["values"][-1] == {
        "source": "arxiv.xml",
        "value": "We introduce a modern Hopfield network.",
    }
    again = ingest(runner, kb_dir, INPUTS / "zotero.bib", INPUTS / "arxiv.xml")
    assert "imported 0, updated 0, unchanged 5" in again.stderr


def test_identity_by_doi_arxiv_and_title_with_year(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    rows = [
        {"title": "Totally Different Title", "doi": "10.1000/SPEC.2024"},  # same DOI (any case)
        {"title": "Speculative decoding at scale!", "year": 2025},  # same title, years one apart
        {"title": "Speculative Decoding at Scale", "year": 2019},  # same title, another year: another paper
        {"title": "Yet Another", "arxiv_id": "2401.12345v9"},  # same arXiv id without version
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows))
    ingest(runner, kb_dir, INPUTS / "arxiv.xml")
    result = ingest(runner, kb_dir, source)
    assert "imported 1, updated 1, unchanged 0" in result.stderr  # three rows were one existing paper
    assert len(KnowledgeBase.open(kb_dir).papers()) == 3


def test_round_trip_import_export_import(
    runner: CliRunner, kb_dir: Path, tmp_path: Path, seed_path: Path
) -> None:
    ingest(runner, kb_dir, seed_path, INPUTS / "zotero.bib", INPUTS / "arxiv.xml", INPUTS / "library.json")
    exported = tmp_path / "all.bib"
    assert run(runner, kb_dir, "export", "-f", "bibtex", "-o", str(exported)).exit_code == 0
    fresh = make_kb_dir(tmp_path / "fresh")
    ingest(runner, fresh, exported)
    before = {p.id: p for p in KnowledgeBase.open(kb_dir).papers()}
    after = {p.id: p for p in KnowledgeBase.open(fresh).papers()}
    assert after.keys() == before.keys()
    for pid, paper in before.items():
        again = after[pid]
        assert (again.title, again.year, again.doi, again.arxiv_id, again.tags) == (
            paper.title,
            paper.year,
            paper.doi,
            paper.arxiv_id,
            paper.tags,
        ), pid
        if paper.authors:  # BibTeX writes `Family, Given`: the same people, maybe another form
            assert len(again.authors) == len(paper.authors), pid
            assert {split_name(a)[0] for a in again.authors} == {split_name(a)[0] for a in paper.authors}, pid
        elif paper.organization:  # the organisation that posted it travels as itself, never as an author
            assert again.authors == [] and again.organization is not None, pid
            assert again.organization["name"] == paper.organization["name"], pid
        else:  # a count without names travels in the note
            assert again.n_authors == paper.n_authors, pid
        assert again.abstract == (" ".join(paper.abstract.split()) if paper.abstract else None), pid


def test_impossible_dates_are_dropped_not_written(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    item = {"id": "x", "type": "article", "title": "Odd Date", "issued": {"date-parts": [[2020, 13, 40]]}}
    source = tmp_path / "odd.json"
    source.write_text(json.dumps([item]))
    ingest(runner, kb_dir, source)
    paper = KnowledgeBase.open(kb_dir).get("Odd Date")
    assert (paper.date, paper.year) == (None, 2020)


def test_bad_inputs(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.bib"
    empty.write_bytes(b"")
    assert "empty.bib: the file is empty" in ingest(runner, kb_dir, empty, ok=False).stderr
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some words\nnothing like a listing\n")
    assert "notes.txt: not in a format litkb reads" in ingest(runner, kb_dir, unknown, ok=False).stderr
    not_atom = tmp_path / "other.xml"
    not_atom.write_text("<?xml version='1.0'?><rss><channel/></rss>")
    result = ingest(runner, kb_dir, not_atom, ok=False)
    assert "other.xml" in result.stderr and "nothing was written" in result.stderr
    utf16 = tmp_path / "utf16.bib"
    utf16.write_bytes((INPUTS / "zotero.bib").read_text().encode("utf-16"))
    assert "imported 3" in ingest(runner, kb_dir, utf16).stderr
    assert not list((kb_dir / "records").glob(".*.tmp"))


def test_dedup_lists_and_merges_only_when_asked(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    rows = [
        {"id": "a", "title": "Graph Neural Networks for Molecules", "tags": ["x"]},
        {"id": "b", "title": "GNNs for molecules (preprint)", "doi": "10.1/GNN", "abstract": "Longer text."},
        {"id": "c", "title": "Something Else", "year": 2020},
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows))
    ingest(runner, kb_dir, source)
    kb = KnowledgeBase.open(kb_dir)
    first = kb.get("Graph Neural Networks for Molecules")
    first.doi = "10.1/gnn"  # the owner adds the DOI by hand: now two records share it
    kb.store.save_many([first])
    listed = run(runner, kb_dir, "dedup", "--json")
    pairs = json.loads(listed.stdout)
    assert len(pairs) == 1 and pairs[0]["reason"] == "the same DOI (10.1/gnn)"
    assert len(KnowledgeBase.open(kb_dir).papers()) == 3  # nothing merged without --apply
    assert "merged 1 duplicate record into 1 record" in run(runner, kb_dir, "dedup", "--apply").stderr
    papers = KnowledgeBase.open(kb_dir).papers()
    assert len(papers) == 2
    merged = next(p for p in papers if p.doi)
    assert merged.tags == ["x"] and merged.abstract == "Longer text." and len(merged.sources) == 1
    assert json.loads(run(runner, kb_dir, "dedup", "--json").stdout) == []


@pytest.mark.parametrize("name", ["zotero.bib", "arxiv.xml", "library.json"])
def test_format_is_detected_from_content_not_name(
    runner: CliRunner, kb_dir: Path, tmp_path: Path, name: str
) -> None:
    renamed = tmp_path / "download.dat"
    renamed.write_bytes((INPUTS / name).read_bytes())
    assert "imported" in ingest(runner, kb_dir, renamed).stderr


def test_the_summary_counts_and_lists_the_same_updates(
    runner: CliRunner, kb_dir: Path, tmp_path: Path
) -> None:
    # Two rows of one new paper: one record imported, and nothing "changed" in a record already there.
    twice = tmp_path / "twice.jsonl"
    rows = [
        {"title": "A Paper Seen Twice", "year": 2024},
        {"title": "A Paper Seen Twice", "doi": "10.1/twice"},
    ]
    twice.write_text("\n".join(json.dumps(r) for r in rows))
    result = ingest(runner, kb_dir, twice)
    assert "imported 1, updated 0, unchanged 0" in result.stderr and "changed:" not in result.stderr
    # An existing record updated by two rows: updated 1, and each field counted once.
    later = tmp_path / "later.jsonl"
    rows = [
        {"title": "A Paper Seen Twice", "abstract": "Now with an abstract."},
        {"title": "A Paper Seen Twice", "abstract": "Now with an abstract.", "url": "https://example.org/p"},
    ]
    later.write_text("\n".join(json.dumps(r) for r in rows))
    result = ingest(runner, kb_dir, later)
    assert "imported 0, updated 1, unchanged 0" in result.stderr, result.stderr
    changed = result.stderr.split("(changed: ")[1].split(")")[0]
    assert all(part.endswith(" in 1") for part in changed.split(", ")), changed


def test_long_titles_in_messages_are_cut_at_a_word_with_an_ellipsis() -> None:
    from litkb.wording import plural, shorten

    title = "Speculative Decoding with Many Draft Heads for Extremely Long Context Language Models"
    cut = shorten(title)
    assert len(cut) <= 60 and cut.endswith("…") and title.startswith(cut[:-1])
    assert title[len(cut) - 1] == " "  # cut where a word ends
    assert shorten("Short title") == "Short title"
    assert plural(1, "request") == "1 request" and plural(2, "request") == "2 requests"
