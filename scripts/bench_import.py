"""Import speed: a BibTeX file of N entries (made from a JSON Lines collection, with authors, LaTeX
accents and escapes) ingested into a new knowledge base by `litkb ingest` as a new process.

    .venv/bin/python scripts/bench_import.py ../shared/dev-data/arxiv-2007-sample.jsonl --entries 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litkb.latex import latex_escape


def make_bibtex(source: Path, entries: int, target: Path) -> None:
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    with target.open("w", encoding="utf-8") as out:
        for i in range(entries):
            row = rows[i % len(rows)]
            authors = row.get("authors") or "Jos\\'e M{\\\"u}ller, Ann Lee"
            names = " and ".join(a.strip() for a in str(authors).split(",") if a.strip())
            out.write(
                f"@article{{key{i},\n"
                f"  title = {{{latex_escape(row['title'])} ({i})}},\n"
                f"  author = {{{names}}},\n"
                f"  journal = {{Journal of Tests}},\n"
                f"  year = {{{2000 + i % 25}}},\n"
                f"  doi = {{10.5555/bench.{i}}},\n"
                f"  abstract = {{{latex_escape(row.get('abstract') or row.get('text') or '')}}}\n}}\n\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("collection", type=Path)
    parser.add_argument("--entries", type=int, default=20000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    work = Path(tempfile.mkdtemp(prefix="litkb-bench-import-"))
    try:
        bib = work / "library.bib"
        make_bibtex(args.collection, args.entries, bib)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "litkb", "--kb", str(work / "kb"), "ingest", str(bib)],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - start
        print(done.stderr.strip().splitlines()[-1])
        size = bib.stat().st_size / 1e6
        print(f"ingest of {args.entries} BibTeX entries ({size:.1f} MB): {seconds:.1f} s wall")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
