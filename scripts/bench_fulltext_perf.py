"""Full-text speed and memory, measured in new processes (a benchmark, not a test).

    .venv/bin/python scripts/bench_fulltext_perf.py ../shared/dev-data/pdfs \\
        --abstracts ../shared/dev-data/arxiv-2007-sample.jsonl --only throughput memory search

- `throughput`: the readable PDFs of the folder (INDEX.tsv's hard cases without text left out) through
  litkb, whole processes: extraction (`litkb.fulltext.reading.read_files`: pypdfium2 in worker
  processes, one per core, the text cache written), the records given their files, then `litkb index`
  (every page's passages embedded by the int8 encoder, one text at a time per core); against the naive
  pipeline in the same run, as one process: pypdf's `extract_text` page by page, the text cut into chunks
  of 256 word pieces (the model's tokenizer), sentence-transformers `encode`. Pages a second for both,
  each process's tree sampled for its peak memory, and the time 15,000 pages would take at that rate.
- `memory`: the first `litkb index` of --papers real abstracts (the listing's, repeated under new titles)
  in a new knowledge base, the model's export included: its time and the peak of its process tree.
- `search`: a knowledge base of --papers abstracts and --full full texts (stored random vectors; the
  full texts are the folder's real texts, each PDF's repeated over several papers, so the keyword index
  is real): cold `litkb search` (a new process, median of 5), warm hybrid search through the Python API
  (median of 100 queries), the same with `--in abstract` in the same process (the baseline), and one PDF
  added: its extraction and `litkb index` (each a new process), which embeds that paper's passages only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from synthetic import store_with_random_vectors

from litkb import KnowledgeBase
from litkb.fulltext.windows import files_hash, page_windows
from litkb.models import Paper

HARD = ("scanned", "truncated", "garbled")
QUERIES = [
    "draft heads share the key value cache", "ablation of rotary position embeddings",
    "negative sampling for word vectors", "attention over sentences in a document",
    "distributed consensus with paxos", "importance sampling to speed up training",
    "character embeddings for named entity recognition", "collaborative filtering with neural networks",
    "transformer pretraining on a large web corpus", "household transmission of sars-cov-2",
]  # fmt: skip

EXTRACT = """
import json, sys, time
from pathlib import Path
from litkb.fulltext.reading import read_files
root, paths = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
found = read_files(root, paths)
print(json.dumps([[str(f.path), f.sha256, f.size, len(f.text.pages) if f.text else 0,
                   f.text.extractor if f.text else None, f.text.status if f.text else None,
                   f.identified.title, f.identified.abstract] for f in found]))
"""

NAIVE = """
import sys, time
from pathlib import Path
import pypdf
from sentence_transformers import SentenceTransformer
from litkb.index.encoder import minilm_dir
model = SentenceTransformer(minilm_dir(), device="cpu")
tokenizer = model.tokenizer
pages = 0
chunks = []
for path in sys.argv[1:]:
    try:  # (an AES-encrypted file needs pypdf's optional cryptography: left out, and said)
        texts = [page.extract_text() or "" for page in pypdf.PdfReader(path).pages]
    except Exception as exc:
        print("naive: skipped", path, type(exc).__name__, file=sys.stderr)
        continue
    for text in texts:
        pages += 1
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        chunks += [tokenizer.decode(ids[i : i + 254]) for i in range(0, len(ids), 254)]
model.encode(chunks, batch_size=32, normalize_embeddings=True)
print(pages, len(chunks))
"""


def readable(folder: Path) -> list[Path]:
    with open(folder / "INDEX.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [folder / r["file"] for r in rows if not any(w in r.get("hard_case", "") for w in HARD)]


def tree_rss_kb(pid: int) -> int:
    """The resident memory of a process and all its descendants (kB)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status", encoding="utf-8") as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
        stack += children.get(current, [])
    return total


def measured(argv: list[str]) -> tuple[float, float, str]:
    """Wall time, peak memory of the process tree (MB, sampled every 0.1 s) and stdout of a command."""
    start = time.perf_counter()
    with open(os.devnull, "w") as null:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=null, text=True)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_kb(process.pid))
            time.sleep(0.1)
        out = process.stdout.read() if process.stdout else ""
    if process.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed with exit {process.returncode}")
    return time.perf_counter() - start, peak / 1024, out


