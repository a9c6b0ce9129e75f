"""litkb on a Chroma server: the same end-to-end behaviour as the embedded store, several clients at once,
and a server that is down, stopped mid-index or restarted. The suite starts its own servers
(`chroma run --path <tmp> --host 127.0.0.1 --port <free>`) and stops them at the end."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkb import KnowledgeBase
from litkb.doctor import diagnose
from litkb.index.passages import passages
from tests.conftest import make_kb_dir, run

SEARCH_PROBE = """
import sys
from litkb import KnowledgeBase
hits = KnowledgeBase.open(sys.argv[1]).search("associative memory networks", k=5)
print(len(hits), "chromadb" in sys.modules)
"""


class ChromaServer:
    """A `chroma run` process on a free loopback port, serving the folder `path`."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChromaServer:
        chroma = Path(sys.executable).parent / "chroma"
        command = str(chroma) if chroma.exists() else shutil.which("chroma")
        if command is None:
            pytest.fail("the `chroma` command (from the chromadb package) is not installed")
        self.process = subprocess.Popen(
            [command, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"chroma run exited with {self.process.returncode}")
                time.sleep(0.2)
        pytest.fail("the Chroma server did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    started = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield started
    started.stop()


def shared_kb(path: Path, collection: str, url: str | None = None) -> Path:
    make_kb_dir(path)
    lines = ["model: 'hash:256'", f"collection: {collection}"] + ([f"chroma_url: '{url}'"] if url else [])
    (path / "config.yaml").write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("store", ["embedded", "server", "server-from-env"])
def test_end_to_end_on_either_store(
    runner: CliRunner,
    tmp_path: Path,
    seed_path: Path,
    server: ChromaServer,
    store: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kb = shared_kb(tmp_path / "kb", f"e2e-{uuid.uuid4().hex[:8]}")
    flags = ["--chroma-url", server.url] if store == "server" else []
    if store == "server-from-env":
        monkeypatch.setenv("LITKB_CHROMA_URL", server.url)
    assert run(runner, kb, *flags, "ingest", str(seed_path)).exit_code == 0
    indexed = run(runner, kb, *flags, "index")
    assert indexed.exit_code == 0 and "embedded 69" in indexed.stderr, indexed.output
    assert (kb / "index" / "chroma").exists() == (store == "embedded")
    hits = json.loads(run(runner, kb, *flags, "search", "speculative decoding", "--json").stdout)
    assert any(h["title"].startswith("Mirror Speculative Decoding") for h in hits[:3])
    for mode in ("semantic", "keyword"):
        assert json.loads(run(runner, kb, *flags, "search", "decoding", "--mode", mode, "--json").stdout)
    related = json.loads(
        run(runner, kb, *flags, "related", "Hopfield Networks is All You Need", "-k", "5", "--json").stdout
    )
    assert len(related) == 5 and all("Hopfield" not in h["title"] for h in related)
    themes = run(runner, kb, *flags, "themes", "-k", "3", "--json")
    assert themes.exit_code == 0 and len(json.loads(themes.stdout)) == 3
    bib = run(runner, kb, *flags, "export", "-f", "bibtex", "--theme", "1")
    assert bib.exit_code == 0 and bib.stdout.count("@") >= 1
    assert run(runner, kb, *flags, "doctor").exit_code == 0
    assert "embedded 0 (0 passages)" in run(runner, kb, *flags, "index").stderr
    if store != "embedded":  # the vectors really are on the server
        vectors = KnowledgeBase.open(kb, chroma_url=server.url).vectors
        assert vectors.count() == sum(len(passages(p)) for p in KnowledgeBase.open(kb).papers())


def test_one_server_holds_several_knowledge_bases(
    runner: CliRunner, tmp_path: Path, server: ChromaServer
) -> None:
    """New knowledge bases get collection names of their own; one created with --chroma-url remembers it."""
    first, second = tmp_path / "one", tmp_path / "two"
    for kb, title in ((first, "Alpha paper"), (second, "Beta paper")):
        source = tmp_path / f"{kb.name}.jsonl"
        source.write_text(json.dumps({"title": title, "abstract": f"All about {title}."}) + "\n")
        assert run(runner, kb, "--chroma-url", server.url, "ingest", str(source)).exit_code == 0
        (kb / "config.yaml").write_text(
            (kb / "config.yaml").read_text().replace("all-MiniLM-L6-v2", "hash:256")
        )
        assert run(runner, kb, "index").exit_code == 0  # the server URL comes from the config now
    names = {KnowledgeBase.open(kb).config.collection for kb in (first, second)}
    assert len(names) == 2 and all(n.startswith("litkb-") for n in names)
    assert [h["title"] for h in json.loads(run(runner, first, "search", "paper", "--json").stdout)] == [
        "Alpha paper"
    ]
    assert [h["title"] for h in json.loads(run(runner, second, "search", "paper", "--json").stdout)] == [
        "Beta paper"
    ]


def _client(kb: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "litkb", "--kb", str(kb), "--chroma-url", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _papers(path: Path, prefix: str, n: int) -> Path:
    rows = [
        {"title": f"{prefix} study {i}", "abstract": f"{prefix} findings {i}. " + "text " * (i % 250)}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_clients_indexing_together_lose_nothing_and_duplicate_nothing(
    runner: CliRunner, tmp_path: Path, seed_path: Path, server: ChromaServer
) -> None:
    collection = f"shared-{uuid.uuid4().hex[:8]}"
    clients = [shared_kb(tmp_path / name, collection) for name in ("ann", "bob")]
    for kb, prefix in zip(clients, ("Ann", "Bob"), strict=True):
        # both hold the shared listing; each has 400 papers of their own
        assert (
            run(
                runner, kb, "ingest", str(seed_path), str(_papers(tmp_path / f"{prefix}.jsonl", prefix, 400))
            ).exit_code
            == 0
        )
    together = [_client(kb, server.url, "index") for kb in clients]
    for process in together:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    everyone = {p.id: p for kb in clients for p in KnowledgeBase.open(kb).papers()}
    assert len(everyone) == 69 + 800
    vectors = KnowledgeBase.open(clients[0], chroma_url=server.url).vectors
    stored = vectors.stored_hashes()
    assert set(stored) == set(everyone) and "" not in stored.values()  # every passage of every paper
    assert vectors.count() == sum(len(passages(p)) for p in everyone.values())  # and each once
    # a client sees the others' papers as theirs to keep: no prune without asking
    again = run(runner, clients[0], "--chroma-url", server.url, "index")
    assert "400 papers in the server's collection have no record here" in again.stderr
    assert vectors.count() == sum(len(passages(p)) for p in everyone.values())


def test_a_client_searches_its_copy_of_the_server_and_sees_another_clients_changes(
    runner: CliRunner, tmp_path: Path, seed_path: Path, server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`litkb index` leaves a local copy of the server's vectors, tagged with the collection's generation;
    searches answer from it while the generation holds. Another client's change moves the generation: the
    first client's searches then ask the server (and find the new paper) until its next `litkb index`
    brings the copy up to date, fetching only the changed papers."""
    from litkb.index import mirror

    monkeypatch.setattr(mirror, "RECHECK", 0.0)  # read the generation at every search
    collection = f"copy-{uuid.uuid4().hex[:8]}"
    ann, bob = (shared_kb(tmp_path / name, collection, server.url) for name in ("ann", "bob"))
    assert run(runner, ann, "ingest", str(seed_path)).exit_code == 0
    first = run(runner, ann, "index")
    assert first.exit_code == 0 and "copied the vectors of 69 papers" in first.stderr, first.stderr
    kb = KnowledgeBase.open(ann)
    copy = kb.vectors.current_snapshot()
    assert copy is not None and len(copy.papers) == 69 and copy.passage_count == kb.vectors.count()
    asked: list[int] = []
    nearest = kb.vectors.chroma.nearest
    monkeypatch.setattr(kb.vectors.chroma, "nearest", lambda *a, **k: asked.append(1) or nearest(*a, **k))
    local = kb.search("associative memory networks", k=5)
    assert local and asked == []  # answered from the copy
    # ... and a search in a new process reads the generation by one HTTP request: no chromadb imported
    probe = subprocess.run(
        [sys.executable, "-c", SEARCH_PROBE, str(ann)], capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["5", "False"], probe.stdout
    # Bob adds a paper and changes one of the shared ones
    (tmp_path / "new.jsonl").write_text(
        json.dumps({"title": "Zebrafish fin regeneration", "abstract": "Zebrafish regrow their fins."}) + "\n"
    )
    assert run(runner, bob, "ingest", str(seed_path), str(tmp_path / "new.jsonl")).exit_code == 0
    bobs = KnowledgeBase.open(bob)
    changed = bobs.get("Hopfield Networks is All You Need")
    changed.abstract = "Zebrafish fins and Hopfield networks."
    bobs.store.save_many([changed])
    assert run(runner, bob, "index").exit_code == 0
    for record in (bob / "records").glob("*.yaml"):  # Ann pulls Bob's records (git, say)
        shutil.copy2(record, ann / "records" / record.name)
    assert kb.vectors.current_snapshot() is None  # the generation moved: the copy is not used
    stale = [f for f in diagnose(KnowledgeBase.open(ann)) if f.area == "server copy"]
    assert [f.level for f in stale] == ["warning"] and "out of date" in stale[0].message
    hits = kb.search("zebrafish fin regeneration", k=3)
    assert hits[0]["title"] == "Zebrafish fin regeneration" and asked  # found by asking the server
    # Ann's next index brings her copy up to date with only what changed
    again = run(runner, ann, "index")
    assert "copied the vectors of 2 papers" in again.stderr, again.stderr
    kb = KnowledgeBase.open(ann)
    copy = kb.vectors.current_snapshot()
    assert copy is not None and len(copy.papers) == 70
    assert copy.hash_map() == kb.vectors.stored_hashes()
    hopfield = [kb.get("Hopfield Networks is All You Need").id]
    owners, _, matrix = copy.rows(hopfield)
    server_owners, _, server_matrix = kb.vectors.chroma.passage_rows(hopfield)
    assert (
        owners == server_owners == hopfield * 2 and abs(matrix - server_matrix).max() < 1e-2
    )  # float16 sentences
    assert kb.search("zebrafish fin regeneration", k=3)[0]["title"] == "Zebrafish fin regeneration"
    unchanged = run(runner, ann, "index")
    assert unchanged.exit_code == 0 and "copied" not in unchanged.stderr
    assert [f.level for f in diagnose(KnowledgeBase.open(ann)) if f.area == "server copy"] == ["ok"]


def test_a_server_that_is_down_stopped_mid_index_or_restarted(
    runner: CliRunner, tmp_path: Path, seed_path: Path
) -> None:
    kb = shared_kb(tmp_path / "kb", "faults")
    source = _papers(tmp_path / "many.jsonl", "Delta", 3000)
    assert run(runner, kb, "ingest", str(seed_path), str(source)).exit_code == 0
    # down: nothing listens there
    down = f"http://127.0.0.1:{_free_port()}"
    for command in (["index"], ["doctor"]):
        result = run(runner, kb, "--chroma-url", down, *command)
        assert result.exit_code == 1 and down in result.output and "Traceback" not in result.output, (
            result.output
        )
    # stopped mid-index
    serving = ChromaServer(tmp_path / "store").start()
    try:
        indexing = _client(kb, serving.url, "index")
        time.sleep(2.0)
        serving.stop()
        _, err = indexing.communicate(timeout=120)
        assert indexing.returncode == 1, err
        assert serving.url in err and "Traceback" not in err
        # restarted on the same folder and port: the next index completes what was missing
        serving = ChromaServer(serving.path, serving.port).start()
        finished = run(runner, kb, "--chroma-url", serving.url, "index")
        assert finished.exit_code == 0, finished.output
        findings = diagnose(KnowledgeBase.open(kb, chroma_url=serving.url))
        assert [f for f in findings if f.level != "ok"] == [], findings
        papers = KnowledgeBase.open(kb).papers()
        assert KnowledgeBase.open(kb, chroma_url=serving.url).vectors.count() == sum(
            len(passages(p)) for p in papers
        )
        assert run(runner, kb, "--chroma-url", serving.url, "doctor").exit_code == 0
    finally:
        serving.stop()
    # and down again: searches say which server failed
    for command in (["search", "x"], ["related", "Delta study 5"], ["themes"]):
        result = run(runner, kb, "--chroma-url", serving.url, *command)
        assert result.exit_code == 1 and serving.url in result.output and "Traceback" not in result.output


def test_a_bad_chroma_url_is_a_clear_error(runner: CliRunner, kb_dir: Path) -> None:
    for url in ("ftp://host:1", "localhost:8000", "http://:80", "http://host:notaport"):
        result = run(runner, kb_dir, "--chroma-url", url, "list")
        assert result.exit_code == 1 and "Chroma URL" in result.stderr and "Traceback" not in result.output
