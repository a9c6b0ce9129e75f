"""What a new user hit (issue 15), each reproduced first: merges, identity, years, a huge record,
encodings, BibTeX for LaTeX users, filters, scores, and the rough edges of the CLI."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
import yaml
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.exporters import paper_url
from litkb.index.passages import MAX_PASSAGES
from litkb.themes.map import HEIGHT, WIDTH
from tests.conftest import ROOT, make_kb_dir, run

CONTINUAL = "A Comprehensive Survey of Continual Learning"


def ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result


def near_copies(seed_kb: Path, target: Path, n_papers: int = 20, copies: int = 3) -> Path:
    """Three near-copies each of n papers: sentences shuffled, titles 'Synthetic study N of <title>'."""
    papers = sorted(
        KnowledgeBase.open(seed_kb).papers(), key=lambda p: (not p.title.startswith(CONTINUAL), p.id)
    )
    rows = []
    rng = random.Random(7)
    for paper in papers[:n_papers]:
        sentences = re.split(r"(?<=\.)\s+", paper.abstract or "")
        for n in range(1, copies + 1):
            rng.shuffle(sentences)
            rows.append({"id": f"copy-{len(rows)}", "title": f"Synthetic study {n} of {paper.title}",
                         "abstract": " ".join(sentences)})  # fmt: skip
    target.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return target


# -- 1. dedup --apply does exactly what the dry run showed -----------------------------------------


def test_dedup_apply_carries_out_the_plan_it_printed(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    ok(run(runner, kb_dir, "ingest", str(near_copies(kb_dir, tmp_path / "synthetic.jsonl"))))
    ok(run(runner, kb_dir, "index"))
    before = {p.id: p for p in KnowledgeBase.open(kb_dir).papers()}
    plan = json.loads(ok(run(runner, kb_dir, "dedup", "--json")).stdout)
    keeps, drops = {d["keep"] for d in plan}, [d["drop"] for d in plan]
    assert len(drops) == len(set(drops)) == 60  # every copy once, merged into its paper
    assert not keeps & set(drops)  # no chain: a kept record is never merged away
    continual = next(pid for pid, p in before.items() if p.title.startswith(CONTINUAL))
    assert continual in keeps and all(
        before[k].title == before[k].title.removeprefix("Synthetic") for k in keeps
    )
    dry = ok(run(runner, kb_dir, "dedup", "--dry-run")).stdout
    applied = ok(run(runner, kb_dir, "dedup", "--apply"))
    assert applied.stdout == dry  # the same plan printed, then applied
    assert "merged 60 duplicate records into 20 records" in applied.stderr
    after = {p.id: p for p in KnowledgeBase.open(kb_dir).papers()}
    assert set(after) == set(before) - set(drops)
    kept = after[continual]
    assert kept.title == before[continual].title and kept.abstract == before[continual].abstract
    # Conflicts name the source each value really came from: the copies' file, never the listing.
    titles = kept.conflicts["title"]
    assert titles["shown"] == "hf-daily-papers-2025-11-18.txt"
    assert [v["source"] for v in titles["values"][1:]] == [
        f"synthetic.jsonl ({d['drop']})" for d in plan if d["keep"] == continual
    ]
    assert kept.external_id in {f"copy-{i}" for i in range(60)}
    assert kept.provenance["external_id"].startswith("synthetic.jsonl")
    assert json.loads(ok(run(runner, kb_dir, "dedup", "--json")).stdout) == []


# -- 2. input ids of different files do not make two papers ----------------------------------------


def test_one_paper_with_two_bibtex_keys_is_one_record(
    runner: CliRunner, kb_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "mine.bib", tmp_path / "yours.bib"
    first.write_text(
        "@article{smith2020deep, title={Deep Widgets for Everything}, author={Smith, Ann}, year=2020}"
    )
    second.write_text("@article{SmithDeepWidgets2020, title={Deep widgets for everything}, year={2020}}")
    rows = tmp_path / "rows.csv"
    rows.write_text("id,title,year\nW-17,Deep Widgets for Everything,2020\n")
    ok(run(runner, kb_dir, "ingest", str(first)))
    assert "imported 0, updated 1" in ok(run(runner, kb_dir, "ingest", str(second), str(rows))).stderr
    papers = KnowledgeBase.open(kb_dir).papers()
    assert len(papers) == 1 and [s.file for s in papers[0].sources] == ["mine.bib", "yours.bib", "rows.csv"]
    # Two ids of the same file are two papers, though.
    same = tmp_path / "same.bib"
    same.write_text(
        "@article{a1, title={Twin Title}, year=2020}\n@article{a2, title={Twin title}, year=2020}\n"
    )
    ok(run(runner, kb_dir, "ingest", str(same)))
    assert sum(p.title.lower() == "twin title" for p in KnowledgeBase.open(kb_dir).papers()) == 2


# -- 3. a wrong --year updates what it says, and an assumed year is said ---------------------------


def test_a_wrong_year_never_copies_a_paper(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    again = ok(run(runner, kb_dir, "ingest", "--year", "1850", str(seed_path))).stderr
    assert "imported 0, updated 69, unchanged 0" in again
    assert "changed: listing_date of hf-daily-papers-2025-11-18.txt in 69, date in 23, year in 23" in again
    assert len(KnowledgeBase.open(kb_dir).papers()) == 69


def test_the_year_assumed_for_a_page_without_one_is_said(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    start = tmp_path / "start.txt"
    start.write_text("\n".join(seed_path.read_text().splitlines()[:40]) + "\n")
    said = ok(run(runner, kb_dir, "ingest", str(start))).stderr
    assert "the page's date and dates without a year taken as 2024" in said and "--year" in said
    given = ok(run(runner, make_kb_dir(tmp_path / "other"), "ingest", "--year", "2025", str(start))).stderr
    assert "taken as" not in given


# -- 4. a huge record is capped; a damaged index refuses to answer -----------------------------------


def test_a_huge_abstract_is_capped_and_a_damaged_snapshot_is_refused(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.jsonl"
    abstract = " ".join(f"Sentence number {i} says something about widgets." for i in range(60_000))
    huge.write_text(json.dumps({"title": "A Very Long Record", "abstract": abstract}) + "\n")
    ok(run(runner, kb_dir, "ingest", str(seed_path), str(huge)))
    report = json.loads(ok(run(runner, kb_dir, "index", "--json")).stdout)
    assert report["passages"] == 713 + MAX_PASSAGES
    # The state an interrupted index left: a snapshot of the current generation holding nothing.
    index = kb_dir / "index"
    meta = json.loads((index / "passages.json").read_text())
    (index / "passages.json").write_text(json.dumps({**meta, "segments": []}))
    for args in (
        ["search", "widgets"],
        ["search", "widgets", "--mode", "semantic"],
        ["related", "A Very Long"],
    ):
        refused = run(runner, kb_dir, *args)
        assert refused.exit_code == 1 and "run `litkb doctor`" in refused.stderr, (args, refused.output)
        assert "Traceback" not in refused.output
    doctor = run(runner, kb_dir, "doctor", "--json")
    findings = [f["message"] for f in json.loads(doctor.stdout)["findings"] if f["level"] == "problem"]
    assert doctor.exit_code == 1 and findings == [
        "the passage snapshot holds 0 passage vectors, the index 777"
    ]
    ok(run(runner, kb_dir, "index"))  # brings the snapshot back
    assert json.loads(ok(run(runner, kb_dir, "search", "widgets", "--json")).stdout)


# -- 5. encodings, separators, line ends ---------------------------------------------------------------


def test_common_encodings_and_separators(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    files = {
        "cp1252.csv": "title,year\n“Smart quotes” – a cp1252 title,2020\n".encode("cp1252"),
        "sjis.csv": "title,year\n深層学習による画像認識の研究,2021\n".encode("shift_jis"),
        "utf16.csv": "title,year\nSixteen bits without a mark,2022\n".encode("utf-16-le"),
        "semicolon.csv": b"title;year;authors\nSemicolons from Excel;2023;Ann Smith\n",
        "tabs.tsv": b"title\tyear\nTab separated values\t2024\n",
        "old-mac.csv": b"title,year\rCarriage returns only,2019\rAnother line,2018\r",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = ok(run(runner, kb_dir, "ingest", *(str(tmp_path / n) for n in files)))
    assert "imported 7," in result.stderr and "read as cp1252" in result.stderr
    titles = {p.title: p for p in KnowledgeBase.open(kb_dir).papers()}
    assert set(titles) == {
        "“Smart quotes” – a cp1252 title", "深層学習による画像認識の研究", "Sixteen bits without a mark",
        "Semicolons from Excel", "Tab separated values", "Carriage returns only", "Another line",
    }  # fmt: skip
    assert titles["Semicolons from Excel"].authors == ["Ann Smith"]
    forced = ok(
        run(
            runner,
            make_kb_dir(tmp_path / "forced"),
            "ingest",
            "--encoding",
            "latin-1",
            str(tmp_path / "cp1252.csv"),
        )
    )
    assert "imported 1" in forced.stderr
    wrong = run(runner, kb_dir, "ingest", "--encoding", "utf-8", str(tmp_path / "sjis.csv"))
    assert wrong.exit_code == 1 and "sjis.csv: not valid utf-8" in wrong.stderr
    unknown = run(runner, kb_dir, "ingest", "--encoding", "klingon", str(tmp_path / "sjis.csv"))
    assert unknown.exit_code == 2 and "--encoding klingon" in unknown.stderr


# -- 6-9. BibTeX that LaTeX users can rely on ------------------------------------------------------------

BIB = r"""@inproceedings{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam and others},
  year = {2017}, month = oct,
  booktitle = {NeurIPS}
}
@misc{cai2024medusa,
  title = {{Medusa}: Simple {LLM} Inference Acceleration Framework},
  author = {Cai, Tianle},
  year = {2024}
}
"""


def test_bibtex_keys_others_capitals_and_month_survive_the_round_trip(
    runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path
) -> None:
    source = tmp_path / "refs.bib"
    source.write_text(BIB)
    ok(run(runner, kb_dir, "ingest", str(seed_path), str(source)))
    text = ok(run(runner, kb_dir, "export", "-f", "bibtex")).stdout
    entries = bibtexparser.parse_string(text).entries_dict
    attention, medusa = entries["vaswani2017"], entries["cai2024medusa"]  # the keys came back as given
    assert attention["author"] == "{Vaswani}, Ashish and {Shazeer}, Noam and others"
    assert "month = oct," in text and "month = {" not in text
    assert medusa["title"] == "{Medusa}: Simple {LLM} Inference Acceleration Framework"
    generated = [k for k in entries if k not in ("vaswani2017", "cai2024medusa")]
    assert len(set(entries)) == len(entries) == 71 and all(re.fullmatch(r"[a-z0-9]+", k) for k in generated)
    again = make_kb_dir(tmp_path / "again")
    exported = tmp_path / "out.bib"
    exported.write_text(text)
    ok(run(runner, again, "ingest", str(exported)))
    back = KnowledgeBase.open(again).get("Attention Is All You Need")
    assert back.citation_key == "vaswani2017" and back.extra["more_authors"] is True
    assert back.date is None or back.date.startswith("2017")
    # A key already taken by a kept key is never generated for another paper.
    clash = tmp_path / "clash.jsonl"
    clash.write_text(
        json.dumps({"title": "Vaswani's other paper", "authors": ["Ashish Vaswani"], "year": 2017})
    )
    ok(run(runner, kb_dir, "ingest", str(clash)))
    keys = [
        e.key
        for e in bibtexparser.parse_string(ok(run(runner, kb_dir, "export", "-f", "bibtex")).stdout).entries
    ]
    assert len(keys) == len(set(keys)) and "vaswani2017" in keys


def test_the_posting_organisation_is_not_an_author(runner: CliRunner, kb_dir: Path, seed_path: Path) -> None:
    ok(run(runner, kb_dir, "ingest", str(seed_path)))
    bib = bibtexparser.parse_string(
        ok(run(runner, kb_dir, "export", "-f", "bibtex", "--ids", "mirror speculative")).stdout
    )
    entry = bib.entries[0]
    assert "author" not in entry.fields_dict and entry["organization"] == "Apple"
    csl = json.loads(
        ok(run(runner, kb_dir, "export", "-f", "csl-json", "--ids", "mirror speculative")).stdout
    )[0]
    assert "author" not in csl and csl["publisher"] == "Apple"
    shown = ok(run(runner, kb_dir, "show", "mirror speculative")).stdout
    assert re.search(r"posted by\s+Apple", shown) and not re.search(r"authors\s+Apple", shown)


def test_other_scripts_stay_in_utf8_bibtex_unless_ascii_is_asked(
    runner: CliRunner, kb_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "cjk.jsonl"
    source.write_text(
        json.dumps({"title": "深層学習の研究", "authors": ["山田 太郎"], "year": 2021}, ensure_ascii=False)
    )
    ok(run(runner, kb_dir, "ingest", str(source)))
    utf8 = ok(run(runner, kb_dir, "export", "-f", "bibtex")).stdout
    assert "深層学習の研究" in utf8 and "山田" in utf8
    ascii = ok(run(runner, kb_dir, "export", "-f", "bibtex", "--ascii")).stdout
    assert ascii.isascii() and "title = {???????}" in ascii and "@misc{paper2021," in ascii


# -- 10-12. filters say what they mean -----------------------------------------------------------------


def test_invalid_filter_values_are_errors(runner: CliRunner, loaded: Path) -> None:
    for args in (["search", "rag"], ["list"], ["related", "Hopfield Networks"]):
        result = run(runner, loaded, *args, "--status", "finished")
        assert result.exit_code == 2, (args, result.output)
        assert "--status finished" in result.stderr and "to-read, reading, read, unread" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    for args in (["--year", "soon"], ["--since", "yesterday"], ["--min-upvotes", "-1"], ["--mode", "fuzzy"]):
        assert run(runner, loaded, "search", "rag", *args).exit_code == 2, args


def test_unread_means_not_marked_read_everywhere(runner: CliRunner, loaded: Path) -> None:
    ok(run(runner, loaded, "mark", "Hopfield Networks", "to-read"))
    ok(run(runner, loaded, "mark", "Mirror Speculative", "reading"))
    ok(run(runner, loaded, "mark", "Hydra", "read"))
    kb = KnowledgeBase.open(loaded)
    hopfield, mirror, hydra = (kb.get(t).id for t in ("Hopfield Networks", "Mirror Speculative", "Hydra"))
    unread = set(ok(run(runner, loaded, "list", "--status", "unread", "--ids-only")).stdout.split())
    assert len(unread) == 68 and {hopfield, mirror} <= unread and hydra not in unread
    ok(run(runner, loaded, "like", "Hydra"))
    suggested = set(ok(run(runner, loaded, "next", "-k", "100", "--ids-only")).stdout.split())
    assert suggested == unread  # every unread, unrated paper: to-read and reading ones too


def test_search_says_how_many_papers_are_not_indexed(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.jsonl"
    new.write_text(
        "\n".join(json.dumps({"title": f"Fresh paper {i}", "abstract": "Widgets."}) for i in range(3))
    )
    ok(run(runner, loaded, "ingest", str(new)))
    said = ok(run(runner, loaded, "search", "widgets")).stderr
    assert "3 papers are not indexed yet, so no search finds them; run `litkb index`" in said
    ok(run(runner, loaded, "index"))
    assert "not indexed" not in ok(run(runner, loaded, "search", "widgets")).stderr


# -- 13. scores a user can read ---------------------------------------------------------------------------


def test_results_carry_a_similarity_and_nonsense_is_said_to_match_nothing(
    runner: CliRunner, loaded: Path
) -> None:
    hits = json.loads(ok(run(runner, loaded, "search", "speculative decoding draft model", "--json")).stdout)
    assert all(isinstance(h["similarity"], float) and -1 <= h["similarity"] <= 1 for h in hits)
    # The fake embedder's cosines mean nothing in words: no label (the real model's are tested with it).
    assert all(h["match"] is None for h in hits)
    keyword = json.loads(ok(run(runner, loaded, "search", "decoding", "--mode", "keyword", "--json")).stdout)
    assert keyword and all(h["similarity"] is None and h["match"] is None for h in keyword)


def test_next_shows_the_closest_liked_paper_and_a_similarity(runner: CliRunner, loaded: Path) -> None:
    for title in ("Hydra", "Hopfield Networks", "A Unified Framework for Model Editing"):
        ok(run(runner, loaded, "like", title))
    rows = json.loads(ok(run(runner, loaded, "next", "-k", "10", "--json")).stdout)
    assert all(0 < len(r["because"]) <= 2 and -1 <= r["similarity"] <= 1 for r in rows)
    assert len({tuple(r["because"]) for r in rows}) > 1  # not the same papers for every row
    table = ok(run(runner, loaded, "next", "-k", "3")).stdout
    assert "similarity" in table and "-0." not in table


# -- 14-16. show, ids, ambiguous titles ------------------------------------------------------------------


def test_show_has_status_rating_and_readable_names(runner: CliRunner, kb_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(
        json.dumps({"title": "Named Paper", "authors": ["Ankner, Zachary", "Parthasarathy, Rishab"]})
    )
    ok(run(runner, kb_dir, "ingest", str(source)))
    ok(run(runner, kb_dir, "mark", "Named Paper", "reading"))
    ok(run(runner, kb_dir, "like", "Named Paper"))
    shown = ok(run(runner, kb_dir, "show", "Named Paper")).stdout
    assert "Zachary Ankner; Rishab Parthasarathy" in shown
    assert re.search(r"status\s+reading \(since \d{4}-\d\d-\d\d\)", shown) and re.search(
        r"rating\s+liked", shown
    )


def test_ids_are_never_wrapped_and_can_be_listed_alone(runner: CliRunner, loaded: Path) -> None:
    ids = {p.id for p in KnowledgeBase.open(loaded).papers()}
    listed = ok(run(runner, loaded, "list")).stdout  # CliRunner's terminal is 80 columns
    assert ids <= {line.strip() for line in listed.splitlines()}
    assert ok(run(runner, loaded, "list", "--ids-only")).stdout.split() == [
        p["id"] for p in json.loads(ok(run(runner, loaded, "list", "--json")).stdout)
    ]
    found = ok(run(runner, loaded, "search", "speculative decoding", "-k", "3", "--ids-only")).stdout.split()
    assert len(found) == 3 and set(found) <= ids
    assert set(ok(run(runner, loaded, "related", "Hydra", "-k", "2", "--ids-only")).stdout.split()) <= ids


# -- 17-19. folders, tags, saved searches, doctor ----------------------------------------------------------


def test_a_folder_that_is_not_a_knowledge_base_is_not_taken_over(
    runner: CliRunner, tmp_path: Path, seed_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "thesis.tex").write_text("\\documentclass{article}")
    refused = run(runner, project, "ingest", str(seed_path))
    assert refused.exit_code == 2 and "is not a knowledge base" in refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["thesis.tex"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "imported 69" in ok(run(runner, empty, "ingest", str(seed_path))).stderr


def test_untag_saved_searches_and_their_errors(runner: CliRunner, loaded: Path) -> None:
    ok(run(runner, loaded, "tag", "Hydra", "decoding"))
    missing = run(runner, loaded, "untag", "Hydra", "nonexistent")
    assert missing.exit_code == 1 and "has no tag nonexistent (its tags: decoding)" in missing.stderr
    ok(run(runner, loaded, "search", "rag", "-k", "3", "--tag", "decoding", "--save", "weekly"))
    again = run(runner, loaded, "search", "rag", "--save", "weekly")
    assert again.exit_code == 2 and "already saved as 'weekly'; use --force" in again.stderr
    assert (
        "replaced 'weekly'"
        in ok(run(runner, loaded, "search", "rag", "-k", "3", "--save", "weekly", "--force")).stderr
    )
    listed = ok(run(runner, loaded, "saved")).stdout
    assert "weekly: rag  -k 3 --mode hybrid" in listed and "--k" not in listed
    ok(run(runner, loaded, "saved", "rm", "weekly"))
    assert "No saved searches" in ok(run(runner, loaded, "saved")).stderr
    assert run(runner, loaded, "saved", "rm", "weekly").exit_code == 1


def test_doctor_on_a_read_only_knowledge_base_reads_without_writing(loaded: Path) -> None:
    """The knowledge base mounted read-only (a bind mount in a user namespace of its own: even root
    cannot write there), as on a shared drive."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("cannot make a read-only mount here (needs util-linux `unshare -rm`)")
    before = {p: p.stat().st_mtime_ns for p in loaded.rglob("*")}
    script = (
        f"mount --bind -o ro {loaded} {loaded} && "
        f"{sys.executable} -m litkb --kb {loaded} doctor && "
        f"{sys.executable} -m litkb --kb {loaded} search 'speculative decoding' --ids-only"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "readonly" not in done.stdout + done.stderr and "problem │" not in done.stdout
    assert "read-only: checked through the passage snapshot" in out
    assert "69 papers, 713 passage vectors, in step with the records" in out and "1 papers" not in out
    assert "the knowledge base is healthy" in done.stderr
    assert {p: p.stat().st_mtime_ns for p in loaded.rglob("*")} == before  # nothing written


def test_doctor_points_to_index_when_that_is_the_fix(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"title": "One New Paper", "abstract": "Text."}))
    ok(run(runner, loaded, "ingest", str(one)))
    result = run(runner, loaded, "doctor")
    assert "1 paper not in the index (`litkb index` adds them)" in result.stdout
    assert "0 problems, 2 warnings; `litkb index` fixes them" in result.stderr


