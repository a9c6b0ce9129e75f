"""`litkb dedup` (issue 30, item 3): which copy is kept (the better-sourced one), a merged record's year and
date from one source, every merged-away id still naming the kept record, and a later ingest of the same
input finding the kept record instead of making the copy again."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.identity import find_duplicates, merge, merge_records, plan_merges, source_rank
from litkb.mcp import tools
from litkb.models import Paper, Source
from litkb.web.app import Settings, create_app
from tests.conftest import SEED, run

LISTED = "hopfield-networks-is-all-you-need-77b0d35855"  # the shipped listing's record


def ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result


def hopfield_abstract() -> str:
    text = SEED.read_text(encoding="utf-8")
    return text.split("Hopfield Networks is All You Need\n\n", 1)[1].split("\n", 1)[0]


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["title", "authors", "year", "abstract"])
        writer.writerows(rows)
    return path


@pytest.fixture
def copied(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """The listing and a CSV with the Hopfield paper again (lower-case title, a wrong year), indexed:
    two records that `dedup` finds by their vectors. The knowledge base, the CSV, the CSV copy's id."""
    rows = write_rows(
        tmp_path / "rows.csv",
        [
            ["A Paper Only The Spreadsheet Has", "Ann Smith", "2019", "Widgets and gadgets."],
            ["Hopfield networks is all you need", "Hubert Ramsauer", "2016", hopfield_abstract()],
        ],
    )
    ok(run(runner, kb_dir, "ingest", str(SEED), str(rows)))
    ok(run(runner, kb_dir, "index"))
    ids = [p.id for p in KnowledgeBase.open(kb_dir).papers() if p.title.lower().startswith("hopfield")]
    assert len(ids) == 2 and LISTED in ids
    return kb_dir, rows, next(i for i in ids if i != LISTED)


def test_dedup_keeps_the_listing_over_a_csv_row_and_the_dropped_id_still_resolves(
    runner: CliRunner, copied: tuple[Path, Path, str], tmp_path: Path
) -> None:
    kb_dir, rows, copy_id = copied
    plan = json.loads(ok(run(runner, kb_dir, "dedup", "--json")).stdout)
    assert [(d["keep"], d["drop"]) for d in plan] == [(LISTED, copy_id)]
    dry = ok(run(runner, kb_dir, "dedup", "--dry-run")).stdout
    lines = [line.strip() for line in dry.splitlines()]
    assert f"keep   {LISTED}" in lines and f"merge  {copy_id}" in lines  # whole ids, each on a line
    assert "2020 · hf-daily-papers-2025-11-18.txt (a listing)" in dry and "2016 · rows.csv (CSV rows)" in dry

    applied = ok(run(runner, kb_dir, "dedup", "--apply"))
    assert applied.stdout == dry
    kb = KnowledgeBase.open(kb_dir)
    kept = kb.get(LISTED)
    assert (kept.title, kept.year, kept.date) == ("Hopfield Networks is All You Need", 2020, "2020-07-16")
    assert kept.aliases == [copy_id]
    assert kept.conflicts["year"]["values"][1] == {"source": f"rows.csv ({copy_id})", "value": 2016}
    assert not (kb_dir / "records" / f"{copy_id}.yaml").exists()
    assert yaml.safe_load((kb_dir / "records" / f"{LISTED}.yaml").read_text())["aliases"] == [copy_id]

    # The merged-away id names the kept record everywhere: the Python API, show, tag, MCP, the web.
    assert kb.get(copy_id).id == LISTED
    shown = ok(run(runner, kb_dir, "show", copy_id, "--json"))
    assert json.loads(shown.stdout)["id"] == LISTED
    ok(run(runner, kb_dir, "tag", copy_id, "hopfield"))
    assert KnowledgeBase.open(kb_dir).get(LISTED).tags == ["hopfield"]
    assert tools.get_paper(KnowledgeBase.open(kb_dir), copy_id, 4000)["id"] == LISTED
    assert tools.tag(KnowledgeBase.open(kb_dir), copy_id, ["mcp"])["id"] == LISTED
    app = create_app(
        KnowledgeBase.open(kb_dir), Settings(hosts=["testserver"], origins=["http://testserver"])
    )
    client = TestClient(app, follow_redirects=False)
    page = client.get(f"/paper/{copy_id}")
    assert page.status_code == 200 and "Hopfield Networks is All You Need" in page.text
    assert client.get(f"/api/papers/{copy_id}").json()["id"] == LISTED

    # The same CSV again, and again with its rows swapped: the kept record, never the copy made again.
    again = ok(run(runner, kb_dir, "ingest", str(rows))).stderr
    assert "imported 0" in again
    swapped = write_rows(
        tmp_path / "rows.csv",
        [
            ["Hopfield networks is all you need", "Hubert Ramsauer", "2016", hopfield_abstract()],
            ["A Paper Only The Spreadsheet Has", "Ann Smith", "2019", "Widgets and gadgets."],
        ],
    )
    assert "imported 0" in ok(run(runner, kb_dir, "ingest", str(swapped))).stderr
    papers = KnowledgeBase.open(kb_dir).papers()
    assert [p.id for p in papers if p.title.lower().startswith("hopfield")] == [LISTED]
    kept = KnowledgeBase.open(kb_dir).get(LISTED)
    assert (kept.title, kept.year, kept.date) == ("Hopfield Networks is All You Need", 2020, "2020-07-16")
    assert json.loads(ok(run(runner, kb_dir, "dedup", "--json")).stdout) == []


