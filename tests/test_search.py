"""Search: modes, filters (with related too), snippets, --like, the keyword index and passages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.index.passages import WINDOW, passages
from litkb.index.records import IndexRecords
from litkb.index.search import fuse
from litkb.index.snippets import best_snippet
from litkb.index.vectors import scores_by_paper as _paper_scores
from litkb.models import Paper
from litkb.render import highlighted
from litkb.text import sentences
from tests.conftest import run


def hits(runner: CliRunner, kb: Path, *args: str) -> list[dict]:
    result = run(runner, kb, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_modes(runner: CliRunner, loaded: Path) -> None:
    for mode in ("keyword", "semantic", "hybrid"):
        found = hits(runner, loaded, "search", "Hopfield", "--mode", mode, "-k", "3")
        assert found[0]["title"] == "Hopfield Networks is All You Need", mode
    keyword = hits(runner, loaded, "search", "EAGLE3", "--mode", "keyword")
    assert [h["title"][:27] for h in keyword] == ["Mirror Speculative Decoding"]
    assert hits(runner, loaded, "search", "zzzqqq", "--mode", "keyword") == []
    bad = run(runner, loaded, "search", "x", "--mode", "fuzzy")
    assert bad.exit_code != 0 and "known modes: hybrid, semantic, keyword" in bad.stderr


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["--year", "2024"], lambda p: p["year"] == 2024),
        (["--year", "2022..2023"], lambda p: 2022 <= p["year"] <= 2023),
        (["--since", "2025-06"], lambda p: p["date"] >= "2025-06-01"),
        (["--min-upvotes", "2"], lambda p: (p["upvotes"] or 0) >= 2),
        (["--author", "apple"], lambda p: p["organization"] == {"handle": "apple", "name": "Apple"}),
        (["--source", "hf-daily"], lambda p: True),
        (["--source", "hf-daily-papers-2025-11-18.txt"], lambda p: True),
    ],
)
def test_filters_compose_with_every_mode_and_related(
    runner: CliRunner, loaded: Path, args: list[str], check
) -> None:
    kb = KnowledgeBase.open(loaded)
    by_id = {p.id: p.to_dict() for p in kb.papers()}
    expected = {pid for pid, p in by_id.items() if check(p)}
    for mode in ("hybrid", "semantic", "keyword"):
        found = hits(runner, loaded, "search", "learning models", "--mode", mode, "-k", "100", *args)
        assert {h["id"] for h in found} <= expected, (mode, args)
        if mode == "semantic":
            assert {h["id"] for h in found} == expected, args  # every allowed paper is ranked
    related = hits(runner, loaded, "related", "Hydra", "-k", "100", *args)
    hydra = next(pid for pid in by_id if pid.startswith("hydra"))
    assert {h["id"] for h in related} == expected - {hydra}


def test_tag_and_theme_filters(runner: CliRunner, loaded: Path) -> None:
    record = next((loaded / "records").glob("hydra-*.yaml"))
    record.write_text(record.read_text().replace("tags: []", "tags:\n- to-read"))
    assert [h["title"][:5] for h in hits(runner, loaded, "search", "anything", "--tag", "to-read")] == [
        "Hydra"
    ]
    themes = json.loads(run(runner, loaded, "themes", "-k", "3", "--json").stdout)
    members = {p["id"] for p in themes[2]["papers"]}
    found = hits(runner, loaded, "related", "Hydra", "--theme", "3", "-k", "100")
    assert {h["id"] for h in found} == members - {next(iter(p for p in members if p.startswith("hydra")), "")}


def test_bad_filter_values(runner: CliRunner, loaded: Path) -> None:
    for args, message in ((["--year", "20x"], "expected a year"), (["--since", "June"], "expected a date")):
        result = run(runner, loaded, "search", "x", *args)
        assert result.exit_code != 0 and message in result.stderr
    # A source or tag that no paper has is a typo, not an empty selection.
    for command in (["search", "x"], ["related", "Hydra"], ["export", "-f", "bibtex"]):
        source = run(runner, loaded, *command, "--source", "other.csv") if command[0] != "export" else None
        if source is not None:
            assert source.exit_code == 2 and "--source other.csv: no paper came from" in source.stderr
            assert "hf-daily-papers-2025-11-18.txt" in source.stderr
        tag = run(runner, loaded, *command, "--tag", "nosuchtag")
        assert tag.exit_code == 2 and "--tag nosuchtag: no paper has this tag (tags: none yet)" in tag.stderr
    assert run(runner, loaded, "list", "--tag", "nosuchtag").exit_code == 2


def test_snippet_shows_the_matching_passage() -> None:
    text = "We study cats. Dogs are loyal. Speculative decoding speeds up inference. Birds sing."
    assert best_snippet("speculative decoding", text).startswith("… Speculative decoding speeds up")
    assert best_snippet("zebra", text).startswith("We study cats.")
    # no query word in the text: the passage nearest by meaning, when known, else the start
    assert best_snippet("zebra", text, closest="Dogs are loyal.").startswith("… Dogs are loyal.")
    assert best_snippet("", text, closest="Birds sing.") == "… Birds sing."
    assert best_snippet("cats", text, closest="Birds sing.").startswith("We study cats.")  # words first
    assert best_snippet("cats", "   ") == ""
    spans = highlighted("Speculative decoding speeds decoders", "speculative decoding").spans
    assert [(s.start, s.end) for s in spans] == [(0, 11), (12, 20), (28, 36)]


def test_semantic_snippets_show_the_sentence_nearest_by_meaning(runner: CliRunner, kb_dir: Path) -> None:
    abstract = (
        "We study cats at home. Quantum annealers minimise spin glass energies quickly. Dogs bark at night."
    )
    source = kb_dir / "in.jsonl"
    source.write_text(json.dumps({"title": "Animals and machines", "abstract": abstract}))
    run(runner, kb_dir, "ingest", str(source))
    run(runner, kb_dir, "index")
    kb = KnowledgeBase.open(kb_dir)
    # the fake embedder is lexical: the query's words make the second sentence the nearest
    assert kb.search("quantum annealers spin", k=1, mode="semantic")[0]["snippet"].startswith(
        "… Quantum annealers minimise"
    )
    assert kb.search("dogs bark", k=1, mode="hybrid")[0]["snippet"].startswith("… Dogs bark at night.")


def test_search_by_example(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    hydra = KnowledgeBase.open(loaded).get("Hydra")
    draft = tmp_path / "draft.txt"
    draft.write_text(hydra.abstract or "")
    found = hits(runner, loaded, "search", "--like", str(draft), "-k", "3")
    assert found[0]["id"] == hydra.id
    from_stdin = run(runner, loaded, "search", "--like", "-", "-k", "3", "--json", input=hydra.abstract)
    assert json.loads(from_stdin.stdout)[0]["id"] == hydra.id
    both = run(runner, loaded, "search", "x", "--like", str(draft))
    assert both.exit_code != 0 and "not QUERY and --like" in both.stderr
    assert "no such file" in run(runner, loaded, "search", "--like", str(tmp_path / "none")).stderr


def test_keyword_index_follows_the_records(runner: CliRunner, loaded: Path) -> None:
    assert hits(runner, loaded, "search", "xylophonics", "--mode", "keyword") == []
    record = next((loaded / "records").glob("hydra-*.yaml"))
    record.write_text(record.read_text().replace("abstract: ", "abstract: Xylophonics matter. ", 1))
    run(runner, loaded, "index")
    assert [h["title"][:5] for h in hits(runner, loaded, "search", "xylophonics", "--mode", "keyword")] == [
        "Hydra"
    ]
    record.unlink()
    run(runner, loaded, "index")
    assert hits(runner, loaded, "search", "xylophonics", "--mode", "keyword") == []


def test_sentences_split_where_a_new_sentence_starts() -> None:
    text = 'We study X. It works, e.g. on Y with p < 0.05.  Results: 3. (A) holds!\nDoes it? "Yes."'
    assert sentences(text) == [
        "We study X.",
        "It works, e.g. on Y with p < 0.05.",
        "Results: 3.",
        "(A) holds!",
        "Does it?",
        '"Yes."',
    ]
    assert sentences("") == [] and sentences("no stop at all") == ["no stop at all"]


def test_sentences_do_not_end_at_et_al_or_fig() -> None:
    """A citation or a figure reference is not a sentence end: `Malladi et al. (2023), using ...` stays
    one sentence (it was cut after `al.`, in passages and in the Markdown export's summaries)."""
    text = "We extend work from Malladi et al. (2023), using shared randomness. Fig. 2 shows it. Done."
    assert sentences(text) == [
        "We extend work from Malladi et al. (2023), using shared randomness.",
        "Fig. 2 shows it.",
        "Done.",
    ]


def test_abstracts_are_embedded_whole_and_sentence_by_sentence(runner: CliRunner, kb_dir: Path) -> None:
    words = [f"w{i}" for i in range(WINDOW + 110)]
    paper = Paper(title="Long", abstract="A first sentence. A second one. Then " + " ".join(words))
    texts = passages(paper)
    assert texts[0] == paper.embedded_text()
    assert texts[1:3] == ["A first sentence.", "A second one."]
    # a sentence longer than the window is cut into windows, so the model reads all of it
    assert texts[3].split() == ["Then", *words[: WINDOW - 1]] and texts[4].split() == words[WINDOW - 1 :]
    assert len(texts) == 5
    assert passages(Paper(title="Short", abstract="a b c")) == ["Short\n\na b c", "a b c"]
    assert passages(Paper(title="Title only")) == ["Title only"]
    rows = [
        {"title": "Long One", "abstract": " ".join([*words, "tailword"])},
        {"title": "Short", "abstract": "x"},
    ]
    source = kb_dir / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows))
    run(runner, kb_dir, "ingest", str(source))
    assert "embedded 2 (5 passages)" in run(runner, kb_dir, "index").stderr
    kb = KnowledgeBase.open(kb_dir)
    # the end of a long abstract is found by meaning, through its last passage
    assert kb.search("w255 w256 w257 tailword", k=1, mode="semantic")[0]["title"] == "Long One"
    # an interrupted index (the snapshot marked stale first, then a passage missing) is noticed and redone
    kb.vectors.begin_change()
    kb.vectors.chroma.open(create=False).delete(ids=[f"{kb.get('Long One').id}#2"])
    assert "embedded 1 (3 passages)" in run(runner, kb_dir, "index").stderr