# -- 20. help and options ----------------------------------------------------------------------------------


def test_help_options_version_and_one_line_usage_errors(runner: CliRunner, kb_dir: Path) -> None:
    for command in ("search", "list", "ingest", "export", "related", "tag", "next", "dedup"):
        text = ok(run(runner, None, command, "--help")).stdout
        assert not re.search(r"<(bool|str|int|list|path|float)", text), (command, text)
    formats = ok(run(runner, None, "ingest", "--help")).stdout
    assert all(name in formats for name in ("arxiv", "bibtex", "csl-json", "csv", "hf-daily", "jsonl"))
    assert re.fullmatch(r"litkb \d+\.\d+\.\d+\n", ok(run(runner, None, "--version")).stdout)
    assert "--install-completion" in ok(run(runner, None, "--help")).stdout
    bad = run(runner, kb_dir, "search", "--bogus", "x")
    assert bad.exit_code == 2 and bad.stderr.splitlines() == [
        "Error: No such option: --bogus (see `litkb search --help`)"
    ]
    assert "╭" not in run(runner, None, "--nope").stderr


# -- 21. the themes map ------------------------------------------------------------------------------------


def test_map_labels_stay_inside_and_on_their_theme_and_points_carry_ids(
    runner: CliRunner, loaded: Path, tmp_path: Path
) -> None:
    target = tmp_path / "map.html"
    ok(run(runner, loaded, "themes", "-k", "6", "--map", str(target)))
    page = target.read_text()
    assert 'width="100%"' not in page and "width: 100%" in page  # fills the window's width
    points = re.findall(
        r'cx="([\d.]+)" cy="([\d.]+)" r="5" fill="[^"]+" data-theme="(\d+)" data-id="([a-z0-9-]+)"', page
    )
    assert len(points) == 69 and {p[3] for p in points} == {p.id for p in KnowledgeBase.open(loaded).papers()}
    labels = re.findall(
        r'<text class="label" x="([\d.]+)" y="([\d.]+)" text-anchor="(start|middle|end)" data-theme="(\d+)" '
        r'data-point="([\d.]+),([\d.]+)" fill="[^"]+">\d+\. ([^<]*)<',
        page,
    )
    assert len(labels) == 6
    for x, y, anchor, theme, px, py, text in labels:
        width = len(f"{theme}. {text}") * 0.58 * 13
        left = {"start": float(x), "middle": float(x) - width / 2, "end": float(x) - width}[anchor]
        assert left >= 0 and left + width <= WIDTH and 13 <= float(y) <= HEIGHT, (x, anchor, text)
        # It labels one of its own theme's points, next to it (above or below), not another theme's.
        assert (px, py) in {(cx, cy) for cx, cy, t, _ in points if t == theme}, (theme, text)
        assert abs(float(y) - float(py)) <= 50 and left - 8 <= float(px) <= left + width + 8
    linked = [p for p in KnowledgeBase.open(loaded).papers() if paper_url(p)]
    assert linked and page.count('target="_blank" rel="noopener noreferrer"><circle') == len(linked)


