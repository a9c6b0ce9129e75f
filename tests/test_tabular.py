"""JSON Lines and CSV import."""

from __future__ import annotations

import json

from litkb.parsers import ParseOptions, detect_parser
from litkb.parsers.tabular import parse_csv, parse_jsonl


def opts(name: str = "papers.jsonl") -> ParseOptions:
    return ParseOptions(source_name=name)


def test_jsonl_fields_extra_and_bad_rows() -> None:
    rows = [
        {
            "_id": "4983",
            "title": "Paper One",
            "text": "Body.",
            "authors": ["A. B", "C. D"],
            "year": 2019,
            "doi": "10.1/x",
            "tags": ["rag"],
            "venue": "NeurIPS",
        },
        {"id": "p2", "title": "", "abstract": "no title"},
        {"title": "No Abstract", "date": "2021-03-04", "url": "https://x.org", "authors": "A and B"},
    ]
    text = "\n".join(json.dumps(r) for r in rows) + "\n{not json\n[1]\n"
    result = parse_jsonl(text, opts())
    one, three = result.papers
    assert (one.external_id, one.abstract, one.authors, one.n_authors) == (
        "4983",
        "Body.",
        ["A. B", "C. D"],
        2,
    )
    assert (one.year, one.date, one.doi, one.tags, one.extra) == (
        2019,
        None,
        "10.1/x",
        ["rag"],
        {"venue": "NeurIPS"},
    )
    assert (three.abstract, three.date, three.year, three.urls) == (
        None,
        "2021-03-04",
        2021,
        ["https://x.org"],
    )
    assert three.authors == ["A", "B"]
    assert result.skipped == 3
    assert result.warnings[0] == "papers.jsonl:2: skipped a row without a title"
    assert result.warnings[1].startswith("papers.jsonl:4: skipped a line that is not valid JSON")
    assert result.warnings[2] == "papers.jsonl:5: skipped a row that is not an object"


def test_csv_authors_separators_and_line_numbers() -> None:
    text = (
        "id,title,abstract,authors,year,tags,keywords\n"
        'a1,First,"multi\nline abstract","Doe, Jane; Roe, Rick",2020,x;y,kw\n'
        "a2,,missing title,,,,\n"
        "a3,Third,,Ann Lee and Bob Ray,2021,,\n"
    )
    result = parse_csv(text, opts("papers.csv"))
    first, third = result.papers
    assert first.authors == ["Doe, Jane", "Roe, Rick"] and first.tags == ["x", "y"]
    assert first.abstract == "multi\nline abstract" and first.extra == {"keywords": "kw"}
    assert third.authors == ["Ann Lee", "Bob Ray"] and third.abstract is None and third.year == 2021
    assert result.warnings == ["papers.csv:4: skipped a row without a title"]
    assert first.sources[0].file == "papers.csv" and first.sources[0].format == "csv"


def test_author_lists_and_loose_dates() -> None:
    rows = [
        {
            "title": "A",
            "authors": "C. Bal\\'azs, E. L. Berger, C.-P. Yuan",
            "date": "Mon, 2 Apr 2007 19:18:42 GMT",
        },
        {"title": "B", "authors": "Smith, Anna", "date": "2019-07"},
    ]
    a, b = parse_jsonl("\n".join(json.dumps(r) for r in rows), opts()).papers
    assert a.authors == ["C. Bal\\'azs", "E. L. Berger", "C.-P. Yuan"] and a.n_authors == 3
    assert (a.date, a.year) == ("2007-04-02", 2007)
    assert b.authors == ["Smith, Anna"] and (b.date, b.year, b.date_raw) == (None, 2019, "2019-07")


def test_detection_by_content() -> None:
    assert detect_parser('{"title": "x"}\n', "data.txt").name == "jsonl"
    assert detect_parser('[{"title": "x"}]', "data.txt").name == "jsonl"
    assert detect_parser("title,abstract\nx,y\n", "data.txt").name == "csv"
