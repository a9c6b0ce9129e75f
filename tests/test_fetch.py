"""`litkb fetch` and `litkb enrich` against a loopback server that answers as the Hugging Face Daily
Papers API, arXiv and Crossref do (tests/fake_services.py). The network guard stays on: nothing here
reaches past loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.sources import arxiv as arxiv_source
from litkb.sources import http
from tests.conftest import run
from tests.fake_services import Answer, ArxivPaper, FakeServices, daily_entry

DAY = "2025-11-18"
SEED_TITLES = ["Paging with Succinct Predictions", "Hopfield Networks is All You Need"]
NEW = "Parallel Widget Decoding: A Paper No Listing Pasted"


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServices]:
    fake = FakeServices().start()
    for name in ("LITKB_HF_URL", "LITKB_ARXIV_URL", "LITKB_CROSSREF_URL"):
        monkeypatch.setenv(name, fake.url)
    monkeypatch.setattr(arxiv_source, "INTERVAL", 0.0)  # arXiv's 3 s between requests: tested apart
    monkeypatch.setattr(http, "BACKOFF", 0.01)
    yield fake
    fake.stop()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the HTTP layer asked for (not waited)."""
    waits: list[float] = []
    monkeypatch.setattr(http.time, "sleep", waits.append)
    return waits


def ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def fails(result, *words: str):  # type: ignore[no-untyped-def]
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
    return result


def record(kb: Path, title: str) -> dict:
    papers = [p for p in KnowledgeBase.open(kb).papers() if p.title == title]
    assert len(papers) == 1, [p.title for p in papers]
    return papers[0].to_dict()


def seed_entry(kb: Path, arxiv_id: str, title: str, authors: list[str]) -> dict:
    """The Daily Papers entry of a paper of the shipped listing: its abstract and arXiv date."""
    paper = record(kb, title)
    return daily_entry(arxiv_id, title, paper["abstract"], authors, DAY, published=paper["date"])


def test_hf_day_becomes_complete_records_merged_with_the_pasted_listing(
    runner: CliRunner, kb_dir: Path, seed_path: Path, services: FakeServices
) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    ok(run(runner, kb_dir, "tag", SEED_TITLES[0], "must-read"))
    ok(run(runner, kb_dir, "note", SEED_TITLES[0], "-m", "read it twice"))
    entries = [
        seed_entry(kb_dir, "2210.02775", SEED_TITLES[0], ["Kumar", "Panigrahy"]),
        seed_entry(kb_dir, "2008.02217", SEED_TITLES[1], ["Ramsauer", "Hochreiter"]),
        daily_entry(
            "2510.13161",
            NEW,
            "We speculate in parallel. It works.",
            ["Nikhil Bhendawade", "Kumari Nishu"],
            DAY,
        ),
        {"paper": {"id": "2511.00001", "summary": "no title"}, "numComments": 0},
    ]
    services.days[DAY] = entries
    result = ok(run(runner, kb_dir, "fetch", "hf", "--date", DAY))
    assert "imported 1, updated 2, unchanged 0, skipped 1" in result.stderr
    assert "entry 4: no title; skipped" in result.stderr
    assert len(KnowledgeBase.open(kb_dir).papers()) == 70  # 69 pasted + 1 new: the 2 merged
    merged = record(kb_dir, SEED_TITLES[0])
    assert merged["arxiv_id"] == "2210.02775" and merged["authors"] == ["Kumar", "Panigrahy"]
    assert merged["tags"] == ["must-read"] and merged["notes"] == "read it twice"
    assert {s["format"] for s in merged["sources"]} == {"hf-daily", "hf-api"}
    assert "https://huggingface.co/papers/2210.02775" in merged["urls"]
    new = record(kb_dir, NEW)
    assert new["arxiv_id"] == "2510.13161" and new["authors"] == ["Nikhil Bhendawade", "Kumari Nishu"]
    assert new["date"] == "2025-11-14" and new["upvotes"] == 10
    assert new["organization"] == {"handle": "nvidia", "name": "NVIDIA"}
    assert new["sources"] == [
        {"file": f"hf-api-{DAY}", "format": "hf-api", "listing_date": DAY, "position": 3}
    ]
    assert new["urls"] == [
        "https://arxiv.org/abs/2510.13161",
        "https://huggingface.co/papers/2510.13161",
        "https://github.com/example/2510.13161",
    ]
    assert new["extra"]["ai_keywords"] == ["speculative decoding", "LLM"]
    assert new["extra"]["numComments"] == 3 and new["extra"]["githubStars"] == 42
    assert services.requests == [f"/api/daily_papers?date={DAY}&limit=100&p=0"]
    # The same fetch again: served from the cache (no request), nothing new.
    again = ok(run(runner, kb_dir, "fetch", "hf", "--date", DAY, "--json"))
    report = json.loads(again.stdout)
    assert (report["imported"], report["updated"], report["unchanged"], report["requests"]) == (0, 0, 3, 0)
    assert len(services.requests) == 1
    ok(run(runner, kb_dir, "fetch", "hf", "--date", DAY, "--refresh"))
    assert len(services.requests) == 2
    # A BibTeX export now names the authors the pasted page did not give.
    bib = ok(run(runner, kb_dir, "export", "--format", "bibtex", "--ids", NEW)).stdout
    assert "author = {{Bhendawade}, Nikhil and {Nishu}, Kumari}" in bib


