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


# -- issue 30: spreadsheet and database exports, bad lines ------------------------------------------

HOPFIELD = "Hopfield Networks is All You Need"


def test_spreadsheet_headers_match_whatever_their_case() -> None:
    text = "Title,Authors,Year,DOI,Abstract,Venue\nA Paper,Ann Smith; Bo Li,2020,10.1/x,Some text.,ICML\n"
    result = parse_csv(text, opts("sheet.csv"))
    (paper,) = result.papers
    assert (paper.title, paper.authors, paper.year, paper.doi, paper.abstract) == (
        "A Paper", ["Ann Smith", "Bo Li"], 2020, "10.1/x", "Some text."
    )  # fmt: skip
    assert paper.extra == {"Venue": "ICML"} and result.warnings == []
    assert result.assumed == [
        "sheet.csv: read the columns Title as title, Authors as authors, Year as year, DOI as doi, "
        "Abstract as abstract (any others are kept under extra)"
    ]
    # litkb's own lower-case names need no word.
    assert parse_csv("id,title,year\nW-1,A Paper,2020\n", opts("own.csv")).assumed == []


def test_zotero_csv_export() -> None:
    header = (
        "Key,Item Type,Publication Year,Author,Title,Publication Title,ISBN,ISSN,DOI,Url,Abstract Note,"
        "Date,Date Added,Date Modified,Access Date,Pages,Num Pages,Issue,Volume,Extra,Notes,"
        "File Attachments,Link Attachments,Manual Tags,Automatic Tags\n"
    )
    row = (
        f'"ABCD1234","conferencePaper","2020","Ramsauer, Hubert; Schäfl, Bernhard","{HOPFIELD}","ICLR",'
        '"","","10.48550/arXiv.2008.02217","https://arxiv.org/abs/2008.02217","We introduce a modern '
        'Hopfield network.","2020-07-16","2021-01-05 10:00:00","2021-01-05 10:00:00","","","","","",'
        '"","","","","hopfield; attention","Computer Science - Machine Learning"\n'
    )
    result = parse_csv(header + row, opts("zotero.csv"))
    (paper,) = result.papers
    assert (paper.external_id, paper.title, paper.authors) == (
        "ABCD1234", HOPFIELD, ["Ramsauer, Hubert", "Schäfl, Bernhard"]
    )  # fmt: skip
    assert (paper.year, paper.date, paper.doi) == (2020, "2020-07-16", "10.48550/arXiv.2008.02217")
    assert paper.abstract == "We introduce a modern Hopfield network." and paper.tags == [
        "hopfield",
        "attention",
    ]
    assert paper.urls == ["https://arxiv.org/abs/2008.02217"]
    assert paper.extra["Publication Title"] == "ICLR" and paper.extra["Item Type"] == "conferencePaper"
    assert "Abstract Note as abstract" in result.assumed[0] and "Manual Tags as tags" in result.assumed[0]


def test_scopus_csv_export() -> None:
    header = (
        "Authors,Author full names,Author(s) ID,Title,Year,Source title,Volume,Issue,Art. No.,"
        "Page start,Page end,Page count,Cited by,DOI,Link,Abstract,Author Keywords,Index Keywords,"
        "Document Type,Publication Stage,Open Access,Source,EID\n"
    )
    row = (
        '"Ramsauer H.; Schäfl B.","Ramsauer, Hubert (57200000001); Schäfl, Bernhard (57200000002)",'
        f'"57200000001; 57200000002","{HOPFIELD}",2021,"ICLR 2021",,,,,,,12,"10.1/hop",'
        '"https://www.scopus.com/inward/record.uri?eid=2-s2.0-1&partnerID=40",'
        '"We introduce a modern Hopfield network.","Hopfield; attention","Memory",Conference Paper,'
        "Final,,Scopus,2-s2.0-1\n"
    )
    (paper,) = parse_csv(header + row, opts("scopus.csv")).papers
    assert (paper.title, paper.year, paper.doi, paper.external_id) == (HOPFIELD, 2021, "10.1/hop", "2-s2.0-1")
    assert paper.authors == ["Ramsauer, Hubert", "Schäfl, Bernhard"]  # the full names, without ids
    assert paper.abstract == "We introduce a modern Hopfield network." and paper.tags == [
        "Hopfield",
        "attention",
    ]
    assert paper.urls[0].startswith("https://www.scopus.com/") and paper.extra["Source title"] == "ICLR 2021"


def test_web_of_science_tab_delimited_export() -> None:
    text = (
        "\ufeffPT\tAU\tAF\tTI\tSO\tDE\tID\tAB\tPY\tDI\tUT\t\n"
        f"C\tRamsauer, H; Schafl, B\tRamsauer, Hubert; Schafl, Bernhard\t{HOPFIELD}\tICLR\t"
        "Hopfield; attention\tMEMORY; NETWORKS\tWe introduce a modern Hopfield network.\t2021\t10.1/hop\t"
        "WOS:000123456700001\t\n"
    )
    assert detect_parser(text, "savedrecs.txt").name == "csv"
    result = parse_csv(text, opts("savedrecs.txt"))
    (paper,) = result.papers
    assert (paper.title, paper.year, paper.doi) == (HOPFIELD, 2021, "10.1/hop")
    assert paper.authors == ["Ramsauer, Hubert", "Schafl, Bernhard"] and paper.tags == [
        "Hopfield",
        "attention",
    ]
    # WoS's ID is Keywords Plus, not an id: UT is the record's id.
    assert paper.external_id == "WOS:000123456700001" and paper.extra["ID"] == "MEMORY; NETWORKS"
    assert paper.abstract == "We introduce a modern Hopfield network." and paper.extra["SO"] == "ICLR"


def test_a_csv_without_a_title_column_says_so_once() -> None:
    text = "Titel,Autoren,Jahr\nEin Papier,Anna,2020\nZwei,Bo,2021\n"
    assert detect_parser(text, "papiere.csv").name == "csv"
    result = parse_csv(text, opts("papiere.csv"))
    assert result.papers == [] and result.skipped == 2 and result.warnings == []
    assert result.problem == (
        "papiere.csv:1: no column of titles (the columns: Titel, Autoren, Jahr); "
        "name one Title (any case), Article Title, Document Title or TI"
    )


def test_jsonl_line_with_a_lone_surrogate_is_skipped() -> None:
    rows = [json.dumps({"title": f"Good paper {i}", "abstract": "x"}) for i in range(10)]
    rows.insert(4, '{"title": "\\ud800 broken", "abstract": "y"}')
    rows.insert(7, '{"title": "fine", "abstract": "but \\udfff here", "tags": ["a"]}')
    result = parse_jsonl("\n".join(rows) + "\n", opts())
    assert [p.title for p in result.papers] == [f"Good paper {i}" for i in range(10)]
    assert result.skipped == 2
    assert result.warnings == [
        "papers.jsonl:5: skipped a line whose text is not valid Unicode (a lone surrogate \\ud800)",
        "papers.jsonl:8: skipped a line whose text is not valid Unicode (a lone surrogate \\udfff)",
    ]
    array = parse_jsonl(json.dumps([{"title": "\ud800"}, {"title": "ok"}]), opts("a.json"))
    assert [p.title for p in array.papers] == ["ok"] and array.warnings[0].startswith("a.json:1: skipped")
