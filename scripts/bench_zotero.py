"""Zotero import speed: a generated Zotero library (zotero.sqlite in the layout the tests build, with
creators, tags, nested collections, child notes, PDFs and their annotations, some items in the trash)
imported into a new knowledge base by `litkb ingest` as a new process, then imported again unchanged, then
again after 1% of its items were edited in Zotero. Each run's wall time and peak memory (the process's
maximum resident set) are printed.

60% of the items have a stored PDF (in Zotero's storage/) and 10% a linked one (elsewhere): small valid
PDFs, a different one for each item (two pages of text), attached by reference at import (hashed, not
read: their text is extracted by `litkb index`, which `--index` times too).

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_zotero.py --items 10000 [--index]

Goals (issue 32): the first import of 10,000 items in at most 60 s, an unchanged re-import in at most 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test suite's Zotero schema (tests/zotero_fixture.py) builds the library

TYPES = (
    ["journalArticle"] * 5 + ["conferencePaper"] * 3 + ["preprint", "book", "bookSection", "thesis", "report"]
)
VENUE = {
    "journalArticle": "publicationTitle",
    "conferencePaper": "proceedingsTitle",
    "bookSection": "bookTitle",
}


def small_pdf(rng: random.Random, title: str, pages: int = 2) -> bytes:
    """A valid PDF of `pages` pages of text (Helvetica), the title on the first."""
    from tests.pdfs import raw_pdf
    from tests.zotero_fixture import random_words

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects = [  # the catalog, the pages, the font, then each page and its contents
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page in range(pages):
        lines = [title] if page == 0 else []
        lines += [random_words(rng, 10) for _ in range(40)]
        text = " T* ".join(f"({line}) Tj" for line in lines)
        stream = f"BT /F1 10 Tf 12 TL 56 760 Td {text} ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * page} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return raw_pdf(objects)


def make_library(folder: Path, items: int, seed: int = 0) -> Path:
    from tests.zotero_fixture import ZoteroLibrary, random_words

    rng = random.Random(seed)
    lib = ZoteroLibrary(folder, "7", seed)
    lib.batch = True
    collections = [lib.collection(f"Area {i}") for i in range(10)]
    collections += [lib.collection(f"Topic {i}", rng.choice(collections)) for i in range(40)]
    tags = [random_words(rng, 1) for _ in range(300)]
    for n in range(items):
        kind = TYPES[n % len(TYPES)]
        fields = {
            "title": f"{random_words(rng, 8).capitalize()} ({n})",
            "abstractNote": random_words(rng, 150),
            "date": f"{2000 + n % 25}-{1 + n % 12:02d}-00 {2000 + n % 25}",
            "url": f"https://example.org/paper/{n}",
        }
        if n % 2 == 0:
            fields["DOI"] = f"10.5555/zotero.{n}"
        if kind in VENUE:
            fields[VENUE[kind]] = f"Venue {n % 50}"
        if kind == "preprint":
            fields["archiveID"] = f"arXiv:{2000 + n % 99:04d}.{n:05d}"
        creators = [("author", random_words(rng, 1).capitalize(), random_words(rng, 1).capitalize())]
        creators += [("author", "A.", f"Coauthor{n % 97}"), ("editor", "E.", f"Editor{n % 13}")][: 1 + n % 2]
        item = lib.item(kind, fields, creators, rng.sample(tags, 3))
        lib.add(rng.choice(collections), item)
        if n % 3 == 0:
            lib.note(
                item,
                f"<h1>Notes</h1><p>{random_words(rng, 40)} <a href='https://example.org/{n}'>link</a></p>",
            )
        if n % 5 < 3:
            pdf = lib.stored_pdf(item, f"paper-{n}.pdf", content=small_pdf(rng, fields["title"]))
            if n % 5 == 0:
                for a in range(5):
                    lib.annotation(
                        pdf, 1, random_words(rng, 12), random_words(rng, 4), str(a + 1), f"{a:05d}|0|0"
                    )
        elif n % 10 == 3:
            linked = folder.parent / "linked" / f"paper-{n}.pdf"
            linked.parent.mkdir(exist_ok=True)
            linked.write_bytes(small_pdf(rng, fields["title"]))
            lib.linked_file(item, str(linked))
        if n % 100 == 99:
            lib.trash(item)
    lib.close()
    return lib.path


def edit_library(path: Path, share: float) -> int:
    """Edit a share of the items as a user would in Zotero (a title changed); how many."""
    db = sqlite3.connect(path)
    ids = [row[0] for row in db.execute("SELECT itemID FROM items WHERE itemTypeID = 6")]  # journal articles
    chosen = ids[:: max(1, int(1 / share))]
    for item_id in chosen:
        cursor = db.execute("INSERT INTO itemDataValues (value) VALUES (?)", (f"Edited title {item_id}",))
        db.execute(
            "UPDATE itemData SET valueID = ? WHERE itemID = ? AND fieldID = 1", (cursor.lastrowid, item_id)
        )
        db.execute("UPDATE items SET dateModified = '2025-01-01 00:00:00' WHERE itemID = ?", (item_id,))
    db.commit()
    db.close()
    return len(chosen)


def timed_ingest(kb: Path, database: Path, command: str = "ingest") -> dict[str, object]:
    """One `litkb ingest` (or `litkb index`) in a new process: its wall time, peak memory and summary."""
    code = (
        "import json, resource, sys, time\n"
        "from litkb.cli import run\n"
        "start = time.perf_counter()\n"
        "try:\n    run()\n"
        "except SystemExit:\n    pass\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, 'peak_mb': peak}), file=sys.stderr)\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--kb",
            str(kb),
            command,
            *([str(database)] if command == "ingest" else []),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    inner = json.loads(lines[-1])
    wanted = "imported" if command == "ingest" else "read the text"
    summary = next((line for line in reversed(lines[:-1]) if wanted in line), lines[:-1][-1:] or "?")
    return {"wall_s": round(wall, 2), "peak_mb": round(inner["peak_mb"]), "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--keep", type=Path, help="Build the library and knowledge base here and keep them.")
    parser.add_argument("--index", action="store_true", help="Then time `litkb index` (reads the PDFs).")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="litkb-bench-zotero-"))
    try:
        start = time.perf_counter()
        database = make_library(work / "Zotero", args.items)
        size, built = database.stat().st_size / 1e6, time.perf_counter() - start
        print(f"library: {args.items} items, zotero.sqlite {size:.1f} MB, built in {built:.0f} s")
        kb = work / "kb"
        kb.mkdir(parents=True, exist_ok=True)
        (kb / "config.yaml").write_text("model: 'hash:256'\n", encoding="utf-8")
        for label in ("first import", "unchanged re-import"):
            result = timed_ingest(kb, database)
            print(f"{label}: {result['wall_s']} s wall, peak {result['peak_mb']} MB; {result['summary']}")
        edited = edit_library(database, 0.01)
        result = timed_ingest(kb, database)
        print(
            f"re-import after {edited} items edited: {result['wall_s']} s wall, peak {result['peak_mb']} MB; "
            f"{result['summary']}"
        )
        if args.index:
            result = timed_ingest(kb, database, "index")
            print(f"litkb index: {result['wall_s']} s wall, peak {result['peak_mb']} MB; {result['summary']}")
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"largest ingest process: {children:.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
