"""`litkb serve`: every route through Starlette's test client (pages, the JSON API, changes, the safety
checks), on the shipped listing with the fast embedder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.web.app import Settings, create_app
from tests.conftest import run

HOST = "testserver"


@pytest.fixture
def site(runner: CliRunner, loaded: Path) -> tuple[TestClient, Path]:
    assert run(runner, loaded, "themes").exit_code == 0
    app = create_app(KnowledgeBase.open(loaded), Settings(hosts=[HOST], origins=[f"http://{HOST}"]))
    return TestClient(app, follow_redirects=False), loaded


def csrf_of(html: str) -> str:
    return html.split('data-csrf="', 1)[1].split('"', 1)[0]


def paper_id(kb: Path, title_start: str) -> str:
    return next(p.id for p in KnowledgeBase.open(kb).papers() if p.title.startswith(title_start))


def record(kb: Path, pid: str) -> dict:
    return yaml.safe_load((kb / "records" / f"{pid}.yaml").read_text())


def test_every_page_renders(site: tuple[TestClient, Path]) -> None:
    client, kb = site
    inbox = client.get("/")
    assert inbox.status_code == 200 and "Inbox" in inbox.text and "newest first" in inbox.text
    assert "default-src 'self'" in inbox.headers["content-security-policy"]
    found = client.get("/search", params={"q": "speculative decoding"})
    assert found.status_code == 200
    first = found.text.split('class="paper"')[1:4]
    assert any("Hydra" in block for block in first) and any("Mirror Speculative" in block for block in first)
    assert "<mark>" in found.text
    hydra = paper_id(kb, "Hydra")
    page = client.get(f"/paper/{hydra}")
    assert page.status_code == 200 and "@" in page.text and "Related" in page.text and "Notes" in page.text
    themes = client.get("/themes")
    assert themes.status_code == 200 and "/papers?theme=1" in themes.text
    mapped = client.get("/themes/map")
    assert (
        mapped.status_code == 200
        and "<svg" in mapped.text
        and "unsafe-inline" in mapped.headers["content-security-policy"]
    )
    assert client.get("/reading").status_code == 200
    listed = client.get("/papers", params={"theme": "1"})
    assert listed.status_code == 200 and 'class="paper"' in listed.text
    bib = client.get("/export", params={"format": "bibtex", "q": "speculative decoding", "k": "3"})
    assert (
        bib.status_code == 200
        and bib.text.count("@") == 3
        and "attachment" in bib.headers["content-disposition"]
    )
    assert client.get("/static/style.css").status_code == 200


def test_the_api_has_the_cli_shapes(site: tuple[TestClient, Path], runner: CliRunner) -> None:
    client, kb = site
    hits = client.get("/api/search", params={"q": "speculative decoding", "k": "3"}).json()
    cli = json.loads(run(runner, kb, "search", "speculative decoding", "-k", "3", "--json").stdout)
    assert hits == cli
    hydra = paper_id(kb, "Hydra")
    assert client.get(f"/api/papers/{hydra}").json() == record(kb, hydra)
    assert len(client.get(f"/api/related/{hydra}", params={"k": "3"}).json()) == 3
    themes = client.get("/api/themes").json()
    assert themes and {"id", "label", "size", "area", "papers"} <= set(themes[0])
    assert client.get("/api/next").status_code == 404  # nothing liked yet: litkb's own message
    assert "nothing liked or read yet" in client.get("/api/next").json()["error"]


def test_errors_have_fitting_statuses(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    missing = client.get("/api/papers/no-such-paper")
    assert missing.status_code == 404 and "no paper matches" in missing.json()["error"]
    assert client.get("/paper/no-such-paper").status_code == 404
    assert client.get("/nowhere").status_code == 404
    assert client.get("/api/nowhere").json()["error"].startswith("no such page")
    bad = client.get("/api/search", params={"q": "x", "k": "abc"})
    assert bad.status_code == 400 and "k 'abc'" in bad.json()["error"]
    assert client.get("/search", params={"q": "x", "year": "20xx"}).status_code == 400
    assert client.get("/api/search", params={"q": "x", "tag": "nosuchtag"}).status_code == 400


def test_changes_need_the_token_and_the_same_origin(site: tuple[TestClient, Path]) -> None:
    client, kb = site
    token = csrf_of(client.get("/").text)
    hydra = paper_id(kb, "Hydra")
    assert client.post(f"/paper/{hydra}/like", data={}).status_code == 403
    assert client.post(f"/paper/{hydra}/like", data={"csrf": "wrong"}).status_code == 403
    cross = client.post(
        f"/paper/{hydra}/like", data={"csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403 and record(kb, hydra)["rating"] is None
    done = client.post(f"/paper/{hydra}/like", data={"csrf": token, "next": "/search?q=x"})
    assert done.status_code == 303 and done.headers["location"] == "/search?q=x"
    assert record(kb, hydra)["rating"] == "like"
    answer = client.post(
        f"/paper/{hydra}/status",
        data={"csrf": token, "status": "read"},
        headers={"Accept": "application/json"},
    )
    assert answer.json()["paper"]["status"] == "read" and record(kb, hydra)["status"] == "read"
    client.post(f"/paper/{hydra}/tags", data={"csrf": token, "add": "drafting, heads"})
    client.post(f"/paper/{hydra}/tags", data={"csrf": token, "remove": "heads"})
    client.post(f"/paper/{hydra}/note", data={"csrf": token, "text": "Compare with Medusa."})
    after = record(kb, hydra)
    assert after["tags"] == ["drafting"] and after["notes"] == "Compare with Medusa."
    assert client.post(f"/paper/{hydra}/status", data={"csrf": token, "status": "done"}).status_code == 400
    assert (
        client.post(f"/paper/{hydra}/like", data={"csrf": token, "next": "//evil.example"}).headers[
            "location"
        ]
        == f"/paper/{hydra}"
    )
    # The inbox now ranks by what was liked and read.
    assert "ranked by fit" in client.get("/").text


def test_record_text_is_escaped(site: tuple[TestClient, Path], runner: CliRunner, tmp_path: Path) -> None:
    client, kb = site
    evil = tmp_path / "evil.jsonl"
    evil.write_text(
        json.dumps({"title": "<script>alert(1)</script> Widgets", "abstract": "<img src=x onerror=alert(2)>"})
        + "\n"
    )
    assert run(runner, kb, "ingest", str(evil)).exit_code == 0
    pid = paper_id(kb, "<script>")
    page = client.get(f"/paper/{pid}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    listed = client.get("/papers").text
    assert "<script>alert(1)" not in listed


def test_host_check_and_token(loaded: Path) -> None:
    app = create_app(KnowledgeBase.open(loaded), Settings(hosts=[HOST], origins=[f"http://{HOST}"]))
    client = TestClient(app)
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    guarded = TestClient(
        create_app(
            KnowledgeBase.open(loaded), Settings(hosts=[HOST], origins=[f"http://{HOST}"], token="s3cret")
        )
    )
    assert guarded.get("/").status_code == 401
    assert guarded.get("/", params={"token": "s3cret"}).status_code == 200
    assert guarded.get("/").status_code == 200  # the cookie the first visit set
    assert (
        guarded.get("/api/search", params={"q": "x"}, headers={"X-Litkb-Token": "s3cret"}).status_code == 200
    )


def test_a_change_while_another_process_writes_is_busy(
    site: tuple[TestClient, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from litkb import lock

    client, kb = site
    monkeypatch.setenv(lock.TIMEOUT_VARIABLE, "600")  # the server answers at once all the same
    token = csrf_of(client.get("/").text)
    hydra = paper_id(kb, "Hydra")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from pathlib import Path; from litkb.lock import write_lock\n"
         f"with write_lock(Path({str(kb / '.lock')!r})):\n    print('held', flush=True); time.sleep(20)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = client.post(
            f"/paper/{hydra}/like", data={"csrf": token}, headers={"Accept": "application/json"}
        )
        assert busy.status_code == 409 and busy.json()["error"].startswith("busy")
        assert record(kb, hydra)["rating"] is None  # nothing written
    finally:
        holder.kill()
        holder.wait()
    assert client.post(f"/paper/{hydra}/like", data={"csrf": token}).status_code == 303


def test_serve_refuses_another_host_without_a_token(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "serve", "--host", "0.0.0.0")
    assert result.exit_code == 2 and "--token" in result.stderr


def section(html: str, heading: str) -> str:
    """The text of the page's panel under `<h2>heading`, up to the next panel."""
    return html.split(f"<h2>{heading}", 1)[1].split("<section", 1)[0]


