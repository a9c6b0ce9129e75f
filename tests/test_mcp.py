"""`litkb mcp` through the SDK's own client: the server started as a subprocess, over stdio (and once over
streamable HTTP), on the shipped listing (fast embedder). The network guard stays on: loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from typer.testing import CliRunner

from tests.conftest import ROOT, make_kb_dir, run

READ_TOOLS = {"search", "related", "get_paper", "read_text", "list_papers", "whats_new", "themes", "export"}
WRITE_TOOLS = {"tag", "note", "mark", "rate"}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, seed_path: Path) -> Path:
    path = make_kb_dir(tmp_path_factory.mktemp("mcp") / "kb")
    runner = CliRunner()
    for args in (["ingest", str(seed_path)], ["index"], ["themes"], ["like", "Hydra"]):
        assert run(runner, path, *args).exit_code == 0
    return path


def session(kb: Path, *extra: str, lock_timeout: str = "1") -> Client:
    env = {"PYTHONPATH": str(ROOT), "LITKB_LOCK_TIMEOUT": lock_timeout}
    args = ["-m", "litkb", "--kb", str(kb), "mcp", *extra]
    return Client(StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(ROOT)))


def talk(client: Client, body: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with client:
            await body(client)

    asyncio.run(main())


async def call(client: Client, name: str, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    text = result.content[0].text
    return text if name == "export" else json.loads(text)


async def error(client: Client, name: str, **arguments: Any) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error
    text = result.content[0].text
    assert "Traceback" not in text
    return text


def tool_list_size(tools: Any) -> int:
    """The tool list as the server sends it, in characters of JSON."""
    return len(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]))


def test_read_tools_over_stdio(kb: Path) -> None:
    async def body(client: Client) -> None:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == READ_TOOLS
        assert tool_list_size(tools) <= 8000
        assert all(len(t.description or "") > 60 for t in tools.tools)
        found = await call(client, "search", query="speculative decoding", k=3)
        titles = [hit["title"] for hit in found["results"]]
        assert any(t.startswith("Hydra") for t in titles) and any(
            t.startswith("Mirror Speculative") for t in titles
        )
        assert set(found["results"][0]) >= {"id", "title", "year", "score", "similarity", "snippet"}
        # Paging: the second page goes on where the first stopped, with no repeats.
        first = await call(client, "search", query="language models", k=5)
        second = await call(client, "search", query="language models", k=5, cursor=first["next_cursor"])
        assert first["next_cursor"] == "5" and second["results"][0]["rank"] == 6
        assert not {h["id"] for h in first["results"]} & {h["id"] for h in second["results"]}
        filtered = await call(client, "search", query="decoding", year="2024", k=10)
        assert filtered["results"] and all(h["year"] == 2024 for h in filtered["results"])
        near = await call(client, "related", papers=["Hydra"], k=3)
        assert len(near["results"]) == 3 and all(not h["title"].startswith("Hydra") for h in near["results"])
        paper = await call(client, "get_paper", paper="hopfield networks is all", max_chars=200)
        assert paper["title"] == "Hopfield Networks is All You Need" and paper["truncated"] == ["abstract"]
        assert len(paper["abstract"]) <= 202
        listed = await call(client, "list_papers", k=4, sort="title")
        assert len(listed["results"]) == 4 and listed["total"] == 69 and listed["next_cursor"] == "4"
        assert [p["title"] for p in listed["results"]] == sorted(p["title"] for p in listed["results"])
        assert all(len(p["abstract"] or "") <= 602 for p in listed["results"])
        new = await call(client, "whats_new", since="2025-01-01", k=5)
        assert new["results"] and all((p["date"] or "") >= "2025-01-01" for p in new["results"])
        assert new["ranking"].startswith("fit to the papers you liked")
        themes = await call(client, "themes")
        assert themes["themes"] and all({"id", "label", "size"} <= set(t) for t in themes["themes"])
        bib = await call(client, "export", papers=["Hydra"], format="bibtex")
        assert bib.startswith("@") and "Hydra" in bib
        resource = await client.read_resource(f"litkb://paper/{found['results'][0]['id']}")
        assert resource.contents[0].text.startswith("---\ntitle:")
        # Errors: one line of litkb's, the server still up.
        assert "no paper matches 'no such paper at all'" in await error(
            client, "get_paper", paper="no such paper at all"
        )
        ambiguous = await error(client, "get_paper", paper="a")
        assert "matches" in ambiguous and "give one of these ids" in ambiguous
        assert "--tag nosuchtag: no paper has this tag" in await error(
            client, "search", query="x", tag=["nosuchtag"]
        )
        assert "--year 20xx" in await error(client, "search", query="x", year="20xx")
        assert "cursor 'abc'" in await error(client, "search", query="x", cursor="abc")
        assert "--allow-write" in await error(client, "tag", paper="Hydra", tags=["x"])
        assert (await call(client, "search", query="speculative decoding", k=1))["results"]  # still up

    talk(session(kb), body)


def test_write_tools_with_allow_write(kb: Path) -> None:
    async def body(client: Client) -> None:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == READ_TOOLS | WRITE_TOOLS
        assert tool_list_size(tools) <= 11000
        await call(client, "tag", paper="Hopfield Networks is All You Need", tags=["memory", "classic"])
        await call(client, "note", paper="Hopfield Networks is All You Need", text="Compare with MoM.")
        await call(client, "mark", paper="Hopfield Networks is All You Need", status="reading")
        await call(client, "rate", paper="Hopfield Networks is All You Need", rating="like")
        refused = await error(client, "mark", paper="Hydra", status="done")  # not one of the statuses
        assert "status" in refused

    talk(session(kb, "--allow-write"), body)
    record = next(
        yaml.safe_load(p.read_text())
        for p in (kb / "records").glob("hopfield-networks-is-all-you-need*.yaml")
    )
    assert record["tags"] == ["memory", "classic"] and record["notes"] == "Compare with MoM."
    assert record["status"] == "reading" and record["rating"] == "like"


def test_a_write_while_another_process_holds_the_lock_says_busy(kb: Path) -> None:
    from litkb.lock import write_lock

    async def body(client: Client) -> None:
        with write_lock(kb / ".lock"):
            start = time.monotonic()
            assert "busy" in await error(client, "tag", paper="Hydra", tags=["later"])
            assert time.monotonic() - start < 60  # at once, not after the CLI's limit (600 s here)
        await call(client, "tag", paper="Hydra", tags=["later"])

    talk(session(kb, "--allow-write", lock_timeout="600"), body)


def test_streamable_http_on_loopback_refuses_other_origins(kb: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "litkb", "--kb", str(kb), "mcp", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/mcp"

        async def body(client: Client) -> None:
            found = await call(client, "search", query="speculative decoding", k=3)
            assert len(found["results"]) == 3

        talk(Client(url), body)
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        refused = httpx.post(
            url,
            json=hello,
            headers={"Origin": "http://evil.example", "Accept": "application/json, text/event-stream"},
        )
        assert refused.status_code in (400, 403)
    finally:
        server.terminate()
        server.wait(10)


def test_wrong_argument_types_get_one_line_and_single_values_count_as_lists(kb: Path) -> None:
    async def body(client: Client) -> None:
        wrong = {
            ("search", "mode"): {"query": "x", "mode": "psychic"},
            ("search", "k"): {"query": "x", "k": "many"},
            ("search", "tag"): {"query": "x", "tag": 5},
            ("get_paper", "paper"): {},
            ("export", "format"): {"papers": ["Hydra"], "format": "word"},
        }
        for (name, argument), arguments in wrong.items():
            text = await error(client, name, **arguments)
            assert "\n" not in text and "pydantic" not in text, text
            assert f"{argument} " in text or f"{argument}:" in text, text
        assert "mode 'psychic': use one of 'hybrid', 'semantic' or 'keyword'" in await error(
            client, "search", query="x", mode="psychic"
        )
        assert "--status bogus: unknown reading status" in await error(
            client, "search", query="x", status="bogus"
        )
        # A single value where a list is asked for: a list of one.
        near = await call(client, "related", papers="Hydra", k=2)
        assert len(near["results"]) == 2
        liked = await call(client, "list_papers", status="unread", k=50)
        assert liked["total"] > 0 and all(p["status"] is None for p in liked["results"])
        assert (await call(client, "search", query="decoding", status="unread"))["results"]
        bib = await call(client, "export", papers="Hydra")
        assert bib.startswith("@")
        assert (await call(client, "search", query="speculative decoding", k=1))["results"]  # still up

    talk(session(kb), body)


def test_a_single_tag_is_a_list_of_one(kb: Path) -> None:
    async def body(client: Client) -> None:
        tagged = await call(client, "tag", paper="Hydra", tags="solo")
        assert "solo" in tagged["tags"]
        found = await call(client, "list_papers", tag="solo")
        assert [p["title"] for p in found["results"]] == [tagged["title"]]

    talk(session(kb, "--allow-write"), body)