def test_searches_through_chroma_rank_as_the_snapshot_does(loaded: Path) -> None:
    """Without a current snapshot (or on a server) dense search asks Chroma for the nearest passages;
    here it ranks as the exact snapshot search does."""
    queries = ["speculative decoding", "memory networks", "video generation benchmark"]
    kb = KnowledgeBase.open(loaded)
    exact = [[(h["id"], h["score"]) for h in kb.search(q, k=5, mode="semantic")] for q in queries]
    (loaded / "index" / "passages.json").unlink()
    through_chroma = KnowledgeBase.open(loaded)
    assert through_chroma.vectors.current_snapshot() is None
    found = [[(h["id"], h["score"]) for h in through_chroma.search(q, k=5, mode="semantic")] for q in queries]
    assert [[pid for pid, _ in hits] for hits in found] == [[pid for pid, _ in hits] for hits in exact]
    for hits, expected in zip(found, exact, strict=True):
        assert [score for _, score in hits] == pytest.approx([score for _, score in expected], abs=1e-3)


def test_a_paper_scores_its_whole_text_and_its_closest_sentence() -> None:
    owners = ["a", "a", "a", "b", "c", "c"]
    numbers = [0, 1, 2, 0, 1, 2]  # c has lost its passage 0 (an interrupted index)
    order, scores = _paper_scores(owners, numbers, [0.2, 0.9, 0.4, 0.7, 0.3, 0.6])
    assert order == ["a", "b", "c"]
    # a: (0.2 + 0.9) / 2; b has no sentence: its whole text twice; c: its best passage twice
    assert scores.tolist() == pytest.approx([0.55, 0.7, 0.6])


