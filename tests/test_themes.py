"""Themes: clustering, saved themes, filters, the map, errors (fast embedder; labels on the real model
are checked in test_real_model.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.themes.cluster import cluster
from litkb.themes.labels import label_terms
from tests.conftest import make_kb_dir, run


def themes_json(runner: CliRunner, kb: Path, *args: str) -> list[dict]:
    result = run(runner, kb, "themes", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_paper_in_exactly_one_theme_and_json_shape(runner: CliRunner, loaded: Path) -> None:
    themes = themes_json(runner, loaded)
    assert [t["id"] for t in themes] == list(range(1, len(themes) + 1)) and len(themes) >= 2
    members = [p["id"] for t in themes for p in t["papers"]]
    assert len(members) == len(set(members)) == 69
    for theme in themes:
        assert set(theme) == {"id", "label", "size", "representative", "papers", "area", "months", "undated"}
        assert theme["size"] == len(theme["papers"]) and theme["label"]
        assert set(theme["area"]) == {"id", "label"} and theme["area"]["label"]
        assert sum(theme["months"].values()) + theme["undated"] == theme["size"]
        assert set(theme["representative"]) <= {p["id"] for p in theme["papers"]}
        assert set(theme["papers"][0]) == {"id", "external_id", "title"}
    assert [t["size"] for t in themes] == sorted((t["size"] for t in themes), reverse=True)


def test_forced_k_and_stability(runner: CliRunner, loaded: Path) -> None:
    first = themes_json(runner, loaded, "-k", "4")
    assert len(first) == 4
    saved = (loaded / "themes.yaml").read_text()
    assert themes_json(runner, loaded, "-k", "4", "--rebuild") == first
    assert (loaded / "themes.yaml").read_text() == saved
    assert themes_json(runner, loaded) == first  # no -k: the saved themes


def test_list_and_search_within_a_theme(runner: CliRunner, loaded: Path) -> None:
    themes = themes_json(runner, loaded, "-k", "3")
    members = {p["id"] for p in themes[1]["papers"]}
    listed = json.loads(run(runner, loaded, "list", "--theme", "2", "--json").stdout)
    assert {p["id"] for p in listed} == members
    by_label = json.loads(run(runner, loaded, "list", "--theme", themes[1]["label"], "--json").stdout)
    assert {p["id"] for p in by_label} == members
    hits = json.loads(run(runner, loaded, "search", "learning", "--theme", "2", "--json", "-k", "50").stdout)
    assert hits and {h["id"] for h in hits} <= members and len(hits) == len(members)
    assert run(runner, loaded, "list", "--theme", "99").exit_code != 0


def test_papers_indexed_later_join_the_nearest_theme(
    runner: CliRunner, loaded: Path, seed_path: Path, tmp_path: Path
) -> None:
    before = themes_json(runner, loaded, "-k", "3")
    hydra = next(p for t in before for p in t["papers"] if p["title"].startswith("Hydra"))
    theme_of_hydra = next(t["id"] for t in before if hydra in t["papers"])
    extra = tmp_path / "more.jsonl"
    text = json.loads(run(runner, loaded, "show", hydra["id"], "--json").stdout)["abstract"]
    extra.write_text(json.dumps({"title": "Hydra Heads Again For Medusa Decoding", "abstract": text}) + "\n")
    run(runner, loaded, "ingest", str(extra))
    run(runner, loaded, "index")
    after = themes_json(runner, loaded)
    assert [t["label"] for t in after] == [t["label"] for t in before]
    new_home = next(t["id"] for t in after for p in t["papers"] if p["title"].startswith("Hydra Heads Again"))
    assert new_home == theme_of_hydra
    assert sum(t["size"] for t in after) == 70


def test_errors(runner: CliRunner, tmp_path: Path, kb_dir: Path, seed_path: Path, loaded: Path) -> None:
    empty = make_kb_dir(tmp_path / "empty")
    result = run(runner, empty, "themes")
    assert result.exit_code != 0 and "is empty" in result.stderr
    too_many = run(runner, loaded, "themes", "-k", "70")
    assert too_many.exit_code != 0 and "asked for 70 themes but the knowledge base has 69" in too_many.stderr
    fresh = make_kb_dir(tmp_path / "fresh")
    run(runner, fresh, "ingest", str(seed_path))
    never = run(runner, fresh, "themes")
    assert never.exit_code != 0 and "run `litkb index`" in never.stderr
    assert run(runner, fresh, "list", "--theme", "1").exit_code != 0


def test_cluster_never_mixes_separated_groups() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(8, 32) * 5
    points = np.vstack([c + rng.normal(0, 0.3, (30, 32)) for c in centres[:4]]).astype(np.float32)
    found = cluster(points)
    assert found.criterion == "size" and 11 <= found.k <= 1.5 * 120**0.5  # about √120, more for size
    for theme in range(found.k):  # each theme lies inside one group
        assert len({i // 30 for i, label in enumerate(found.labels) if label == theme}) == 1
    four = cluster(points, k=4)
    assert four.k == 4 and all(len(set(four.labels[i * 30 : (i + 1) * 30])) == 1 for i in range(4))
    assert cluster(points, k=2).k == 2


@pytest.mark.parametrize("n", [60, 250, 1000, 4000])
def test_the_automatic_number_of_themes_fits_the_collection(n: int) -> None:
    """Collections of several sizes, each of many topics of unequal size (as a field's papers are):
    between √n/4 and 1.5·√n themes, none over about a fifth of the papers, every paper in one."""
    rng = np.random.default_rng(n)
    topics = rng.normal(0, 1, (40, 64))
    weights = rng.dirichlet(np.full(40, 2.0))
    which = rng.choice(40, size=n, p=weights)
    points = (topics[which] + rng.normal(0, 0.9, (n, 64))).astype(np.float32)
    found = cluster(points)
    assert n**0.5 / 4 <= found.k <= 1.5 * n**0.5, found.k
    assert len(found.labels) == n and set(found.labels) == set(range(found.k))
    assert max(np.bincount(found.labels)) <= 0.2 * n + 1


def test_labels_are_phrases_not_stop_words() -> None:
    texts = ["We study continual learning and catastrophic forgetting in continual learning."] * 3 + [
        "Model editing updates knowledge; model editing of LLMs is hard."
    ] * 3
    terms = label_terms(texts, [0, 0, 0, 1, 1, 1], 2)
    assert terms[0][0] == "continual learning" and terms[1][0] == "model editing"
    assert not {"we", "the", "of", "in", "and"} & {t for ts in terms for t in ts}


def test_map_is_self_contained_and_draws_every_paper(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    target = tmp_path / "themes.html"
    result = run(runner, loaded, "themes", "--map", str(target))
    assert result.exit_code == 0, result.output
    page = target.read_text()
    assert page.count('<circle class="paper"') == 69
    assert not re.search(r"""src\s*=|<link|@import|url\(""", page), "the map must not load anything"
    # The only references are links a click opens: each point to its paper's own page.
    assert all(tag.startswith("<a ") for tag in re.findall(r"<\w+[^>]*\bhref\s*=", page))
    assert re.search(
        r"<title>Hopfield Networks is All You Need \(2020\) · hopfield-networks-[a-z0-9-]+</title>", page
    )


def test_map_in_headless_chromium(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    target = tmp_path / "themes.html"
    run(runner, loaded, "themes", "--map", str(target))
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=2000", "--dump-dom", target.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count('class="paper"') == 69
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console


def test_areas_group_the_themes_and_filter_every_command(runner: CliRunner, loaded: Path) -> None:
    themes = themes_json(runner, loaded, "-k", "6")
    areas = themes_json(runner, loaded, "--areas")
    assert 2 <= len(areas) <= 6 and [a["id"] for a in areas] == list(range(1, len(areas) + 1))
    assert sorted(t for a in areas for t in a["themes"]) == [t["id"] for t in themes]  # each theme once
    for area in areas:
        own = [t for t in themes if t["area"]["id"] == area["id"]]
        assert {t["id"] for t in own} == set(area["themes"]) and area["label"]
        assert all(t["area"]["label"] == area["label"] for t in own)
        assert area["size"] == sum(t["size"] for t in own)
    first = areas[0]
    members = {p["id"] for t in themes if t["area"]["id"] == first["id"] for p in t["papers"]}
    listed = run(runner, loaded, "list", "--area", str(first["id"]), "--ids-only")
    assert listed.exit_code == 0 and set(listed.stdout.split()) == members
    found = run(runner, loaded, "search", "learning", "--area", first["label"], "-k", "100", "--ids-only")
    assert found.exit_code == 0 and set(found.stdout.split()) <= members and found.stdout.split()
    exported = run(runner, loaded, "export", "-f", "csl-json", "--area", str(first["id"]))
    assert exported.exit_code == 0 and len(json.loads(exported.stdout)) == len(members)
    outside = next(t for t in themes if t["area"]["id"] != first["id"])["papers"][0]["id"]
    assert run(runner, loaded, "tag", outside, "elsewhere").exit_code == 0
    narrowed = run(runner, loaded, "list", "--area", str(first["id"]), "--tag", "elsewhere", "--ids-only")
    assert narrowed.exit_code == 0 and narrowed.stdout == ""  # a tag used in another area is no typo
    missing = run(runner, loaded, "list", "--area", "99")
    assert missing.exit_code == 2 and "no area 99" in missing.stderr  # a bad filter value, like --status
    table = run(runner, loaded, "themes")
    assert table.exit_code == 0 and all(f"Area {a['id']}: " in table.stdout for a in areas)
    again = themes_json(runner, loaded, "-k", "6", "--rebuild")  # the same themes, areas and labels
    assert [(t["id"], t["label"], t["area"]) for t in again] == [
        (t["id"], t["label"], t["area"]) for t in themes
    ]


def test_months_and_growth_since_a_date(runner: CliRunner, loaded: Path, tmp_path: Path) -> None:
    undated = tmp_path / "undated.jsonl"
    undated.write_text(
        "\n".join(json.dumps({"title": f"Undated {i}", "abstract": "Model editing."}) for i in range(3))
    )
    assert run(runner, loaded, "ingest", str(undated)).exit_code == 0
    assert run(runner, loaded, "index").exit_code == 0
    themes = themes_json(runner, loaded, "-k", "4", "--rebuild", "--since", "2025-06")
    dates = {p.id: p.date for p in KnowledgeBase.open(loaded).papers()}
    assert sum(t["undated"] for t in themes) == 3 and sum(t["size"] for t in themes) == 72
    everything_new = sum(1 for d in dates.values() if d and d >= "2025-06-01") / 72
    for theme in themes:
        ids = [p["id"] for p in theme["papers"]]
        assert sum(theme["months"].values()) + theme["undated"] == len(ids)
        assert theme["months"] == {
            m: sum(1 for i in ids if (dates[i] or "")[:7] == m) for m in theme["months"]
        }
        new = sum(1 for i in ids if (dates[i] or "") >= "2025-06-01")
        assert theme["since"]["papers"] == new
        assert theme["since"]["growth"] == round(new / len(ids) / everything_new, 2)
    rising = [t for t in themes if t["since"]["rising"]]
    assert 1 <= len(rising) <= 3 and all(
        t["since"]["papers"] >= 2 and t["since"]["growth"] > 1 for t in rising
    )
    table = run(runner, loaded, "themes", "--since", "2025-06")
    assert table.exit_code == 0 and "new since" in table.stdout and "▲" in table.stdout
    bad = run(runner, loaded, "themes", "--since", "soon")
    assert bad.exit_code == 2 and "--since soon" in bad.stderr


def test_themes_saved_without_areas_get_areas_and_keep_their_themes(runner: CliRunner, loaded: Path) -> None:
    import yaml

    before = themes_json(runner, loaded, "-k", "5")
    path = loaded / "themes.yaml"
    old = yaml.safe_load(path.read_text())
    old["schema"] = 1
    old.pop("areas")
    for theme in old["themes"]:
        theme.pop("area")
    path.write_text(yaml.safe_dump(old, sort_keys=False))  # as an older litkb wrote it
    after = themes_json(runner, loaded)
    assert [(t["id"], t["label"], t["size"]) for t in after] == [
        (t["id"], t["label"], t["size"]) for t in before
    ]
    assert all(t["area"]["label"] for t in after)
    areas = themes_json(runner, loaded, "--areas")
    assert sorted(t for a in areas for t in a["themes"]) == [t["id"] for t in after]
    assert yaml.safe_load(path.read_text())["areas"]  # saved