def test_every_page_of_a_week_is_read_and_indexed_in_the_same_run(
    runner: CliRunner, kb_dir: Path, services: FakeServices
) -> None:
    services.days["2025-11-17"] = [
        daily_entry(f"2511.{i:05d}", f"Paper number {i} on widgets", f"Widgets {i}.", ["A B"], "2025-11-17")
        for i in range(150)
    ]
    result = ok(run(runner, kb_dir, "fetch", "hf", "--week", "2025-W47", "--index"))
    assert "imported 150" in result.stderr and "embedded 150" in result.stderr
    assert services.requests == [
        "/api/daily_papers?week=2025-W47&limit=100&p=0",
        "/api/daily_papers?week=2025-W47&limit=100&p=1",
    ]
    found = json.loads(ok(run(runner, kb_dir, "search", "widgets 7", "--json")).stdout)
    assert found


def test_retry_after_and_backoff_then_success(
    runner: CliRunner, kb_dir: Path, services: FakeServices, slept: list[float]
) -> None:
    services.days[DAY] = [daily_entry("2510.13161", NEW, "Abstract.", ["N B"], DAY)]
    services.script(
        "/api/daily_papers",
        Answer(429, "slow down", {"Retry-After": "7"}),
        Answer(500, "oops"),
    )
    ok(run(runner, kb_dir, "fetch", "hf", "--date", DAY))
    assert len(services.requests) == 3
    assert slept[0] == 7.0 and slept[1] == pytest.approx(0.02)  # Retry-After, then the backoff's 2nd step


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ([Answer(500, "oops")] * http.MAX_TRIES, ["HTTP 500", "4 tries"]),
        ([Answer(200, "<!DOCTYPE html><html><body>Maintenance</body></html>", {"Content-Type": "text/html"})],
         ["an HTML page, not JSON"]),
        ([Answer(200, '[{"paper": {"title": ', {"Content-Type": "application/json"})], ["malformed JSON"]),
        ([Answer(200, '{"error": "no"}', {"Content-Type": "application/json"})], ["not a list of papers"]),
        ([Answer(404, "Not Found")], ["HTTP 404"]),
        ([Answer(302, "", {"Location": "http://mirror.example.com/api/daily_papers"})],
         ["redirected to another host", "mirror.example.com"]),
    ],
)  # fmt: skip
def test_a_failing_service_says_what_happened_and_writes_nothing(
    runner: CliRunner,
    kb_dir: Path,
    services: FakeServices,
    slept: list[float],
    answers: list[Answer],
    words: list[str],
) -> None:
    services.script("/api/daily_papers", *answers)
    result = fails(run(runner, kb_dir, "fetch", "hf", "--date", DAY), "Hugging Face Daily Papers", *words)
    assert "1 failed" in result.stderr
    assert not list(kb_dir.glob("records/*.yaml"))  # nothing half-written