def test_fuse_scales_both_scores() -> None:
    ranked = fuse({"a", "b", "c"}, {"a": 0.9, "b": 0.5, "c": 0.1}, {"c": 10.0, "b": 5.0}, weight=0.4)
    # dense scaled to 1, .5, 0 and keyword to 0, .5, 1: b = .4*.5+.6*.5, a = .6, c = .4
    assert [pid for pid, _ in ranked] == ["a", "b", "c"]
    assert dict(ranked) == pytest.approx({"a": 0.6, "b": 0.5, "c": 0.4})


def test_keyword_scores_are_bm25s_and_updates_equal_a_rebuild(
    loaded: Path, tmp_path: Path, monkeypatch
) -> None:
    """litkb's BM25 weights are bm25s's (Lucene variant, k1 1.5, b 0.75), and an index updated paper by
    paper answers exactly as one built from scratch."""
    import bm25s

    from litkb.index.keyword import KeywordIndex, keyword_hash, paper_tokens, query_terms
    from litkb.text import stems

    papers = KnowledgeBase.open(loaded).papers()
    ordered = sorted(papers, key=lambda p: p.id)
    reference = bm25s.BM25()
    reference.index([paper_tokens(p) for p in ordered], show_progress=False)
    ours = KeywordIndex(tmp_path / "bm25")
    ours.sync(IndexRecords.of(papers, "m"))
    for query in (
        "speculative decoding",
        "continual learning without forgetting",
        "reasoning models rl",
        "models reason, reasoning",
    ):
        terms = [t for t in stems(query_terms(query)) if t in reference.vocab_dict]
        docs, scores = reference.retrieve([terms], k=20, show_progress=False)
        expected = {ordered[int(d)].id: float(s) for d, s in zip(docs[0], scores[0], strict=True) if s > 0}
        got = dict(ours.search(query, 20))
        assert got.keys() == expected.keys()
        assert all(abs(got[pid] - expected[pid]) < 1e-4 for pid in got)
    # updates: a paper changed, one removed, one added (kept beside the counts, which stay as they were);
    # then the added one changed again and another removed; then enough to rewrite the counts. After each,
    # the same answers as an index built from scratch.
    import copy

    from litkb.index import keyword

    monkeypatch.setattr(keyword, "DELTA_PAPERS", 6)
    saved = {path.name: path.stat().st_mtime_ns for path in (tmp_path / "bm25").glob("*.npy")}
    changed = copy.deepcopy(papers[1:])
    changed[0].abstract = "Zebrafinch songs and calls."
    changed.append(Paper(id="new-paper-0000000000", title="A zebrafinch paper", abstract="Songs of birds."))
    later = copy.deepcopy(changed[1:])
    later[-1].abstract = "Songs of zebrafinch birds, learning."
    rewritten = copy.deepcopy(later[5:])
    for name in (" one", " two", " three", " four"):
        rewritten[0].title += name
        rewritten.append(
            Paper(id=f"more{name.strip()}-0000000000", title=f"Zebrafinch {name}", abstract=name)
        )
    for step, now in enumerate((changed, later, rewritten)):
        assert ours.sync(IndexRecords.of(now, "m")) and not ours.sync(IndexRecords.of(now, "m"))
        assert ours.stored_hashes() == {p.id: keyword_hash(p) for p in now}
        assert (tmp_path / "bm25" / "delta.json").exists() == (step < 2)
        if step < 2:
            assert {path.name: path.stat().st_mtime_ns for path in (tmp_path / "bm25").glob("*.npy")} == saved
        rebuilt = KeywordIndex(tmp_path / f"rebuilt-{step}")
        rebuilt.sync(IndexRecords.of(now, "m"))
        for query in ("zebrafinch songs", "speculative decoding", "learning", "birds"):
            a, b = KeywordIndex(tmp_path / "bm25").search(query, 30), rebuilt.search(query, 30)
            assert [pid for pid, _ in a] == [pid for pid, _ in b]
            assert [score for _, score in a] == pytest.approx([score for _, score in b], abs=1e-5)
        found = KeywordIndex(tmp_path / "bm25").scores("zebrafinch")
        assert [found.of(p.id) for p in now] == pytest.approx(
            [rebuilt.scores("zebrafinch").of(p.id) for p in now]
        )
    assert papers[0].id not in {pid for pid, _ in ours.search(papers[0].title, 100)}