# -- 22. rm and edit --------------------------------------------------------------------------------------


def test_rm_removes_a_record_and_its_vectors_at_the_next_index(runner: CliRunner, loaded: Path) -> None:
    paper = KnowledgeBase.open(loaded).get("Hydra")
    removed = ok(run(runner, loaded, "rm", "Hydra"))
    assert f"removed {paper.id}" in removed.stderr and not (loaded / "records" / f"{paper.id}.yaml").exists()
    assert "deleted 1" in ok(run(runner, loaded, "index")).stderr
    assert paper.id not in ok(run(runner, loaded, "search", "draft heads", "--ids-only")).stdout
    assert run(runner, loaded, "rm", "Hydra").exit_code == 1


def test_edit_validates_on_save_and_keeps_the_record_if_invalid(
    runner: CliRunner, loaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper = KnowledgeBase.open(loaded).get("Hydra")
    path = loaded / "records" / f"{paper.id}.yaml"
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('tags: []', 'tags:\\n- edited'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert "saved" in ok(run(runner, loaded, "edit", "Hydra")).stderr
    assert yaml.safe_load(path.read_text())["tags"] == ["edited"]
    before = path.read_text()
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('title: [unclosed\\n')\n")
    broken = run(runner, loaded, "edit", "Hydra")
    assert (
        broken.exit_code == 1 and "invalid YAML" in broken.stderr and "nothing was changed" in broken.stderr
    )
    assert path.read_text() == before
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text() + 'rating: loved\\n')\n"
    )
    wrong = run(runner, loaded, "edit", "Hydra")
    assert wrong.exit_code == 1 and "rating" in wrong.stderr and path.read_text() == before
