"""MCP search latency through a real client session: `litkb mcp` started as a subprocess over stdio
by the SDK's own client, then `search` called N times (warm: the first call, which loads the query
encoder, snapshot and keyword index, is not counted); p50 and p95 of the round trip, beside the same
searches through the Python API in this process (the baseline, in the same run).

    .venv/bin/python scripts/bench_mcp.py /tmp/litkb-bench-search/scale-20000

The knowledge base is any indexed one; bench_search.py --scale 20000 builds the 20,000-paper one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from litkb import KnowledgeBase

QUERIES = [
    "speculative decoding", "protein structure prediction", "graph neural networks for molecules",
    "retrieval augmented generation", "diffusion models for images", "reinforcement learning from feedback",
    "low rank adaptation", "mixture of experts routing", "vision language models", "quantum error correction",
]  # fmt: skip


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def server(kb: Path, *extra: str) -> StdioServerParameters:
    root = Path(__file__).resolve().parent.parent
    args = ["-m", "litkb", "--kb", str(kb), "mcp", *extra]
    return StdioServerParameters(command=sys.executable, args=args, env={"PYTHONPATH": str(root)})


async def tool_list_sizes(kb: Path) -> tuple[int, int]:
    """Characters of the tool list as the server sends it (JSON), read-only and with --allow-write."""
    sizes = []
    for extra in ((), ("--allow-write",)):
        async with Client(server(kb, *extra)) as client:
            tools = (await client.list_tools()).tools
            sizes.append(
                len(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]))
            )
    return sizes[0], sizes[1]


async def through_mcp(kb: Path, calls: int) -> list[float]:
    times = []
    async with Client(server(kb)) as client:
        await client.call_tool("search", {"query": "warm up", "k": 10})
        for i in range(calls):
            start = time.perf_counter()
            result = await client.call_tool("search", {"query": QUERIES[i % len(QUERIES)], "k": 10})
            times.append(time.perf_counter() - start)
            assert not result.is_error, result.content[0].text
    return times


def through_api(kb_path: Path, calls: int) -> list[float]:
    kb = KnowledgeBase.open(kb_path)
    kb.search("warm up", k=10)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        kb.search(QUERIES[i % len(QUERIES)], k=10)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kb", type=Path)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    papers = len(KnowledgeBase.open(args.kb).store.ids())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    mcp_p50, mcp_p95 = percentiles(asyncio.run(through_mcp(args.kb, args.calls)))
    api_p50, api_p95 = percentiles(through_api(args.kb, args.calls))
    print(f"{papers} papers, {args.calls} warm hybrid searches, k=10")
    print(f"  MCP search (stdio, SDK client): p50 {mcp_p50:.1f} ms  p95 {mcp_p95:.1f} ms")
    print(f"  Python API (baseline):          p50 {api_p50:.1f} ms  p95 {api_p95:.1f} ms")
    print(f"  ratio p50 {mcp_p50 / api_p50:.2f}")
    read_only, writable = asyncio.run(tool_list_sizes(args.kb))
    print(f"tool list: {read_only} characters, {writable} with --allow-write")


if __name__ == "__main__":
    main()