def litkb(*args: str) -> list[str]:
    return [sys.executable, "-m", "litkb", *args]


def new_kb(path: Path) -> KnowledgeBase:
    shutil.rmtree(path, ignore_errors=True)
    kb = KnowledgeBase.open(path)
    kb._ensure_created()
    return kb


def attach_read(kb: KnowledgeBase, rows: list[list]) -> list[Paper]:
    """Records for the files read (one each), with their `files:` entries, as attaching makes them."""
    papers = []
    for i, (path, sha, size, pages, extractor, status, title, abstract) in enumerate(rows):
        if status != "ok":
            continue
        paper = Paper(title=title or Path(path).stem, abstract=abstract)
        paper.id = f"pdf-{i:04d}"
        paper.files = [{"path": path, "sha256": sha, "size": size, "pages": pages, "extractor": extractor,
                        "linked": True}]  # fmt: skip
        papers.append(paper)
    kb.store.save_many(papers)
    return papers


def throughput(folder: Path, work: Path) -> None:
    paths = [str(p) for p in readable(folder)]
    kb = new_kb(work / "throughput")
    # the model's export (once per knowledge base, timed under `memory`) is not part of the throughput
    kb.store.save_many([Paper(id="warm-up", title="warm-up", abstract="A first paper.")])
    subprocess.run(litkb("--kb", str(kb.root), "index"), check=True, capture_output=True)
    extract_s, extract_mb, out = measured([sys.executable, "-c", EXTRACT, str(kb.root), *paths])
    papers = attach_read(kb, json.loads(out))
    pages = sum(p.files[0]["pages"] for p in papers)
    index_s, index_mb, out = measured(litkb("--kb", str(kb.root), "index"))
    ours = extract_s + index_s
    naive_s, naive_mb, out = measured([sys.executable, "-c", NAIVE, *[p.files[0]["path"] for p in papers]])
    naive_pages, chunks = (int(v) for v in out.split())
    print(
        f"{len(papers)} PDFs, {pages} pages (pypdf counts {naive_pages}); "
        f"naive: {chunks} chunks of 256 word pieces"
    )
    print(
        f"  litkb: extraction {extract_s:.1f} s (peak {extract_mb:.0f} MB), `litkb index` {index_s:.1f} s "
        f"(peak {index_mb:.0f} MB): {pages / ours:.2f} pages/s; "
        f"15,000 pages at that rate: {15000 / (pages / ours) / 60:.1f} min"
    )
    print(f"  naive: {naive_s:.1f} s (peak {naive_mb:.0f} MB): {naive_pages / naive_s:.2f} pages/s")
    print(f"  ratio litkb / naive (pages/s): {(pages / ours) / (naive_pages / naive_s):.2f}")


