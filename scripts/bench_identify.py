"""How well does litkb identify a PDF? Titles, arXiv ids and DOIs read from real papers, checked against
the folder's INDEX.tsv (title, arxiv_id, doi per file).

    .venv/bin/python scripts/bench_identify.py ../shared/dev-data/pdfs [-v]

A title counts as right when it equals the index's with case, punctuation and spacing aside (litkb's
identity rule for titles); an id when it is the same id. Files the index gives no arXiv id or DOI count
as right when none is found (a wrong one found is wrong). `-v` lists every miss.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from litkb.fulltext.identify import identify
from litkb.fulltext.workers import Limits, extract_files
from litkb.models import normalize_title


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    with open(args.folder / "INDEX.tsv", encoding="utf-8") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}
    start = time.perf_counter()
    results = dict(extract_files([args.folder / name for name in rows], Limits()))
    seconds = time.perf_counter() - start
    right = {"title": 0, "arXiv id": 0, "DOI": 0}
    have = {"title": 0, "arXiv id": 0, "DOI": 0}
    misses: list[str] = []
    for name, row in rows.items():
        result = results[args.folder / name]
        if isinstance(result, str):
            misses.append(f"{name}: {result}")
            found = None
        else:
            found = identify(result, name)
        pairs = {
            "title": (normalize_title(row["title"]), normalize_title(found.title or "") if found else ""),
            "arXiv id": (row["arxiv_id"], (found.arxiv_id or "") if found else ""),
            "DOI": (row["doi"].lower(), (found.doi or "").lower() if found else ""),
        }
        for what, (want, got) in pairs.items():
            have[what] += bool(want)
            if want == got:
                right[what] += 1
            else:
                shown = {"title": found.title if found else None}.get(what, got)
                misses.append(f"{name}: {what} {shown!r}, should be {want!r}")
    print(f"{len(rows)} PDFs, read in {seconds:.1f} s")
    for what in right:
        print(f"{what:<9} right for {right[what]:>2} of {len(rows)} files ({have[what]} have one)")
    if args.verbose:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
