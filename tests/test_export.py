"""Export: selection, output rules, and each format checked by the tools that read it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import bibtexparser
import pybtex.database
import pybtex.errors
import pytest
import yaml
from jsonschema import Draft7Validator
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.exporters.bibtex import protect_title, verbatim
from litkb.latex import latex_escape, latex_unescape, safe_math
from litkb.models import Paper
from litkb.names import citation_keys, split_name
from tests.conftest import GOLDEN, check_golden, run

INPUTS = Path(__file__).parent / "inputs"

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "csl-data.json").read_text())
HOSTILE = [
    {"id": "h1", "title": r"\input{/etc/passwd} & 100% of $x$ #1 under_score {braces} ~tilde^ \\ end",
     "abstract": r"Naïve café résumé — Zürich; Ωmega ≤ 5; 日本語; \def\x{y} \x; unbalanced } {{ here",
     "authors": ["José Álvarez", "van der Berg, Jan"], "year": 2021, "doi": "10.1000/x_y%z",
     "tags": ["to-cite", "r&d"], "journal": "J. of Tests & Trials"},
    {"id": "h2", "title": "MultiEdits: GPT-4 and LoRA for LLMs", "abstract": "Short.", "year": 2024,
     "arxiv_id": "2401.00001", "categories": ["cs.CL", "cs.LG"]},
]  # fmt: skip


@pytest.fixture
def seed_kb(runner: CliRunner, kb_dir: Path, seed_path: Path) -> Path:
    assert run(runner, kb_dir, "ingest", str(seed_path)).exit_code == 0
    return kb_dir


@pytest.fixture
def hostile_kb(runner: CliRunner, kb_dir: Path, seed_path: Path, tmp_path: Path) -> Path:
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in HOSTILE) + "\n")
    assert run(runner, kb_dir, "ingest", str(seed_path), str(source)).exit_code == 0
    return kb_dir


def export(runner: CliRunner, kb: Path, *args: str) -> str:
    result = run(runner, kb, "export", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_golden_files_for_every_format(runner: CliRunner, seed_kb: Path) -> None:
    for fmt, suffix in (("bibtex", "bib"), ("markdown", "md"), ("csl-json", "json")):
        check_golden(GOLDEN / f"export-hf-daily-papers.{suffix}", export(runner, seed_kb, "--format", fmt))


@pytest.mark.parametrize("ascii", [True, False], ids=["ascii", "utf-8"])
def test_bibtex_parses_cleanly_in_bibtexparser_and_pybtex(
    runner: CliRunner, hostile_kb: Path, ascii: bool
) -> None:
    text = export(runner, hostile_kb, "-f", "bibtex", *(["--ascii"] if ascii else []))
    assert text.isascii() == ascii
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks and len(library.entries) == 71
    keys = [entry.key for entry in library.entries]
    assert len(set(keys)) == 71 and all(re.fullmatch(r"[a-z0-9]+", k) for k in keys)
    pybtex.errors.set_strict_mode(True)  # any pybtex warning becomes an error
    data = pybtex.database.parse_string(text, "bibtex")
    assert len(data.entries) == 71
    hostile = library.entries_dict[next(k for k in keys if k.startswith("alvarez2021"))]
    assert hostile.entry_type == "article"
    # Accented letters as accent commands either way (BibTeX abbreviates names byte by byte), Greek in
    # LaTeX form; CJK is `?` in ASCII, or kept in UTF-8 and declared for pdflatex in a @preamble.
    assert hostile["author"] == r"{{\'{A}}lvarez}, Jos{\'{e}} and {van der Berg}, Jan"
    assert r"$\Omega$mega $\leq$ 5" in hostile["abstract"] and r"\textbackslash{}def" in hostile["abstract"]
    if ascii:
        assert "???" in hostile["abstract"] and not library.preambles
    else:
        assert "日本語" in hostile["abstract"]
        declared = library.preambles[0].value
        assert all(f"\\gdef\\csname u8:\\detokenize{{{c}}}\\endcsname{{?}}" in declared for c in "日本語")
    assert r"\input" not in hostile["title"].replace(r"\textbackslash{}input", "")
    assert hostile["keywords"] == r"to-cite, r\&d"
    arxiv = next(e for e in library.entries if e["title"].startswith("{MultiEdits:} {GPT-4}"))
    assert arxiv.key in ("multiedits2024a", "multiedits2024b")  # the seed has a MultiEdits paper of 2024 too
    assert (
        arxiv["eprint"] == "2401.00001"
        and arxiv["archiveprefix"] == "arXiv"
        and arxiv["primaryclass"] == "cs.CL"
    )
    assert arxiv["title"] == "{MultiEdits:} {GPT-4} and {LoRA} for {LLMs}"
    daily = library.entries_dict["hopfield2020"]
    assert daily.entry_type == "misc" and daily["note"] == "16 authors; names not given in the source listing"
    assert "author" not in daily.fields_dict


@pytest.mark.parametrize("ascii", [True, False], ids=["ascii", "utf-8"])
def test_bibtex_round_trip_gives_back_titles_abstracts_years_ids(
    runner: CliRunner, hostile_kb: Path, ascii: bool
) -> None:
    text = export(runner, hostile_kb, "-f", "bibtex", *(["--ascii"] if ascii else []))
    library = bibtexparser.parse_string(text)
    papers = {p.id: p for p in KnowledgeBase.open(hostile_kb).papers()}
    assert len(library.entries) == len(papers)
    for entry in library.entries:
        paper = papers[entry["litkbid"]]
        assert latex_unescape(entry["title"]) == paper.title
        assert int(entry["year"]) == paper.year
        expected = " ".join((paper.abstract or "").split())
        expected = expected.replace("日本語", "???") if ascii else expected
        assert latex_unescape(entry.fields_dict["abstract"].value) == expected


@pytest.mark.parametrize("ascii", [True, False], ids=["ascii", "utf-8"])
def test_bibtex_round_trip_keeps_entry_types_standard_fields_months_links_and_math(
    runner: CliRunner, kb_dir: Path, tmp_path: Path, ascii: bool
) -> None:
    assert run(runner, kb_dir, "ingest", str(INPUTS / "fields.bib")).exit_code == 0
    text = export(runner, kb_dir, "-f", "bibtex", *(["--ascii"] if ascii else []))
    out = bibtexparser.parse_string(text)
    source = bibtexparser.parse_string((INPUTS / "fields.bib").read_text())
    assert not out.failed_blocks
    standard = ("volume", "number", "pages", "publisher", "editor", "series", "school", "institution",
                "address", "isbn", "edition", "chapter", "booktitle", "type")  # fmt: skip
    for entry in source.entries:
        if entry.key == "conf2022":  # a crossref parent: its fields are in child2022's entry
            assert entry.key not in out.entries_dict
            continue
        again = out.entries_dict[entry.key]
        assert again.entry_type == entry.entry_type, entry.key
        for name in standard:
            if name in entry.fields_dict and "#" not in str(entry[name]):  # a `#` join: checked below
                value = str(entry[name])
                assert latex_unescape(again[name]) == value.replace("--", "–"), (entry.key, name)
    sort = out.entries_dict["muller2023sort"]
    assert sort["title"] == r"An {$\mathcal{O}(n \log n)$} Sort for {GPUs}"  # the TeX as written
    assert sort["url"] == "https://example.org/~muller/paper_v2.pdf" and sort["doi"] == "10.5555/abc_def.12"
    assert sort["booktitle"] == "Advances in Neural Information Processing Systems 36 (NeurIPS 2023)"
    assert "month = apr," in text and "date = {2023-04}" in text and "month = oct," in text
    assert out.entries_dict["child2022"]["publisher"] == "ACM"  # inherited from the crossref parent
    # and read back, the same record
    fresh = tmp_path / "fresh"
    assert run(runner, fresh, "ingest", str(_write(tmp_path / "out.bib", text))).exit_code == 0
    before = {p.id: p for p in KnowledgeBase.open(kb_dir).papers()}
    after = {p.id: p for p in KnowledgeBase.open(fresh).papers()}
    assert before.keys() == after.keys()
    for pid, paper in before.items():
        again_paper = after[pid]
        assert (again_paper.title, again_paper.date, again_paper.urls, again_paper.doi) == (
            paper.title, paper.date, paper.urls, paper.doi,
        ), pid  # fmt: skip
        for name in standard:
            assert again_paper.extra.get(name) == paper.extra.get(name), (pid, name)
        assert again_paper.extra["bibtex_type"] == paper.extra["bibtex_type"], pid


def _tex_file(name: str) -> bool:
    """Whether TeX finds this file (a style, a package)."""
    if shutil.which("kpsewhich") is None:
        return False
    found = subprocess.run(["kpsewhich", name], capture_output=True, text=True, timeout=60)
    return bool(found.stdout.strip())


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_citation_keys_are_stable_and_independent_of_the_selection(runner: CliRunner, seed_kb: Path) -> None:
    everything = bibtexparser.parse_string(export(runner, seed_kb, "-f", "bibtex"))
    one = bibtexparser.parse_string(export(runner, seed_kb, "-f", "bibtex", "--ids", "hopfield networks"))
    assert [e.key for e in one.entries] == ["hopfield2020"]
    assert "hopfield2020" in [e.key for e in everything.entries]
    twins = [Paper(id="b-1", title="Same Title", year=2020), Paper(id="a-1", title="Same Title", year=2020)]
    assert citation_keys(twins) == {"a-1": "same2020a", "b-1": "same2020b"}


def test_latex_escaping_and_protection() -> None:
    assert latex_escape("50% & $5 #1 a_b {x} ~ ^ \\") == (
        r"50\% \& \$5 \#1 a\_b \textbraceleft{}x\textbraceright{} \textasciitilde{} "
        r"\textasciicircum{} \textbackslash{}"
    )
    assert latex_escape("Gödel – α") == r"G{\"{o}}del -- $\alpha$"
    assert latex_escape("日本") == "??" and latex_escape("日本", ascii=False) == "日本"
    assert protect_title("Hydra: Sequentially-Dependent Heads with LLM") == (
        "Hydra: Sequentially-Dependent Heads with {LLM}"
    )
    assert split_name("Jan van der Berg") == ("van der Berg", "Jan")
    # the math of an imported title goes back as it was, unless it could do more than typeset math
    assert protect_title(r"An $\mathcal{O}(n)$ Sort", math=[r"$\mathcal{O}(n)$"]) == (
        r"An {$\mathcal{O}(n)$} Sort"
    )
    assert protect_title(r"A $\input{x}$ B", math=[r"$\input{x}$"]) == (
        r"A \$\textbackslash{}input\textbraceleft{}x\textbraceright{}\$ B"
    )
    assert protect_title("Costs $5 and $10") == r"Costs \$5 and \$10"  # not from BibTeX: no math
    assert not safe_math("$^^5cinput^^7bx^^7d$") and not safe_math(r"$x % y$") and safe_math(r"$a_{i}^2$")
    assert (
        verbatim(r"https://x.org/~a/b_c#d?e=1%20{\x^^5c}")
        == "https://x.org/~a/b_c#d?e=1%20%7B%5Cx%5E%5E5c%7D"
    )


@pytest.fixture
def tex_kb(runner: CliRunner, hostile_kb: Path, tmp_path: Path) -> Path:
    """The hostile papers and the shipped listing, with BibTeX's own fields and a paper in Greek, math
    and CJK."""
    rows = tmp_path / "scripts.jsonl"
    rows.write_text(json.dumps(GREEK_CJK) + "\n")
    assert run(runner, hostile_kb, "ingest", str(INPUTS / "fields.bib"), str(rows)).exit_code == 0
    return hostile_kb


GREEK_CJK = {
    "id": "g1", "title": "Greek αβγ and Ω: 日本語の論文 on $x$", "year": 2022,
    "authors": ["Γιάννης Παπαδόπουλος", "山田 太郎", "Łukasz Émile Żółć"], "abstract": "Uses α; 中文摘要.",
}  # fmt: skip


@pytest.mark.parametrize(
    ("processor", "style"),
    [("bibtex", "plain"), ("bibtex", "abbrv"), ("bibtex", "unsrturl"), ("biber", "biblatex")],
)
def test_a_document_citing_every_entry_builds_with_pdflatex(
    runner: CliRunner, tex_kb: Path, tmp_path: Path, processor: str, style: str
) -> None:
    """The default export (Greek, math, CJK, accented names, urls with `~` and `_`) builds with pdflatex
    and BibTeX (no warning) or biber (no warning), every entry cited; the urls reach the document as
    they are."""
    if not (shutil.which("pdflatex") and shutil.which(processor)):
        pytest.skip(
            f"pdflatex and {processor} are not installed (Debian: texlive-latex-base, texlive-binaries; "
            "biber, texlive-bibtex-extra, texlive-latex-recommended for biber; .ci/run installs them)"
        )
    needs = {"unsrturl": ["unsrturl.bst"], "biblatex": ["biblatex.sty", "etoolbox.sty"]}.get(style, [])
    absent = [name for name in needs if not _tex_file(name)]
    if absent:
        pytest.skip(
            f"{', '.join(absent)} not installed (Debian: texlive-bibtex-extra, texlive-latex-recommended; "
            ".ci/run installs them)"
        )
    (tmp_path / "refs.bib").write_text(export(runner, tex_kb, "-f", "bibtex"))
    if processor == "biber":
        preamble = "\\usepackage[backend=biber]{biblatex}\n\\addbibresource{refs.bib}\n"
        body = "\\nocite{*}\n\\printbibliography\n"
    else:
        preamble = "\\usepackage{hyperref}\n"
        body = f"\\nocite{{*}}\n\\bibliographystyle{{{style}}}\n\\bibliography{{refs}}\n"
    (tmp_path / "doc.tex").write_text(
        f"\\documentclass{{article}}\n{preamble}\\begin{{document}}\n{body}\\end{{document}}\n"
    )
    env = {**os.environ, "openout_any": "p"}

    def step(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)

    latex = ("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex")
    first = step(*latex)
    assert first.returncode == 0, first.stdout[-3000:]
    bib = step(processor, "doc")
    assert bib.returncode == 0 and "WARN" not in bib.stdout.upper() and "ERROR" not in bib.stdout.upper(), (
        bib.stdout
    )
    for _ in range(2):
        final = step(*latex)
        assert final.returncode == 0, final.stdout[-3000:]
    bbl = (tmp_path / "doc.bbl").read_text()
    assert "passwd" not in (tmp_path / "doc.log").read_text().split("doc.bbl")[-1].split("Output written")[0]
    assert bbl.count("\\bibitem" if processor == "bibtex" else "\\entry{") == 78
    assert "Unicode character" not in (tmp_path / "doc.log").read_text()
    if style == "unsrturl":  # urls and DOIs as they are: no `\_`
        assert "\\url{https://example.org/~muller/paper_v2.pdf}" in bbl and "paper\\_v2" not in bbl
        assert "{\\path{doi:10.5555/abc_def.12}}" in bbl
    if processor == "biber":
        assert "\\verb https://example.org/~muller/paper_v2.pdf" in bbl


def test_markdown_reading_list_renders_cleanly(runner: CliRunner, hostile_kb: Path) -> None:
    text = export(runner, hostile_kb, "-f", "markdown")
    tokens = MarkdownIt("commonmark").parse(text)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    inline = [t for t in tokens if t.type == "inline"]
    headings = [t for t in tokens if t.type == "heading_open" and t.tag == "h3"]
    assert len(headings) == 71
    rendered = MarkdownIt("commonmark").render(text)
    assert "<h2>2025 (" in rendered and "<h2>Year unknown" not in rendered
    assert r"\input{/etc/passwd} &amp; 100% of $x$ #1 under_score" in rendered
    assert '<a href="https://doi.org/10.1000/x_y%25z">' in rendered
    assert any("16 authors" in t.content for t in inline)


def test_markdown_groups_by_theme_and_writes_notes(runner: CliRunner, seed_kb: Path, tmp_path: Path) -> None:
    run(runner, seed_kb, "index")
    themes = json.loads(run(runner, seed_kb, "themes", "-k", "3", "--json").stdout)
    text = export(runner, seed_kb, "-f", "markdown", "--theme", "1")
    assert text.count("### ") == themes[0]["size"] and f"## Theme 1: {themes[0]['label']}" in text
    notes = tmp_path / "notes"
    hopfield = ["--ids", "Hopfield Networks"]
    result = run(runner, seed_kb, "export", "-f", "markdown", "--per-paper", str(notes), *hopfield)
    assert result.exit_code == 0, result.output
    (note,) = notes.glob("*.md")
    front = yaml.safe_load(note.read_text().split("---\n")[1])
    assert front["title"] == "Hopfield Networks is All You Need" and front["year"] == 2020
    assert front["theme"] in [t["label"] for t in themes] and front["tags"] == []
    again = run(runner, seed_kb, "export", "-f", "markdown", "--per-paper", str(notes), *hopfield)
    assert again.exit_code != 0 and "use --force" in again.stderr


def test_csl_json_is_valid_against_the_schema(runner: CliRunner, hostile_kb: Path) -> None:
    items = json.loads(export(runner, hostile_kb, "-f", "csl-json"))
    errors = list(Draft7Validator(SCHEMA).iter_errors(items))
    assert not errors, errors[:3]
    hostile = next(i for i in items if i["id"].startswith("alvarez2021"))
    assert hostile["author"] == [
        {"family": "Álvarez", "given": "José"},
        {"family": "van der Berg", "given": "Jan"},
    ]
    assert hostile["type"] == "article-journal" and hostile["DOI"] == "10.1000/x_y%z"
    daily = next(i for i in items if i["id"] == "hopfield2020")
    assert daily["issued"] == {"date-parts": [[2020, 7, 16]]} and "author" not in daily


def test_pandoc_renders_a_bibliography_from_csl_json(
    runner: CliRunner, hostile_kb: Path, tmp_path: Path
) -> None:
    if shutil.which("pandoc") is None:
        pytest.skip("Pandoc is not installed (Debian: pandoc; .ci/run installs it)")
    (tmp_path / "refs.json").write_text(export(runner, hostile_kb, "-f", "csl-json"))
    (tmp_path / "doc.md").write_text("---\nnocite: '@*'\n---\n\n# References\n")
    out = subprocess.run(
        ["pandoc", "--citeproc", "--bibliography", "refs.json", "-t", "plain", "doc.md"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    plain = " ".join(out.stdout.split())
    assert "hopfield networks is all you need" in plain.lower() and "Álvarez" in plain


def test_output_file_rules_and_unknown_format(runner: CliRunner, seed_kb: Path, tmp_path: Path) -> None:
    target = tmp_path / "refs.bib"
    assert run(runner, seed_kb, "export", "-f", "bibtex", "-o", str(target)).exit_code == 0
    first = target.read_text()
    target.write_text("keep me")
    refused = run(runner, seed_kb, "export", "-f", "bibtex", "-o", str(target))
    assert refused.exit_code != 0 and "use --force" in refused.stderr and target.read_text() == "keep me"
    assert run(runner, seed_kb, "export", "-f", "bibtex", "-o", str(target), "--force").exit_code == 0
    assert target.read_text() == first
    unknown = run(runner, seed_kb, "export", "-f", "ris")
    assert unknown.exit_code != 0 and "known formats: bibtex, csl-json, markdown" in unknown.stderr
    empty = run(runner, seed_kb, "export", "-f", "bibtex", "--year", "1990")
    assert empty.exit_code != 0 and "no paper matches" in empty.stderr
    bad_year = run(runner, seed_kb, "export", "-f", "bibtex", "--year", "soon")
    assert bad_year.exit_code != 0 and "expected a year" in bad_year.stderr


def test_selection_by_query_year_tag_and_search_export(
    runner: CliRunner, seed_kb: Path, tmp_path: Path
) -> None:
    run(runner, seed_kb, "index")
    by_query = bibtexparser.parse_string(
        export(runner, seed_kb, "-f", "bibtex", "--query", "decoding", "-k", "3")
    )
    assert len(by_query.entries) == 3
    years = bibtexparser.parse_string(export(runner, seed_kb, "-f", "bibtex", "--year", "2022..2023"))
    assert years.entries and all(2022 <= int(e["year"]) <= 2023 for e in years.entries)
    record = next((seed_kb / "records").glob("hydra-*.yaml"))
    record.write_text(record.read_text().replace("tags: []", "tags:\n- to-cite"))
    tagged = bibtexparser.parse_string(export(runner, seed_kb, "-f", "bibtex", "--tag", "to-cite"))
    assert [e.key for e in tagged.entries] == ["hydra2024"] and tagged.entries[0]["keywords"] == "to-cite"
    found = run(runner, seed_kb, "search", "draft heads", "-k", "2", "--export", "bibtex")
    assert found.exit_code == 0 and len(bibtexparser.parse_string(found.stdout).entries) == 2