def test_a_redirect_within_the_service_is_followed(
    runner: CliRunner, kb_dir: Path, services: FakeServices
) -> None:
    services.days[DAY] = [daily_entry("2510.13161", NEW, "Abstract.", ["N B"], DAY)]
    services.script(
        "/api/daily_papers", Answer(301, "", {"Location": f"/api/daily_papers?date={DAY}&limit=100&p=0"})
    )
    assert "imported 1" in ok(run(runner, kb_dir, "fetch", "hf", "--date", DAY)).stderr


def test_a_timeout_and_an_oversize_body_are_errors(
    runner: CliRunner,
    kb_dir: Path,
    services: FakeServices,
    slept: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http, "TIMEOUT", 0.2)
    services.script("/api/daily_papers", *[Answer(200, "[]", delay=1.0)] * http.MAX_TRIES)
    fails(run(runner, kb_dir, "fetch", "hf", "--date", DAY), "timed out")
    monkeypatch.setattr(http, "MAX_BYTES", 1000)
    services.script("/api/daily_papers", Answer(200, "[" + " " * 5000 + "]"))
    fails(
        run(runner, kb_dir, "fetch", "hf", "--date", "2025-11-19"),
        "over 1,000 bytes",
    )


def test_a_range_keeps_what_was_fetched_and_a_rerun_resumes(
    runner: CliRunner, kb_dir: Path, services: FakeServices, slept: list[float]
) -> None:
    for day in ("2025-11-17", "2025-11-18", "2025-11-19"):
        services.days[day] = [
            daily_entry(f"2511.{day[-2:]}000", f"The paper of {day}", "Text.", ["A B"], day)
        ]
    services.script("/api/daily_papers", Answer(200, "[]"), *[Answer(503, "busy")] * http.MAX_TRIES)
    # The first day answers an empty list (a day without papers), the second fails, the third is fetched.
    result = fails(
        run(runner, kb_dir, "fetch", "hf", "--from", "2025-11-17", "--to", "2025-11-19"), "2025-11-18"
    )
    assert "imported 1" in result.stderr and "1 failed" in result.stderr
    assert [p.title for p in KnowledgeBase.open(kb_dir).papers()] == ["The paper of 2025-11-19"]
    before = len(services.requests)
    result = ok(run(runner, kb_dir, "fetch", "hf", "--from", "2025-11-17", "--to", "2025-11-19"))
    assert "imported 1, updated 0, unchanged 1" in result.stderr  # day 17 and 19 from the cache
    assert services.requests[before:] == ["/api/daily_papers?date=2025-11-18&limit=100&p=0"]


