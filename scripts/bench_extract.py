"""Which PDF library should litkb extract text with? Speed and text quality on real papers.

Each library reads every PDF of a folder (its INDEX.tsv gives the title and the layout), page by page, in
a process of its own per file (a time limit per file). Figures per library:

- pages/s: pages extracted over the seconds spent (the files that failed left out of both);
- ligatures: ligature glyphs (U+FB00-FB06) left in the text, per 10,000 characters (0 is right);
- hyphens kept: line-end hyphens the library leaves unmarked (`exam-` newline `ple`), per 10,000
  characters; a library that marks its soft hyphens (pdfium: U+FFFE) lets them be joined exactly;
- merged columns: in two-column papers, the share of lines over 100 characters (a line of one column is
  about 50: a longer one joins the two columns' lines, the reading order broken; pdfium's marked hyphen
  ends a line, as it joins the lines it breaks a word over);
- title first: the papers whose title (INDEX.tsv) is found in the first 600 characters of page 1;
- failed: the files it could not read (the damaged file is expected among them).

    .venv/bin/python scripts/bench_extract.py ../shared/dev-data/pdfs
    /other/venv/bin/python scripts/bench_extract.py ../shared/dev-data/pdfs --only pdftext

A library that is not installed is said so and skipped (pdftext pins its own pypdfium2: measure it from a
virtual environment of its own).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

LIGATURES = re.compile("[\ufb00-\ufb06]")
HYPHEN_BREAK = re.compile(r"[a-z]-\r?\n[a-z]")


def pypdfium2_pages(path: str) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def pdfminer_pages(path: str) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    pages = []
    for layout in extract_pages(path, laparams=LAParams()):
        pages.append("".join(el.get_text() for el in layout if isinstance(el, LTTextContainer)))
    return pages


def pypdf_pages(path: str) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    return [page.extract_text() or "" for page in reader.pages]


def pdftext_pages(path: str) -> list[str]:
    from pdftext.extraction import plain_text_output

    text = plain_text_output(path, sort=False, hyphens=True, page_range=None)
    return text.split("\f") if isinstance(text, str) else list(text)


LIBRARIES: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "pypdfium2": ("pypdfium2", pypdfium2_pages),
    "pdfminer.six": ("pdfminer", pdfminer_pages),
    "pypdf": ("pypdf", pypdf_pages),
    "pdftext": ("pdftext", pdftext_pages),
}


def timed(name: str, path: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    pages = LIBRARIES[name][1](path)
    return time.perf_counter() - start, pages


def folded(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", unicodedata.normalize("NFKC", text).lower())


def measure(name: str, folder: Path, rows: list[dict[str, str]], limit: float) -> dict[str, Any]:
    seconds = 0.0
    pages = chars = ligatures = hyphens = long_lines = lines = titles = 0
    failed: list[str] = []
    with ProcessPoolExecutor(max_workers=1) as pool:
        for row in rows:
            future = pool.submit(timed, name, str(folder / row["file"]))
            try:
                spent, texts = future.result(timeout=limit)
            except FutureTimeout:
                failed.append(f"{row['file']} (over {limit:.0f} s)")
                pool.shutdown(wait=False, cancel_futures=True)
                return {"name": name, "aborted": True, "failed": failed}
            except Exception as error:
                failed.append(f"{row['file']} ({type(error).__name__})")
                continue
            text = "\n".join(texts)
            if not text.strip():
                failed.append(f"{row['file']} (no text)")
                continue
            seconds += spent
            pages += len(texts)
            chars += len(text)
            ligatures += len(LIGATURES.findall(text))
            hyphens += len(HYPHEN_BREAK.findall(text))
            if row["layout"] == "two-column":
                # a line ends at a newline, or at pdfium's marked hyphen (it joins the two lines' text)
                page_lines = [ln for t in texts for ln in re.split(r"\r?\n|\ufffe", t) if ln.strip()]
                lines += len(page_lines)
                long_lines += sum(len(ln) > 100 for ln in page_lines)
            if folded(row["title"])[:40] in folded(texts[0][:600]):
                titles += 1
    return {
        "name": name,
        "pages/s": pages / seconds if seconds else 0.0,
        "pages": pages,
        "ligatures": 1e4 * ligatures / max(chars, 1),
        "hyphens kept": 1e4 * hyphens / max(chars, 1),
        "merged columns": long_lines / max(lines, 1),
        "title first": titles,
        "files": len(rows) - len(failed),
        "failed": failed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--only", action="append", help="measure only this library (repeatable)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per file")
    args = parser.parse_args(argv)
    with open(args.folder / "INDEX.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    print(f"{len(rows)} PDFs in {args.folder}; Python {sys.version.split()[0]}")
    header = f"{'library':<14}{'pages/s':>9}{'ligat.':>8}{'hyph.':>8}{'merged':>8}{'title':>7}{'files':>7}"
    print(header)
    for name in args.only or list(LIBRARIES):
        module = LIBRARIES[name][0]
        try:
            __import__(module)
        except ImportError:
            print(f"{name:<14} not installed")
            continue
        r = measure(name, args.folder, rows, args.limit)
        if r.get("aborted"):
            print(f"{name:<14} stopped: {r['failed'][-1]}")
            continue
        print(
            f"{name:<14}{r['pages/s']:>9.1f}{r['ligatures']:>8.2f}{r['hyphens kept']:>8.2f}"
            f"{r['merged columns']:>8.1%}{r['title first']:>7}{r['files']:>7}"
        )
        print(f"{'':<14}failed: {', '.join(r['failed']) or 'none'}")


if __name__ == "__main__":
    main()
