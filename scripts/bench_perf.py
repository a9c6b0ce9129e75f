"""Speed benchmark: each goal of litkb's performance section against a baseline measured in the same run.

    .venv/bin/python scripts/bench_perf.py ../shared/dev-data/arxiv-2007-sample.jsonl

The input is a JSON Lines file of real papers (title, abstract). From it the script builds what it needs
in --work (default /tmp/litkb-bench-perf):

- a knowledge base of --papers N (default 20,000) records, the abstracts repeated under distinct titles,
  with stored synthetic vectors (one for each passage `litkb index` would embed) and the real keyword
  index and query encoder;
- a sample of --sample real abstracts (default 1,000) embedded for real by `litkb index`;
- a JSON Lines file of --ingest records (default 100,000) for ingest and loading.

and prints a table of medians: cold search (a new `litkb search` process) against the same search
without the exported encoder and the snapshot (sentence-transformers and Chroma loaded, litkb's path
before the speed work); warm hybrid search against warm semantic search; `litkb index` throughput
(a new process) against bare `SentenceTransformer.encode` of each paper's title and abstract, alternating,
--repeats times each; an unchanged
`litkb index` and one with a single changed abstract against a bare `litkb --help`; ingest and loading of
the large file. With a GPU (`--device cuda`), indexing throughput on the GPU. Nothing here is a test:
the figures go to docs/performance.md (the current ones) and docs/design-notes.md (what they replace).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from synthetic import store_with_random_vectors

from litkb import KnowledgeBase
from litkb.index.passages import passages
from litkb.models import Paper

QUERIES = [
    "speculative decoding for faster inference",
    "dark matter halo density profiles",
    "protein folding in the cell",
    "graph neural networks for molecules",
    "quantum error correction codes",
    "reinforcement learning from human feedback",
    "galaxy cluster x-ray observations",
    "superconductivity in thin films",
    "bayesian inference with markov chain monte carlo",
    "neutrino oscillation experiments",
]

Row = tuple[str, float, str, float | None, str]  # measurement, value, unit, baseline, goal


def read_rows(path: Path) -> list[dict[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append({"title": row["title"], "abstract": row.get("abstract") or row.get("text") or ""})
    return rows


def litkb_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "litkb", *args]


def wall(argv: list[str], repeats: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of a command run as a new process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def build_scaled_kb(
    rows: list[dict[str, str]], target: Path, n: int, chroma_url: str | None = None
) -> KnowledgeBase:
    """N records (abstracts repeated, distinct titles) with synthetic vectors, then a real `litkb index`
    (keyword index, snapshot, query encoder; nothing to embed)."""
    shutil.rmtree(target, ignore_errors=True)
    kb = KnowledgeBase.open(target, chroma_url=chroma_url)
    papers = []
    for i in range(n):
        row = rows[i % len(rows)]
        paper = Paper(title=f"{row['title']} ({i})", abstract=row["abstract"], year=1990 + i % 35)
        paper.id = f"paper-{i:07d}"
        papers.append(paper)
    store_with_random_vectors(kb, papers)
    kb.index()
    return KnowledgeBase.open(target, chroma_url=chroma_url)


def search_speed(kb_path: Path, repeats: int) -> list[Row]:
    query = QUERIES[0]
    cold = wall(litkb_cmd("--kb", str(kb_path), "search", query), repeats)
    # The baseline: the same search with the encoder and the snapshot set aside, so it loads
    # sentence-transformers and Chroma (what every search did before).
    index = kb_path / "index"
    aside = [
        (index / "encoder", index / "encoder.aside"),
        (index / "passages.json", index / "passages.aside"),
    ]
    for path, moved in aside:
        path.rename(moved)
    try:
        before = wall(litkb_cmd("--kb", str(kb_path), "search", query), max(3, repeats // 2))
    finally:
        for path, moved in aside:
            moved.rename(path)
    kb = KnowledgeBase.open(kb_path)
    kb.search(query)  # load the encoder, map the indexes
    timings: dict[str, list[float]] = {"semantic": [], "hybrid": []}
    for _ in range(5):
        for q in QUERIES:
            for mode, times in timings.items():
                start = time.perf_counter()
                kb.search(q, k=10, mode=mode)
                times.append(time.perf_counter() - start)
    semantic, hybrid = (statistics.median(timings[m]) * 1000 for m in ("semantic", "hybrid"))
    return [
        ("cold `litkb search` (new process)", cold, "s", before, "<= 1.0 s"),
        ("warm hybrid search (Python API)", hybrid, "ms", semantic, "<= 30 ms"),
    ]


CHANGED = "One more sentence, changed at"


def unchanged_index(kb_path: Path, repeats: int) -> list[Row]:
    floor = wall(litkb_cmd("--help"), repeats)
    unchanged = wall(litkb_cmd("--kb", str(kb_path), "index"), repeats)
    times = []
    for i in range(repeats):  # a different paper each time, each a new process
        kb = KnowledgeBase.open(kb_path)
        paper = kb.store.load(f"paper-{i * 997:07d}")
        original = (paper.abstract or "").split(CHANGED)[0].rstrip()  # as long each time, however many runs
        paper.abstract = f"{original} {CHANGED} {time.time()}."
        kb.store.save_many([paper])
        start = time.perf_counter()
        done = subprocess.run(
            litkb_cmd("--kb", str(kb_path), "index"), check=True, capture_output=True, text=True
        )
        times.append(time.perf_counter() - start)
        if "embedded 1 (" not in done.stderr:
            raise SystemExit(f"one changed abstract should embed exactly one paper: {done.stderr}")
    one = statistics.median(times)
    return [
        ("`litkb index`, nothing changed", unchanged, "s", floor, "<= 3 s"),
        ("`litkb index`, one abstract changed", one, "s", floor, "embeds 1"),
    ]


def throughput(
    rows: list[dict[str, str]], work: Path, sample: int, device: str, repeats: int
) -> tuple[list[Row], str]:
    """`litkb index` of `sample` new records against the naive path a user would write:
    `SentenceTransformer.encode` of each paper's title and abstract (one vector a paper, its defaults).
    Each is timed `repeats` times, alternating which goes first (this machine's speed drifts by a third
    over a minute), each `litkb index` a new process on a fresh copy of the knowledge base (its start and
    imports counted); the medians are compared."""
    target = work / f"throughput-{device}"
    shutil.rmtree(target, ignore_errors=True)
    kb = KnowledgeBase.open(target)
    source = work / "sample.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows[: sample + 20]), encoding="utf-8")
    first = work / "first.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[sample : sample + 20]), encoding="utf-8")
    kb.ingest([str(first)])
    export = timed(lambda: kb.index(device=device))  # 20 papers and the one-time ONNX export
    kb.ingest([str(source)])
    todo = [p for p in kb.papers() if p.title not in {r["title"] for r in rows[sample : sample + 20]}]
    texts = [text for p in todo for text in passages(p)]
    model = kb.parts.encoders.embedder._load()  # type: ignore[attr-defined]
    whole = [p.embedded_text() for p in todo]
    model.encode(whole[:32])  # warm
    copy = work / f"throughput-{device}-run"

    def index_copy() -> float:
        """`litkb index` as a user runs it, a new process (in this one, an index run straight after
        another ran a third slower: the one before still held its threads and files)."""
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(target, copy)
        os.sync()  # the copy written out before the clock starts
        return wall(litkb_cmd("--kb", str(copy), "index", "--device", device), 1)

    naive_times: list[float] = []
    index_times: list[float] = []
    for run in range(repeats):
        if run % 2:
            index_times.append(index_copy())
            naive_times.append(timed(lambda: model.encode(whole)))
        else:
            naive_times.append(timed(lambda: model.encode(whole)))
            index_times.append(index_copy())
    shutil.rmtree(copy, ignore_errors=True)
    naive, indexed = statistics.median(naive_times), statistics.median(index_times)
    encoder = kb.parts.encoders.for_passages()
    kind = "int8 ONNX" if getattr(encoder, "int8", False) else type(encoder).__name__
    label = f"`litkb index`, {len(todo)} new abstracts ({len(texts)} passages, {device}, {kind})"
    pairs = ", ".join(f"{n:.1f}/{i:.1f}" for n, i in zip(naive_times, index_times, strict=True))
    note = (
        f"first `litkb index` of a knowledge base (20 papers, with the one-time ONNX export and int8 copy): "
        f"{export:.1f} s; naive: SentenceTransformer.encode of {len(whole)} titles + abstracts against "
        f"litkb index, seconds, {repeats} runs alternating: {pairs}; litkb index "
        f"{len(texts) / indexed:.0f} passages/s"
    )
    return [(label, len(todo) / indexed, "papers/s", len(todo) / naive, ">= 1.00 (naive encode)")], note


def rss_run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall time, peak resident memory (MB) and stdout of a command run as a new process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    # the peak of this child alone: it reports it itself on exit (see PEAK)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    peak = 0.0
    for line in err.splitlines():
        if line.startswith("PEAK_RSS_KB "):
            peak = int(line.split()[1]) / 1024
    return seconds, peak, out


# The peak resident memory of this process alone: VmHWM (getrusage's ru_maxrss would count the parent's
# memory when it was larger, copied at fork).
HWM = "int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
PEAK = f"""
import atexit, sys
atexit.register(lambda: print("PEAK_RSS_KB", {HWM}, file=sys.stderr))
from litkb.cli import run
sys.argv[0] = "litkb"
run()
"""


def litkb_peak(*args: str) -> list[str]:
    """`litkb ARGS` in a process that reports its peak resident memory on exit."""
    return [sys.executable, "-c", PEAK, *args]


def scale_rows(kb_path: Path, n: int, repeats: int) -> list[Row]:
    """At `n` papers: a cold search's time and peak memory, `list`, `show`, and the index's size on disk."""
    query = QUERIES[1]
    runs = [rss_run(litkb_peak("--kb", str(kb_path), "search", query)) for _ in range(repeats)]
    cold = statistics.median(r[0] for r in runs)
    peak = max(r[1] for r in runs)
    listing = statistics.median(
        rss_run(litkb_peak("--kb", str(kb_path), "list", "-n", "10"))[0] for _ in range(repeats)
    )
    show = statistics.median(
        rss_run(litkb_peak("--kb", str(kb_path), "show", "paper-0000042"))[0] for _ in range(repeats)
    )
    index = kb_path / "index"

    def size(paths: list[Path]) -> float:
        total = 0
        for path in paths:
            files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
            total += sum(f.stat().st_size for f in files)
        return total / 2**20

    snapshot = [p for p in index.glob("passages*")]
    return [
        (f"cold `litkb search` at {n:,} papers", cold, "s", None, "< 1.5 s"),
        (f"peak memory of that search at {n:,} papers", peak, "MB", None, "< 1,536 MB"),
        (f"`litkb list -n 10` at {n:,} papers", listing, "s", None, ""),
        (f"`litkb show PAPER` at {n:,} papers", show, "s", None, ""),
        (f"index on disk at {n:,} papers (all of index/)", size([index]), "MB", None, ""),
        ("  of which the passage snapshot", size(snapshot), "MB", None, ""),
        ("  of which Chroma", size([index / "chroma"]), "MB", None, ""),
    ]


INDEX_DRIVER = f"""
import json, sys, time
from litkb import KnowledgeBase
kb = KnowledgeBase.open(sys.argv[1])
marks = []
start = time.perf_counter()
report = kb.index(progress=lambda done, total: marks.append((time.perf_counter() - start, done, total)))
print(json.dumps({{"seconds": time.perf_counter() - start, "marks": marks, "summary": report.summary(),
                  "peak_kb": {HWM}}}))
