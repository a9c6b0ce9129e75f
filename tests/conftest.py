"""Shared fixtures. The whole suite runs with the network blocked except for loopback: any attempt
to reach another address fails the test that made it, even when the code under test swallowed the error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests import netguard

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "data" / "hf-daily-papers-2025-11-18.txt"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("LITKB_REGEN_GOLDEN") == "1"


def check_golden(path: Path, actual: str) -> None:
    """Compare with a golden file; `LITKB_REGEN_GOLDEN=1 pytest` rewrites it instead."""
    if REGEN:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; create it with LITKB_REGEN_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


FAKE_MODEL = "hash:256"

netguard.install()
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    before = len(netguard.attempts)
    yield
    made = netguard.attempts[before:]
    assert not made, f"the code tried to reach the network: {made}"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real default knowledge base."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LITKB_HOME", raising=False)


def make_kb_dir(path: Path, model: str = FAKE_MODEL) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(f"model: '{model}'\n", encoding="utf-8")
    return path


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """An empty knowledge base that uses the fast hashing embedder."""
    return make_kb_dir(tmp_path / "kb")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, kb: Path | None, *args: str, input: str | None = None) -> Result:
    """`litkb [--kb KB] ARGS...` through the CLI, in this process."""
    from litkb.cli import app

    prefix = ["--kb", str(kb)] if kb is not None else []
    return runner.invoke(app, [*prefix, *args], input=input)


@pytest.fixture
def loaded(runner: CliRunner, kb_dir: Path, seed_path: Path) -> Path:
    """A knowledge base with the shipped listing ingested and indexed (fast embedder)."""
    assert run(runner, kb_dir, "ingest", str(seed_path)).exit_code == 0
    result = run(runner, kb_dir, "index")
    assert result.exit_code == 0, result.output
    return kb_dir


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED
