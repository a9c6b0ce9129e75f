"""`litkb serve` speed through HTTP: the server started as a subprocess on a knowledge base, then N requests
of a warm search page and of the inbox (the first of each, which loads the encoder, snapshot and keyword
index, not counted); p50 and p95, beside the JSON API's search (the same search without the page).

    .venv/bin/python scripts/bench_web.py /tmp/litkb-bench-search/scale-20000

bench_search.py --scale 20000 builds the 20,000-paper knowledge base.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from litkb import KnowledgeBase

QUERIES = [
    "speculative decoding", "protein structure prediction", "graph neural networks for molecules",
    "retrieval augmented generation", "diffusion models for images", "reinforcement learning from feedback",
    "low rank adaptation", "mixture of experts routing", "vision language models", "quantum error correction",
]  # fmt: skip


def timed(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text[:300]
    return elapsed


def report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p50, p95 = statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000
    print(f"  {name:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kb", type=Path)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-m", "litkb", "--kb", str(args.kb), "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(root)},
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/static/style.css")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            papers = len(list((args.kb / "records").glob("*.yaml")))
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
            )
            print(f"{papers} papers, {args.requests} warm requests each, through HTTP")
            timed(client, "/search", {"q": "warm up"})
            timed(client, "/")
            n = args.requests
            report(
                "search page (/search?q=)",
                [timed(client, "/search", {"q": QUERIES[i % 10]}) for i in range(n)],
            )
            report("inbox (/)", [timed(client, "/") for _ in range(n)])
            report(
                "API search (/api/search)",
                [timed(client, "/api/search", {"q": QUERIES[i % 10]}) for i in range(n)],
            )
            # The inbox ranked by likes (as `litkb next`): five papers liked, then put back as they were.
            kb = KnowledgeBase.open(args.kb)
            liked = sorted(kb.store.ids())[:5]
            for pid in liked:
                kb.update_record(pid, lambda p: setattr(p, "rating", "like"))
            try:
                timed(client, "/")
                report("inbox, 5 papers liked", [timed(client, "/") for _ in range(n)])
            finally:
                for pid in liked:
                    kb.update_record(pid, lambda p: setattr(p, "rating", None))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