def test_a_keyword_index_of_the_older_layout_is_read_and_rewritten(loaded: Path) -> None:
    """An index saved by an older litkb (BM25 weights by term, no lengths) answers as before until the
    next `litkb index`, which rewrites it in the current layout."""
    import numpy as np

    from litkb.index.keyword import LAYOUT, KeywordIndex, bm25

    kb = KnowledgeBase.open(loaded)
    folder = kb.keywords.directory
    queries = ("speculative decoding", "memory for agents", "video generation")
    before = [KeywordIndex(folder).search(q, 20) for q in queries]
    matrix = KeywordIndex(folder)._load()
    held = np.diff(np.asarray(matrix.indptr))
    column = np.repeat(np.arange(len(held)), held)
    weights = bm25(
        np.asarray(matrix.data), matrix.lengths[matrix.indices], held[column], matrix.papers, matrix.average
    )
    np.save(folder / "data.npy", weights.astype(np.float32))
    (folder / "lengths.npy").unlink()
    state = json.loads((folder / "state.json").read_text())
    del state["layout"]
    (folder / "state.json").write_text(json.dumps(state))

    def same(found: list[list[tuple[str, float]]]) -> bool:
        return all(
            [pid for pid, _ in a] == [pid for pid, _ in b]
            and [s for _, s in a] == pytest.approx([s for _, s in b])
            for a, b in zip(found, before, strict=True)
        )

    old = KeywordIndex(folder)
    assert same([old.search(q, 20) for q in queries])
    assert old.stored_hashes() == {}  # so the next sync rewrites it
    assert old.sync(IndexRecords.of(kb.papers(), "m"))
    assert json.loads((folder / "state.json").read_text())["layout"] == LAYOUT
    assert same([KeywordIndex(folder).search(q, 20) for q in queries])


def test_keyword_ties_at_the_limit_go_to_the_first_ids(tmp_path: Path) -> None:
    """Papers with the same score are ranked by id, also where the limit cuts through them, whatever
    order the index holds them in."""
    from litkb.index.keyword import KeywordIndex

    same = [
        Paper(id=f"zebra-{i:02d}-0000000000", title="Zebra stripes", abstract="Zebra.") for i in range(12)
    ]
    other = Paper(id="zz-top-0000000000", title="Zebra zebra zebra stripes", abstract="Zebra zebra.")
    index = KeywordIndex(tmp_path / "bm25")
    index.sync(IndexRecords.of([*reversed(same), other], "m"))
    found = [pid for pid, _ in index.search("zebra", 4)]
    assert found == [other.id] + [p.id for p in same[:3]]