def abstracts(listing: Path, n: int) -> list[Paper]:
    rows = [json.loads(line) for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    papers = []
    for i in range(n):
        row = rows[i % len(rows)]
        paper = Paper(title=f"{row['title']} [{i}]", abstract=row.get("abstract") or row.get("text"))
        paper.id = f"paper-{i:07d}"
        papers.append(paper)
    return papers


def memory(listing: Path, work: Path, n: int) -> None:
    kb = new_kb(work / "memory")
    kb.store.save_many(abstracts(listing, n))
    seconds, peak, out = measured(litkb("--kb", str(kb.root), "index"))
    print(
        f"first `litkb index` of {n:,} abstracts (model export included): {seconds:.0f} s, "
        f"peak {peak:.0f} MB (process tree); {out.strip()}"
    )


def search(folder: Path, listing: Path, work: Path, n: int, full: int, keep: bool = False) -> None:
    target = work / f"search-{n}-{full}"
    if keep and (target / "records").is_dir():
        timed_search(folder, target, abstracts(listing, n))
        return
    kb = new_kb(target)
    papers = abstracts(listing, n)
    texts = cached_texts(folder, work)
    model = kb.config.model
    for i, paper in enumerate(papers[:full]):
        text = texts[i % len(texts)]
        paper.files = [{"path": f"files/{paper.id}/paper.pdf", "sha256": text.sha256, "size": 1,
                        "pages": len(text.pages), "extractor": text.extractor, "linked": False}]  # fmt: skip
    store_with_random_vectors(kb, papers)
    from litkb.fulltext.pages import save_text

    for text in texts:
        save_text(kb.root, text)
    rng = np.random.default_rng(1)
    full_index = kb.parts.fulltext
    segments = []
    for start in range(0, full, 64):
        group = [(p.id, files_hash(model, p) or "", page_windows(texts[(start + j) % len(texts)]))
                 for j, p in enumerate(papers[start : min(start + 64, full)])]  # fmt: skip
        rows = sum(len(w) for _, _, w in group)
        vectors = rng.normal(size=(rows, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        segments.append(full_index.write_segment(group, vectors))
    full_index.save(segments, set())
    started = time.perf_counter()
    report = KnowledgeBase.open(target).index()
    print(
        f"{n:,} abstracts + {full:,} full texts ({full_index.passage_count():,} full-text passages, "
        f"{len(texts)} real texts repeated): {report.summary()} ({time.perf_counter() - started:.0f} s)"
    )
    timed_search(folder, target, papers)


def timed_search(folder: Path, target: Path, papers: list[Paper]) -> None:
    """Cold and warm searches, and one PDF added, on the knowledge base at `target`."""
    cold = []
    for query in QUERIES[:5]:
        seconds, peak, _ = measured(litkb("--kb", str(target), "search", query))
        cold.append((seconds, peak))
    print(
        f"  cold `litkb search` (new process), median of 5: {statistics.median(s for s, _ in cold):.2f} s, "
        f"peak {max(p for _, p in cold):.0f} MB"
    )
    kb = KnowledgeBase.open(target)
    kb.search(QUERIES[0])  # warm
    for scope in ("all", "abstract"):
        times = []
        for i in range(100):
            start = time.perf_counter()
            kb.search(QUERIES[i % len(QUERIES)] + f" {i}", scope=scope)
            times.append(time.perf_counter() - start)
        print(
            f"  warm hybrid search --in {scope} (Python API), median of 100: "
            f"{statistics.median(times) * 1000:.1f} ms"
        )
    # one PDF added: extraction (a new process), then `litkb index` (a new process)
    pdf = next(p for p in readable(folder) if p.stat().st_size < 2_000_000)
    copy = target / "added.pdf"
    # a file the cache and the index have not seen, also when --keep-kb runs this again
    copy.write_bytes(pdf.read_bytes() + f"\n% added {time.time_ns()}\n".encode())
    extract_s, _, out = measured([sys.executable, "-c", EXTRACT, str(target), str(copy)])
    path, sha, size, pages, extractor, _, _, _ = json.loads(out)[0]
    paper = KnowledgeBase.open(target).get(papers[-1].id)
    paper.files = [
        {"path": path, "sha256": sha, "size": size, "pages": pages, "extractor": extractor, "linked": True}
    ]
    kb.store.save_many([paper])
    index_s, peak, out = measured(litkb("--kb", str(target), "index"))
    print(
        f"  one PDF added ({pdf.name}, {pages} pages): extraction {extract_s:.2f} s + "
        f"`litkb index` {index_s:.2f} s "
        f"= {extract_s + index_s:.2f} s (peak {peak:.0f} MB); {out.strip()}"
    )


def cached_texts(folder: Path, work: Path) -> list:
    from litkb.fulltext.pages import load_text
    from litkb.fulltext.reading import read_files

    root = work / "texts"
    root.mkdir(parents=True, exist_ok=True)
    found = [
        f.text for f in read_files(root, readable(folder)) if f.text is not None and f.text.status == "ok"
    ]
    return [t for t in found if t is not None and load_text(root, t.sha256) is not None]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--abstracts", type=Path, required=True, help="a JSON Lines listing (title, abstract)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-fulltext-perf"))
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--full", type=int, default=2_000)
    parser.add_argument("--only", nargs="+", default=["throughput", "memory", "search"])
    parser.add_argument(
        "--keep-kb", action="store_true", help="search: reuse the knowledge base of a run before"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if "throughput" in args.only:
        throughput(args.folder, args.work)
    if "memory" in args.only:
        memory(args.abstracts, args.work, args.papers)
    if "search" in args.only:
        search(args.folder, args.abstracts, args.work, args.papers, args.full, args.keep_kb)


if __name__ == "__main__":
    main()
