"""Full-text search: passages of attached files' cached text in the index, ranked with the abstracts,
hits with page and quote, `--in`, incremental updates, and papers without files ranked as before."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.fulltext.pages import ExtractedText, save_text
from litkb.fulltext.windows import WINDOW, Window, embeds, page_windows
from tests.conftest import run

BODY = [
    "Introduction. We study retrieval for libraries of papers. " * 3,
    "Method. Each draft head reads the base model's hidden states and the tokens drafted so far. "
    "The quokka ablation removes rotary embeddings from every layer and measures the perplexity. ",
    "Results. The zebrafish corpus shows a gain of three points over the baseline. ",
    "References. [1] A. Author. Rotary embeddings everywhere: a survey. 2021.",
]


def attach(kb: KnowledgeBase, ref: str, pages: list[str], references: tuple[int, int] | None = None) -> str:
    """Give a paper a (fake) attached file whose text is in the cache, as attaching does."""
    digest = hashlib.sha256("\n".join(pages).encode()).hexdigest()
    save_text(kb.root, ExtractedText(digest, "test 1", pages, references_start=references))
    paper = kb.get(ref)
    paper.files = [{"path": f"files/{paper.id}/paper.pdf", "sha256": digest, "size": 1, "pages": len(pages),
                    "extractor": "test 1", "linked": False}]  # fmt: skip
    kb.store.save_many([paper])
    return paper.id


def hits(runner: CliRunner, kb: Path, *args: str) -> list[dict]:
    result = run(runner, kb, "search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_windows_keep_to_a_page_and_mark_the_references() -> None:
    long_page = " ".join(f"Sentence number {i} says something." for i in range(200))
    text = ExtractedText("x", "t", ["Short page one.", long_page, "Body text. References [1] X."], (3, 11))
    windows = page_windows(text)
    assert [w.page for w in windows][:2] == [1, 2]
    assert all(len(w.text.split()) <= WINDOW for w in windows)
    assert {w.page for w in windows} == {1, 2, 3}
    last_page = [w for w in windows if w.page == 3]
    assert [(w.text, w.reference) for w in last_page] == [("Body text.", False), ("References [1] X.", True)]
    for w in windows:  # each window is its page's text at its place
        assert " ".join(text.page(w.page)[w.start : w.end].split()) == w.text
    assert page_windows(ExtractedText("y", "t", [""], status="no-text")) == []


def test_prose_is_embedded_references_tables_and_code_by_keywords_only(
    runner: CliRunner, loaded: Path
) -> None:
    prose = "Each draft head reads the base model's hidden states and the tokens drafted so far."
    table = "Table 2: MR 20 10662 18765 SST-1 18 11855 17836 SST-2 19 9613 16185 TREC 10 5952 9592 wombat"
    code = "fun snoc (Empty, x) = Queue {F=[x], M=Empty, LenFM=1, R=[], LenR=0}"
    assert embeds(Window(0, 1, 0, 1, False, prose))
    assert not embeds(Window(0, 1, 0, 1, True, prose))  # the references section
    assert not embeds(Window(0, 1, 0, 1, False, table)) and not embeds(Window(0, 1, 0, 1, False, code))
    assert not embeds(Window(0, 1, 0, 1, False, ""))
    kb = KnowledgeBase.open(loaded)
    pid = attach(kb, "hopfield networks is all you need", [prose, table, f"References [1] {prose}"], (3, 0))
    assert run(runner, loaded, "index").exit_code == 0
    full = KnowledgeBase.open(loaded).parts.fulltext
    places, vectors = full.places(pid), full.vectors_of(pid)
    assert [int(p[1]) for p in places] == [1, 2, 3] and [bool(p[4]) for p in places] == [False, False, True]
    norms = [round(float((v * v).sum()), 3) for v in vectors]
    assert norms == [1.0, 0.0, 0.0]  # only the prose has a vector
    found = hits(runner, loaded, "wombat SST-2", "--in", "full")  # the table, by its keywords
    assert found[0]["id"] == pid and found[0]["page"] == 2 and "wombat" in found[0]["quote"]


def test_a_body_sentence_finds_its_paper_with_page_and_quote(runner: CliRunner, loaded: Path) -> None:
    kb = KnowledgeBase.open(loaded)
    before = {mode: hits(runner, loaded, "quokka ablation", "--mode", mode) for mode in ("hybrid", "keyword")}
    pid = attach(kb, "hopfield networks is all you need", BODY, references=(4, 0))
    result = run(runner, loaded, "index")
    assert result.exit_code == 0, result.output
    assert "full text: embedded 1 (" in result.output
    for mode in ("hybrid", "keyword", "semantic"):
        found = hits(runner, loaded, "quokka ablation rotary embeddings", "--mode", mode)
        # (keyword mode: BM25 over four passages gives little weight to a word; it is found, not first)
        hit = found[0] if mode != "keyword" else next(h for h in found if h["id"] == pid)
        assert hit["id"] == pid, mode
        assert hit["page"] == 2, mode
        assert "quokka" in hit["quote"], mode
        assert all(h["page"] is None and h["quote"] is None for h in found if h["id"] != pid)
    assert not any(h["id"] == pid for h in before["keyword"])
    only = hits(runner, loaded, "quokka ablation", "--in", "full")
    assert [h["id"] for h in only] == [pid]
    abstract = hits(runner, loaded, "quokka ablation", "--in", "abstract")
    assert abstract == before["hybrid"]
    table = run(runner, loaded, "search", "zebrafish corpus")
    assert table.exit_code == 0 and "p. 3" in table.stdout and "zebrafish" in table.stdout


def test_papers_without_files_rank_exactly_as_before(runner: CliRunner, loaded: Path) -> None:
    queries = ["speculative decoding", "memory networks", "reinforcement learning subnetworks"]
    before = {(q, m): hits(runner, loaded, q, "--mode", m, "-k", "20") for q in queries
              for m in ("hybrid", "semantic", "keyword")}  # fmt: skip
    kb = KnowledgeBase.open(loaded)
    pid = attach(kb, "hopfield networks is all you need", BODY)
    assert run(runner, loaded, "index").exit_code == 0
    for (query, mode), old in before.items():
        new = hits(runner, loaded, query, "--mode", mode, "-k", "20")
        old_order = [h["id"] for h in old if h["id"] != pid]
        new_order = [h["id"] for h in new if h["id"] != pid]
        common = min(len(old_order), len(new_order)) - 1  # the paper with a file may push one out
        assert new_order[:common] == old_order[:common], (query, mode)
        same = {h["id"]: (h["score"], h["similarity"]) for h in old if h["id"] != pid}
        for h in new:
            if h["id"] in same and mode != "keyword":
                assert (h["score"], h["similarity"]) == same[h["id"]], (query, mode)


def test_changing_files_reembeds_that_paper_only(runner: CliRunner, loaded: Path) -> None:
    kb = KnowledgeBase.open(loaded)
    first = attach(kb, "hopfield networks is all you need", BODY)
    second = attach(kb, "mirror speculative", ["Page one of the mirror paper about a pangolin."])
    out = run(runner, loaded, "index").output
    assert "full text: embedded 2" in out and "embedded 0 (" in out  # the abstracts are not embedded again
    assert "full text" not in run(runner, loaded, "index").output  # nothing changed
    attach(kb, "mirror speculative", ["A replaced file about an axolotl."])
    out = run(runner, loaded, "index").output
    assert "full text: embedded 1 (1 passages)" in out
    assert hits(runner, loaded, "pangolin", "--in", "full", "--mode", "keyword") == []
    assert [h["id"] for h in hits(runner, loaded, "axolotl", "--in", "full", "--mode", "keyword")] == [second]
    paper = kb.get(first)
    paper.files = []
    kb.store.save_many([paper])
    out = run(runner, loaded, "index").output
    assert "full text: embedded 0 (0 passages), deleted 1" in out
    assert hits(runner, loaded, "quokka", "--in", "full", "--mode", "keyword") == []
    assert [h["id"] for h in hits(runner, loaded, "axolotl", "--in", "full", "--mode", "keyword")] == [second]


def test_full_text_index_is_rebuilt_when_lost(runner: CliRunner, loaded: Path) -> None:
    import shutil

    kb = KnowledgeBase.open(loaded)
    pid = attach(kb, "hopfield networks is all you need", BODY)
    assert run(runner, loaded, "index").exit_code == 0
    shutil.rmtree(loaded / "index" / "fulltext")
    out = run(runner, loaded, "index").output
    assert "full text: embedded 1" in out
    assert [h["id"] for h in hits(runner, loaded, "zebrafish", "--in", "full", "--mode", "keyword")] == [pid]
    assert run(runner, loaded, "index", "--rebuild").exit_code == 0
    assert [h["id"] for h in hits(runner, loaded, "zebrafish", "--in", "full", "--mode", "keyword")] == [pid]


def test_in_full_without_full_text_and_a_bad_scope(runner: CliRunner, loaded: Path) -> None:
    result = run(runner, loaded, "search", "memory", "--in", "full")
    assert result.exit_code == 0 and "no paper's full text is in the index" in result.stderr
    bad = run(runner, loaded, "search", "memory", "--in", "body")
    assert bad.exit_code == 2 and "abstract, full" in bad.stderr


def test_web_links_the_pdf_shows_passages_and_serves_only_kb_files(
    runner: CliRunner, loaded: Path, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from litkb.web.app import Settings, create_app

    kb = KnowledgeBase.open(loaded)
    pid = attach(kb, "hopfield networks is all you need", BODY)
    pdf = b"%PDF-1.4\n% a test file\n%%EOF\n"
    (loaded / "files" / pid).mkdir(parents=True)
    (loaded / "files" / pid / "paper.pdf").write_bytes(pdf)
    assert run(runner, loaded, "index").exit_code == 0
    host = "127.0.0.1:8000"
    client = TestClient(
        create_app(KnowledgeBase.open(loaded), Settings(hosts=[host], origins=[f"http://{host}"]))
    )
    get = lambda url: client.get(url, headers={"host": host})  # noqa: E731
    found = get("/search?q=quokka+ablation")
    assert found.status_code == 200
    assert f'href="/paper/{pid}/file#page=2">p. 2</a>' in found.text and "<mark>quokka</mark>" in found.text
    page = get(f"/paper/{pid}?q=zebrafish")
    assert (
        f'href="/paper/{pid}/file?n=1"' in page.text
        and "p. 3" in page.text
        and "<mark>zebrafish</mark>" in page.text
    )
    served = get(f"/paper/{pid}/file")
    assert served.status_code == 200 and served.content == pdf
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("inline")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert get(f"/paper/{pid}/file?n=2").status_code == 404  # no second file
    assert get(f"/paper/{pid}/file?n=x").status_code == 400
    other = kb.get("mirror speculative").id
    assert get(f"/paper/{other}/file").status_code == 404  # no file attached
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4 secret")
    for path, linked in (("files/../config.yaml", False), ("../secret.pdf", False), (str(secret), False),
                         (str(secret), True), ("files/x/../../config.yaml", False)):  # fmt: skip
        paper = kb.get(pid)
        paper.files[0].update(path=path, linked=linked)  # a record edited by hand to point elsewhere
        kb.store.save_many([paper])
        refused = get(f"/paper/{pid}/file")
        assert refused.status_code in (400, 404), path
        assert b"%PDF-1.4 secret" not in refused.content and b"model:" not in refused.content
    (loaded / "files" / pid / "link.pdf").symlink_to(secret)
    paper = kb.get(pid)
    paper.files[0].update(path=f"files/{pid}/link.pdf", linked=False)
    kb.store.save_many([paper])
    assert get(f"/paper/{pid}/file").status_code == 400  # a link out of files/
    paper.files[0].update(
        path=str(secret), linked=True, sha256=hashlib.sha256(secret.read_bytes()).hexdigest()
    )
    kb.store.save_many([paper])
    assert get(f"/paper/{pid}/file").content == secret.read_bytes()  # linked, and still the file attached


def test_mcp_reads_text_by_page_and_search_carries_page_and_quote(runner: CliRunner, loaded: Path) -> None:
    import pytest

    from litkb.errors import InputError, NotFoundError
    from litkb.filters import PaperFilter
    from litkb.mcp import tools

    kb = KnowledgeBase.open(loaded)
    pid = attach(kb, "hopfield networks is all you need", BODY)
    assert run(runner, loaded, "index").exit_code == 0
    kb = KnowledgeBase.open(loaded)
    hit = tools.search(kb, "zebrafish corpus gain", 3, "hybrid", None, PaperFilter())["results"][0]
    assert (hit["id"], hit["page"]) == (pid, 3) and "zebrafish" in hit["quote"]
    text = tools.read_text(kb, pid, 2, 3, 8000)
    assert [p["page"] for p in text["pages"]] == [2, 3] and "quokka" in text["pages"][0]["text"]
    assert text["page_count"] == 4 and text["next_page"] == 4 and not text["truncated"]
    cut = tools.read_text(kb, pid, 1, None, 100)
    assert sum(len(p["text"]) for p in cut["pages"]) == 100 and cut["truncated"]
    with pytest.raises(InputError, match=r"has pages 1\.\.4"):
        tools.read_text(kb, pid, 9, None, 1000)
    with pytest.raises(NotFoundError, match="no attached file"):
        tools.read_text(kb, "mirror speculative", 1, None, 1000)


def test_references_are_weighed_as_references(runner: CliRunner, loaded: Path) -> None:
    kb = KnowledgeBase.open(loaded)
    cited = "Platypus venom proteins fold into a narwhal shaped helix."
    body = attach(kb, "mirror speculative", ["Introduction.", f"We show that {cited}"])
    only_cites = attach(
        kb, "hopfield networks is all you need", ["Introduction.", f"References [1] {cited}"], (2, 0)
    )
    assert run(runner, loaded, "index").exit_code == 0
    for mode in ("keyword", "semantic", "hybrid"):
        found = hits(runner, loaded, cited, "--in", "full", "--mode", mode)
        assert [h["id"] for h in found[:2]] == [body, only_cites], mode