def paper(pid: str, fmt: str, **fields: object) -> Paper:
    made = Paper(title="Deep Widgets", id=pid, sources=[Source(file=f"{pid}.{fmt}", format=fmt)])
    return dataclasses.replace(made, **fields)  # type: ignore[arg-type]


def test_the_better_sourced_record_is_kept() -> None:
    """An API's record over a listing's or a reference manager's, those over CSV and JSON Lines rows; a
    DOI or arXiv id next; then more sources; the smaller id last."""
    order = [
        paper("z-api", "crossref"),
        paper("y-listing", "hf-daily"),
        paper("x-rows-with-doi", "csv", doi="10.1/w"),
        paper("w-rows", "jsonl"),
    ]
    assert [source_rank(p) for p in order] == sorted(source_rank(p) for p in order)
    for better, worse in itertools.pairwise(order):
        pair = {(min(better.id, worse.id), max(better.id, worse.id)): "the same title"}
        (dup,) = plan_merges(pair, {better.id: better, worse.id: worse})
        assert (dup.keep, dup.drop) == (better.id, worse.id)
    bib = paper("b-bib", "bibtex", year=2020)
    rows = paper("a-rows", "csv", year=2020)
    assert [(d.keep, d.drop) for d in find_duplicates([rows, bib])] == [("b-bib", "a-rows")]


def test_a_merged_record_takes_year_and_date_from_one_source() -> None:
    kept = paper("a", "csv", year=2016, date_raw="2016")
    other = paper("b", "csv", year=2020, date="2020-07-16", date_raw="Jul 16, 2020")
    merged = merge_records(kept, other)
    assert (merged.year, merged.date, merged.date_raw) == (2016, None, "2016")
    assert merged.conflicts["date"]["values"][-1] == {"source": "b.csv (b)", "value": "2020-07-16"}
    assert merged.aliases == ["b"]
    # Agreeing values fill in: the same year, a day known only to the other.
    same_year = merge_records(kept, paper("c", "csv", year=2016, date="2016-05-01"))
    assert (same_year.year, same_year.date) == (2016, "2016-05-01") and "date" not in same_year.conflicts
    # Aliases carry over through a second merge.
    assert merge_records(paper("d", "csv"), merged).aliases == ["a", "b"]


def test_an_ingest_changes_year_and_date_together_or_not_at_all() -> None:
    listed = paper("p", "hf-daily", year=2020, date="2020-07-16", date_raw="Jul 16, 2020")
    listed.sources = [Source(file="day1.txt", format="hf-daily")]
    newer = paper("q", "hf-daily", year=2021, date_raw="2021")
    newer.sources = [Source(file="day2.txt", format="hf-daily")]
    moved = merge(listed, newer)  # a newer copy of the listing: its year, and no longer the old day
    assert (moved.year, moved.date, moved.date_raw, moved.conflicts) == (2021, None, "2021", {})
    other = paper("r", "bibtex", year=2019, date="2019-03-01")
    kept = merge(listed, other)  # another kind of input: the listing's year and date stay, together
    assert (kept.year, kept.date) == (2020, "2020-07-16")
    assert kept.conflicts["year"]["values"] == [
        {"source": "day1.txt", "value": 2020},
        {"source": "r.bibtex", "value": 2019},
    ]
    assert kept.conflicts["date"]["values"][1] == {"source": "r.bibtex", "value": "2019-03-01"}
    # A CSV row merged into a listing's record by `dedup` does not take the listing's values over when
    # the same CSV is read again: only what came from that CSV is updated by it.
    rows = paper("s", "csv", title="deep widgets", year=2016, authors=["Ann Smith"])
    rows.sources = [Source(file="rows.csv", format="csv")]
    joined = merge_records(listed, rows)
    assert joined.provenance["authors"] == "rows.csv (s)"
    rows_again = dataclasses.replace(rows, id="", authors=["Ann Smith", "Bo Li"])
    again = merge(joined, rows_again)
    assert (again.title, again.year, again.authors) == ("Deep Widgets", 2020, ["Ann Smith", "Bo Li"])


def test_an_ingest_finds_the_record_a_copy_was_merged_into() -> None:
    from litkb.identity import Catalog
    from litkb.models import make_id

    kept = paper("deep-widgets-1", "hf-daily", year=2020, aliases=[make_id("Deep widgets (preprint)")])
    years = [{"source": "x", "value": 2020}, {"source": "rows.csv (y)", "value": 2016}]
    kept.conflicts = {"year": {"shown": "x", "values": years}}
    catalog = Catalog([kept])
    # Another title, but its id would be an alias: the record it was merged into.
    assert catalog.match(Paper(title="Deep Widgets (Preprint)", year=2031)) is kept
    # The same title with a year the record was given (under conflicts): the same paper.
    assert catalog.match(Paper(title="Deep widgets", year=2016)) is kept
    assert catalog.match(Paper(title="Deep widgets", year=2010)) is None
    # An alias is never given to a new record.
    assert catalog.new_id(Paper(title="Deep widgets (preprint)")) != make_id("Deep widgets (preprint)")