def test_arxiv_by_id_and_by_query_with_pages(
    runner: CliRunner, kb_dir: Path, services: FakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        services.arxiv[f"2505.1234{i}"] = ArxivPaper(
            f"2505.1234{i}", f"Speculative decoding, part {i}", "Abs.", ["Ada Lovelace"]
        )
    result = ok(run(runner, kb_dir, "fetch", "arxiv", "2505.12340v2", "arXiv:2505.12341", "--json"))
    assert json.loads(result.stdout)["imported"] == 2
    fetched = record(kb_dir, "Speculative decoding, part 0")
    assert fetched["arxiv_id"] == "2505.12340"  # stored without version
    assert fetched["urls"][0] == "https://arxiv.org/abs/2505.12340"  # the abstract page, as enrich gives it
    dry = ok(run(runner, kb_dir, "enrich", "Speculative decoding, part 0", "--dry-run"))
    assert "urls" not in dry.stdout and "would fill 0 values" in dry.stderr  # nothing left for enrich
    monkeypatch.setattr(arxiv_source, "PAGE", 2)
    ok(run(runner, kb_dir, "fetch", "arxiv", "--query", 'abs:"speculative decoding"', "--max", "5"))
    assert len(KnowledgeBase.open(kb_dir).papers()) == 5
    starts = [r for r in services.requests if "search_query" in r]
    assert len(starts) == 3 and "start=4&max_results=1" in starts[-1]
    fails(run(runner, kb_dir, "fetch", "arxiv", "not-an-id"), "not an arXiv id")
    fails(
        run(runner, kb_dir, "fetch", "arxiv", "hep-th/9901001"),
        "arXiv: the query was refused",
        "incorrect id",
    )


def test_arxiv_requests_are_three_seconds_apart(services: FakeServices, slept: list[float]) -> None:
    client = http.HttpClient("litkb-test", intervals={services.url.split("//")[1]: 3.0})
    services.arxiv["2505.12340"] = ArxivPaper("2505.12340", "One", "Abs.", ["A B"])
    for _ in range(3):
        client.get_text("arXiv", f"{services.url}/api/query?id_list=2505.12340", 0)
    assert len(slept) == 2 and all(2.5 < s <= 3.0 for s in slept)


def test_crossref_by_doi(runner: CliRunner, kb_dir: Path, services: FakeServices, tmp_path: Path) -> None:
    services.works["10.1145/3397271.3401075"] = {
        "DOI": "10.1145/3397271.3401075",
        "type": "proceedings-article",
        "title": ["ColBERT: Efficient and Effective Passage Search"],
        "author": [
            {"given": "Omar", "family": "Khattab", "sequence": "first"},
            {"given": "Matei", "family": "Zaharia"},
        ],
        "container-title": ["Proceedings of SIGIR 2020"],
        "issued": {"date-parts": [[2020, 7, 25]]},
        "abstract": "<jats:title>Abstract</jats:title><jats:p>Recent progress in "
        "<jats:italic>IR</jats:italic> &amp; more.</jats:p>",
        "URL": "https://doi.org/10.1145/3397271.3401075",
    }
    (kb_dir / "config.yaml").write_text("model: 'hash:256'\nmailto: someone@example.org\n")
    ok(run(runner, kb_dir, "fetch", "doi", "https://doi.org/10.1145/3397271.3401075"))
    paper = record(kb_dir, "ColBERT: Efficient and Effective Passage Search")
    assert paper["abstract"] == "Recent progress in IR & more."
    assert paper["authors"] == ["Omar Khattab", "Matei Zaharia"] and paper["year"] == 2020
    assert (
        paper["doi"] == "10.1145/3397271.3401075"
        and paper["extra"]["container"] == "Proceedings of SIGIR 2020"
    )
    fails(run(runner, kb_dir, "fetch", "doi", "10.1000/missing"), "Crossref", "HTTP 404")
    assert "mailto" not in yaml.safe_dump(paper)


def test_enrich_fills_only_what_is_missing(
    runner: CliRunner, kb_dir: Path, seed_path: Path, services: FakeServices
) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    third = "Dynamic Constrained Submodular Optimization with Polylogarithmic Update Time"
    kb = KnowledgeBase.open(kb_dir)
    kb.update_record(SEED_TITLES[0], lambda p: setattr(p, "authors", ["Existing Author"]))
    services.arxiv["2210.02775"] = ArxivPaper("2210.02775", SEED_TITLES[0], "Abs.", ["Kumar Ravi", "Rina P"])
    # The same title but for punctuation: the same paper by the identity rule.
    services.arxiv["2008.02217"] = ArxivPaper(
        "2008.02217", "Hopfield Networks is All You Need!", "A.", ["H R"]
    )
    # Found by a title search, but another title: not this paper.
    services.arxiv["2306.00001"] = ArxivPaper("2306.00001", f"{third}: A Survey", "A.", ["S V"])
    records = kb_dir / "records"
    before = sorted(p.read_text() for p in records.iterdir())
    dry = ok(run(runner, kb_dir, "enrich", SEED_TITLES[0], SEED_TITLES[1], third, "--dry-run"))
    assert "arxiv_id = 2210.02775" in dry.stdout and "would fill" in dry.stderr
    lines = dry.stdout.splitlines()
    assert max(map(len, lines)) > 80 and all(line.endswith("(from arxiv-api)") for line in lines)  # unwrapped
    assert sorted(p.read_text() for p in records.iterdir()) == before  # nothing written
    ok(run(runner, kb_dir, "enrich", SEED_TITLES[0], SEED_TITLES[1], third))
    paper = record(kb_dir, SEED_TITLES[0])
    assert paper["arxiv_id"] == "2210.02775" and paper["provenance"]["arxiv_id"] == "arxiv-api"
    assert paper["authors"] == ["Existing Author"]  # never overwritten
    hopfield = record(kb_dir, SEED_TITLES[1])
    assert hopfield["arxiv_id"] == "2008.02217" and hopfield["authors"] == ["H R"]
    assert record(kb_dir, third)["arxiv_id"] is None
    assert sum("search_query" in r for r in services.requests) == 3  # one title search each (2nd run: cache)


def test_endpoints_are_settings_and_must_be_http(
    runner: CliRunner, kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITKB_HF_URL", "ftp://127.0.0.1:21")
    fails(run(runner, kb_dir, "fetch", "hf"), "LITKB_HF_URL", "http(s)")
    monkeypatch.setenv("LITKB_HF_URL", "http://127.0.0.1:9/api/daily_papers")
    fails(run(runner, kb_dir, "fetch", "hf"), "host and port only")
    monkeypatch.delenv("LITKB_HF_URL")
    (kb_dir / "config.yaml").write_text("model: 'hash:256'\ncrossref_url: 'file:///etc'\n")
    fails(run(runner, kb_dir, "fetch", "doi", "10.1/x"), "crossref_url")


def test_next_takes_the_filters(runner: CliRunner, loaded: Path, services: FakeServices) -> None:
    services.days[DAY] = [daily_entry("2510.13161", NEW, "Speculative decoding in parallel.", ["N B"], DAY)]
    ok(run(runner, loaded, "fetch", "hf", "--date", DAY, "--index"))
    ok(run(runner, loaded, "like", "Hopfield Networks is All You Need"))
    found = json.loads(ok(run(runner, loaded, "next", "--source", "hf-api", "--json")).stdout)
    assert [p["title"] for p in found] == [NEW]


def test_no_service_listening_is_one_clean_line(
    runner: CliRunner, kb_dir: Path, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    port = dead_port()
    monkeypatch.setenv("LITKB_CROSSREF_URL", f"http://127.0.0.1:{port}")
    result = fails(
        run(runner, kb_dir, "fetch", "doi", "10.1145/3397271.3401075"), "Crossref", "cannot connect"
    )
    assert len([line for line in result.stderr.splitlines() if line.startswith("Warning: failed")]) == 1
    assert "not asked again in this run" in result.stderr
    assert slept == []  # a refused connection is not retried


def dead_port() -> int:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_enrich_with_the_network_down_stops_asking_after_the_first_failure(
    runner: CliRunner, kb_dir: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    papers = len(KnowledgeBase.open(kb_dir).papers())
    port = dead_port()
    for name in ("LITKB_ARXIV_URL", "LITKB_CROSSREF_URL"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    before = sorted(p.read_text() for p in (kb_dir / "records").iterdir())
    result = fails(run(runner, kb_dir, "enrich"), "arXiv: cannot connect to 127.0.0.1")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1, result.stderr  # one line for the host, not one a paper
    assert f"not asked again in this run ({papers - 1} more requests not made)" in warnings[0]
    assert "filled 0 values in 0 records" in result.stderr
    assert slept == []  # no backoff: the first refusal ends the host's turn
    assert sorted(p.read_text() for p in (kb_dir / "records").iterdir()) == before


def test_enrich_stops_at_its_time_limit(
    runner: CliRunner, kb_dir: Path, seed_path: Path, services: FakeServices
) -> None:
    from tests.fake_services import _atom

    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    empty = _atom([])
    services.script("/api/query", *[Answer(200, empty.body, empty.headers, delay=0.7)] * 3)
    result = fails(
        run(runner, kb_dir, "enrich", *SEED_TITLES, "Hydra", "--time-limit", "1"),
        "stopped at the time limit (1 s, --time-limit)",
    )
    assert len(services.requests) <= 2  # the third title was never asked for
    assert len([line for line in result.stderr.splitlines() if line.startswith("Warning:")]) == 1