def test_the_record_panel_reads_as_text_not_python(
    site: tuple[TestClient, Path], runner: CliRunner, tmp_path: Path
) -> None:
    """`conflicts`, `extra` and `provenance` as readable, escaped lists and a table; names as people
    write them, as the CLI shows them."""
    client, kb = site
    bib = tmp_path / "hydra.bib"
    bib.write_text(
        "@inproceedings{ankner2024hydra,\n"
        "  title = {Hydra: Sequentially-Dependent Draft Heads for Medusa Decoding},\n"
        "  author = {Ankner, Zachary and Parthasarathy, Rishab and Nrusimha, Aniruddha},\n"
        "  year = {2023},\n  booktitle = {Proc. <b>COLM</b>},\n}\n",
        encoding="utf-8",
    )
    other = tmp_path / "hydra.jsonl"
    other.write_text(
        json.dumps({"title": "Hydra: Sequentially-Dependent Draft Heads for Medusa Decoding",
                    "authors": ["Leviathan, Yaniv", "Kalman, Matan"]}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert run(runner, kb, "ingest", str(bib), str(other)).exit_code == 0
    hydra = paper_id(kb, "Hydra")
    saved = record(kb, hydra)
    assert {"year", "authors"} <= set(saved["conflicts"]) and saved["extra"]["booktitle"]
    page = client.get(f"/paper/{hydra}").text
    panel = section(page, "Record")
    shown = panel + page.split("<h2>Yours", 1)[0]
    assert "{&#39;" not in panel and "{'" not in panel and "[&#39;" not in panel  # no dict or list repr
    assert "Zachary Ankner; Rishab Parthasarathy; Aniruddha Nrusimha" in shown
    assert "Ankner, Zachary" not in shown
    # extra: one line per key, escaped.
    assert "<dt>booktitle</dt><dd>Proc. &lt;b&gt;COLM&lt;/b&gt;</dd>" in panel and "<b>COLM" not in panel
    assert "<dt>bibtex_type</dt><dd>inproceedings</dd>" in panel
    # conflicts: a table, a group of rows per field, a row per value with its source, the shown one marked.
    table = panel.split('<table class="conflicts">', 1)[1].split("</table>", 1)[0]
    groups = {
        re.findall(r'<th scope="rowgroup"[^>]*>(.*?)</th>', body)[0]: [
            "|".join(re.findall(r"<td>(.*?)</td>", row)) for row in body.split("<tr")[1:]
        ]
        for body in table.split("<tbody>")[1:]
    }
    assert groups["year"] == ["2024|hf-daily-papers-2025-11-18.txt (shown)", "2023|hydra.bib"]
    assert groups["authors"] == [
        "Zachary Ankner; Rishab Parthasarathy; Aniruddha Nrusimha|hydra.bib (shown)",
        "Yaniv Leviathan; Matan Kalman|hydra.jsonl",
    ]
    # provenance: which input each shown value came from.
    assert "<dt>citation_key</dt><dd>hydra.bib</dd>" in panel
    # The lists show names the same way.
    listed = client.get("/papers").text
    assert "Zachary Ankner; Rishab Parthasarathy; Aniruddha Nrusimha" in listed


def test_the_status_menu_says_unread_when_there_is_no_status(site: tuple[TestClient, Path]) -> None:
    client, kb = site
    hydra = paper_id(kb, "Hydra")
    page = client.get(f"/paper/{hydra}").text
    menu = page.split('<select id="status"', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected disabled>unread (no status)</option>' in menu
    assert menu.count("selected") == 1  # not to-read, the first real choice
    assert '<strong class="status">unread</strong>' in page  # as `litkb show` says
    token = csrf_of(page)
    client.post(f"/paper/{hydra}/status", data={"csrf": token, "status": "reading"})
    page = client.get(f"/paper/{hydra}").text
    menu = page.split('<select id="status"', 1)[1].split("</select>", 1)[0]
    assert "unread (no status)" not in menu and "<option selected>reading</option>" in menu
    assert '<strong class="status">reading</strong>' in page and "(since " in page
    # Sending the placeholder changes nothing and says why.
    sent = client.post(f"/paper/{hydra}/status", data={"csrf": token, "status": ""})
    assert sent.status_code == 400 and record(kb, hydra)["status"] == "reading"


def test_search_shows_the_match_word_and_the_weak_notice(
    site: tuple[TestClient, Path], runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's `match` column (strong, fair, weak) and its "nothing matches well" warning, from the
    same search. The fast embedder is not calibrated, so the test calibrates it with thresholds that fit
    its similarities."""
    import html as html_module

    from litkb.index import search as searching

    client, kb = site
    plain = client.get("/search", params={"q": "speculative decoding"}).text
    assert re.search(r'class="closeness"[^>]*>similarity 0\.\d\d<', plain)  # no words for this model
    assert "strong" not in plain and "nothing here matches" not in plain
    monkeypatch.setattr(searching, "CALIBRATED", {*searching.CALIBRATED, "hash:256"})
    monkeypatch.setattr(searching, "STRONG", 0.25)
    monkeypatch.setattr(searching, "FAIR", 0.2)
    good = client.get("/search", params={"q": "speculative decoding", "k": "5"}).text
    words = re.findall(r'class="closeness"[^>]*>(\w+) match · 0\.\d\d<', good)
    assert words[:2] == ["strong", "fair"] and words[-1] == "weak"
    assert "nothing here matches" not in good
    cli = run(runner, kb, "search", "xylophone quantum banana", "-k", "3")
    notice = next(line for line in cli.stderr.splitlines() if "nothing here matches" in line)
    bad = client.get("/search", params={"q": "xylophone quantum banana", "k": "3"}).text
    shown = html_module.unescape(bad.split('class="notices"', 1)[1].split("</div>", 1)[0])
    assert notice.removeprefix("Warning: ") in " ".join(shown.split())
    assert re.findall(r'class="closeness"[^>]*>(\w+) match ·', bad) == ["weak"] * 3


def test_the_inbox_says_how_many_it_shows_of_how_many(site: tuple[TestClient, Path]) -> None:
    client, kb = site
    papers = KnowledgeBase.open(kb).papers()
    assert len(papers) > 50
    inbox = client.get("/").text
    assert inbox.count('class="paper"') == 50 and f"50 of {len(papers)} unread papers" in inbox
    token = csrf_of(inbox)
    client.post(f"/paper/{paper_id(kb, 'Hydra')}/like", data={"csrf": token})
    ranked = client.get("/").text
    assert "ranked by fit" in ranked and f"50 of {len(papers) - 1} unread papers" in ranked
    few = client.get("/", params={"theme": "1"}).text
    shown = few.count('class="paper"')
    assert shown < 50 and f"{shown} unread paper" in few and " of " not in few.split('class="hint"')[1][:40]


def test_fields_in_any_shape_read_as_text() -> None:
    """What a hand-edited record may hold (a conflict not in litkb's shape, nested extras, booleans) still
    reads as words; long author lists are cut after four with the count of the others."""
    from litkb.models import Paper
    from litkb.names import display_names
    from litkb.web.fields import record_fields

    paper = Paper.from_dict(
        {"id": "x-1", "title": "X", "authors": [f"Family{i}, Given{i}" for i in range(6)],
         "extra": {"links": [{"rel": "code", "href": "https://example.org/x"}], "peer_reviewed": True},
         "conflicts": {"year": "2019 or 2020, see the PDF"}}
    )  # fmt: skip
    fields = {f.name: f for f in record_fields(paper)}
    assert fields["authors"].text == "; ".join(f"Given{i} Family{i}" for i in range(6))
    assert fields["extra"].pairs == [
        ("links", "rel: code; href: https://example.org/x"),
        ("peer_reviewed", "yes"),
    ]
    [(name, values)] = fields["conflicts"].conflicts
    assert name == "year" and [(v.value, v.source, v.shown) for v in values] == [
        ("2019 or 2020, see the PDF", "", False)
    ]
    assert (
        display_names(paper, limit=4)
        == "Given0 Family0; Given1 Family1; Given2 Family2; Given3 Family3; and 2 more"
    )
    paper.extra["more_authors"] = True
    assert display_names(paper, limit=4).endswith("Given3 Family3; and others")
    assert display_names(paper).endswith("Given5 Family5; and others")