"""


def index_new(rows: list[dict[str, str]], kb_path: Path, n: int, new: int) -> tuple[list[Row], str]:
    """`litkb index` of `new` real abstracts added to the knowledge base of `n` papers: time, peak memory,
    and how well the time left, as the progress bar would show it, held."""
    source = kb_path.parent / f"new-{new}.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(new):
            row = rows[i % len(rows)]
            out.write(json.dumps({"title": f"{row['title']} [new {i}]", "abstract": row["abstract"]}) + "\n")
    subprocess.run(litkb_cmd("--kb", str(kb_path), "ingest", str(source)), check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-c", INDEX_DRIVER, str(kb_path)], check=True, capture_output=True, text=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    marks, seconds = found["marks"], found["seconds"]
    begun = marks[0][0]
    held = []
    for share in (0.1, 0.25, 0.5, 0.75):
        at, did, total = next(m for m in marks if m[1] >= share * m[2])
        predicted = (at - begun) / did * (total - did)  # the rate so far, as a progress bar reckons
        held.append(f"at {share:.0%}: {predicted:.0f} s left predicted, {seconds - at:.0f} s actual")
    note = f"index of {new:,} new into {n:,}: {found['summary']}; time left " + "; ".join(held)
    return [
        (f"`litkb index`, {new:,} new abstracts into {n:,}", seconds, "s", None, ""),
        ("peak memory of that index", found["peak_kb"] / 1024, "MB", None, "< 1,536 MB"),
    ], note


def ingest_and_load(rows: list[dict[str, str]], work: Path, n: int, repeats: int) -> list[Row]:
    big = work / f"ingest-{n}.jsonl"
    with big.open("w", encoding="utf-8") as out:
        for i in range(n):
            row = rows[i % len(rows)]
            out.write(json.dumps({"title": f"{row['title']} (copy {i})", "abstract": row["abstract"]}) + "\n")
    target = work / f"ingest-{n}"
    shutil.rmtree(target, ignore_errors=True)
    # Baseline: the same file read and parsed as JSON, nothing written.
    bare = timed(lambda: [json.loads(line) for line in big.read_text(encoding="utf-8").splitlines()])
    start = time.perf_counter()
    subprocess.run(litkb_cmd("--kb", str(target), "ingest", str(big)), check=True, capture_output=True)
    ingest = time.perf_counter() - start
    probe = "import sys,time; from litkb import KnowledgeBase; t=time.perf_counter(); "
    probe += "n=len(KnowledgeBase.open(sys.argv[1]).papers()); print(time.perf_counter()-t)"
    loads = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", probe, str(target)], check=True, capture_output=True, text=True
        )
        loads.append(float(done.stdout.strip()))
    listing = wall(litkb_cmd("--kb", str(target), "list", "-n", "1"), repeats)
    return [
        (f"ingest {n:,} JSON Lines records", ingest, "s", bare, "<= 60 s"),
        (f"load all {n:,} records (Python API)", statistics.median(loads), "s", None, "<= 3 s"),
        (f"`litkb list -n 1` at {n:,} records", listing, "s", None, ""),
    ]


def server_speed(
    rows: list[dict[str, str]], work: Path, n: int, repeats: int, local_cold: float
) -> list[Row]:
    """The same searches on a knowledge base whose vectors are on a Chroma server (`chroma run`, started
    here on this machine), against the embedded store."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = work / "server-store"
    shutil.rmtree(store, ignore_errors=True)
    chroma = Path(sys.executable).parent / "chroma"
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        path = work / f"server-kb-{n}"
        start = time.perf_counter()
        kb = build_scaled_kb(rows, path, n, chroma_url=url)
        print(
            f"built a knowledge base of {n:,} papers on {url} in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        cold = wall(litkb_cmd("--kb", str(path), "search", QUERIES[0]), repeats)
        local = KnowledgeBase.open(work / f"kb-{n}")
        timings: dict[str, list[float]] = {"server": [], "embedded": []}
        for name, base in (("server", kb), ("embedded", local)):
            base.search(QUERIES[0])
            for _ in range(5):
                for q in QUERIES:
                    start = time.perf_counter()
                    base.search(q, k=10)
                    timings[name].append(time.perf_counter() - start)
        server_ms, local_ms = (statistics.median(timings[m]) * 1000 for m in ("server", "embedded"))
        unchanged = wall(litkb_cmd("--kb", str(path), "index"), max(3, repeats // 2))
    finally:
        server.kill()
        server.wait()
    return [
        (f"server: cold `litkb search`, {n:,} papers", cold, "s", local_cold, ""),
        (f"server: warm hybrid search, {n:,} papers", server_ms, "ms", local_ms, ""),
        (f"server: `litkb index`, nothing changed, {n:,} papers", unchanged, "s", None, ""),
    ]


def gpu(rows: list[dict[str, str]], work: Path, n: int) -> list[Row]:
    """Docs/s of `litkb index --device cuda` on n abstracts (only with a GPU)."""
    import torch

    if not torch.cuda.is_available():
        print("no GPU on this machine: GPU throughput not measured")
        return []
    target = work / "gpu"
    shutil.rmtree(target, ignore_errors=True)
    kb = KnowledgeBase.open(target)
    source = work / "gpu.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(n):
            row = rows[i % len(rows)]
            out.write(json.dumps({"title": f"{row['title']} [{i}]", "abstract": row["abstract"]}) + "\n")
    kb.ingest([str(source)])
    seconds = timed(lambda: kb.index(device="cuda"))
    return [(f"`litkb index --device cuda`, {n:,} abstracts", n / seconds, "docs/s", None, "")]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("papers_file", type=Path, help="JSON Lines with title and abstract (or text)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-perf"))
    parser.add_argument(
        "--papers", type=int, default=20_000, help="size of the search / index knowledge base"
    )
    parser.add_argument("--sample", type=int, default=1_000, help="real abstracts embedded for throughput")
    parser.add_argument("--ingest", type=int, default=100_000, help="records for ingest and loading")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="device for the throughput run (cpu, cuda)")
    parser.add_argument("--gpu-docs", type=int, default=0, help="also measure --device cuda on N abstracts")
    parser.add_argument("--server", action="store_true", help="also measure searches on a Chroma server")
    parser.add_argument("--new", type=int, default=20_000, help="real abstracts added for --only new")
    parser.add_argument(
        "--keep-kb",
        action="store_true",
        help="use the knowledge base of --papers papers already in --work (as a run before left it, "
        "less any papers it added) instead of building it again",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=["search", "index", "throughput", "ingest"],
        help="search, index, throughput, ingest, scale (memory, list, show, disk), new (index --new real "
        "abstracts into the --papers knowledge base)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = read_rows(args.papers_file)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}")
    table: list[Row] = []
    notes = []
    kb_path = args.work / f"kb-{args.papers}"
    if args.keep_kb and kb_path.is_dir():
        print(f"using the knowledge base in {kb_path}", flush=True)
    elif {"search", "index", "scale", "new"} & set(args.only) or args.server:
        build_scaled_kb(rows, kb_path, args.papers)
        print(f"built a knowledge base of {args.papers:,} papers in {kb_path}", flush=True)
    if "search" in args.only:
        table += search_speed(kb_path, args.repeats)
    if "scale" in args.only:
        table += scale_rows(kb_path, args.papers, args.repeats)
    if args.server:
        cold_local = next((row[1] for row in table if row[0].startswith("cold")), None)
        if cold_local is None:
            cold_local = wall(litkb_cmd("--kb", str(kb_path), "search", QUERIES[0]), args.repeats)
        table += server_speed(rows, args.work, args.papers, args.repeats, cold_local)
    if "index" in args.only:
        table += unchanged_index(kb_path, args.repeats)
    if "throughput" in args.only:
        found, note = throughput(rows, args.work, args.sample, args.device, args.repeats)
        table += found
        notes.append(note)
    if "ingest" in args.only:
        table += ingest_and_load(rows, args.work, args.ingest, args.repeats)
    if "new" in args.only:
        found, note = index_new(rows, kb_path, args.papers, args.new)
        table += found
        notes.append(note)
    if args.gpu_docs:
        table += gpu(rows, args.work, args.gpu_docs)
    print()
    print(f"| {'measurement':<58} | {'median':>12} | {'baseline':>12} | {'ratio':>6} | goal")
    print(f"|{'-' * 60}|{'-' * 14}|{'-' * 14}|{'-' * 8}|------")
    for name, value, unit, baseline, goal in table:
        shown = f"{value:.3g} {unit}"
        base = f"{baseline:.3g} {unit}" if baseline is not None else "-"
        ratio = f"{value / baseline:.2f}" if baseline else "-"
        print(f"| {name:<58} | {shown:>12} | {base:>12} | {ratio:>6} | {goal}")
    print(
        "baselines: cold search without the exported encoder and snapshot; warm hybrid against warm "
        "semantic; indexing against bare SentenceTransformer.encode; index runs against `litkb --help`; "
        "ingest against parsing the file as JSON; server rows against the embedded store"
    )
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
