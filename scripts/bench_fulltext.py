"""Known-item benchmark for full-text search: can litkb find the paper, and the page, that a sentence from
the body of a real paper comes from?

For each PDF in a folder (with INDEX.tsv: title, hard cases) whose text can be read, sentences are taken
from its body (page 3 on, before the references; 10 to 40 words, mostly letters), and each is asked as a
query twice: as written, and lightly paraphrased by rule (synonyms from the fixed list below, and the
clauses on either side of a comma, or of the first "and", swapped). A hit is right when the paper is
first; its page is right when that paper's page is the sentence's page. Compared on the same queries:
litkb's hybrid search over abstracts and full text (`--in all`) and full text alone (`--in full`), the
abstract-only search (`--in abstract`: what litkb found before), and a plain TF-IDF (scikit-learn's
TfidfVectorizer, cosine) over the pages' text, whose best page gives the paper and the page.

The knowledge base holds one record per PDF (title from INDEX.tsv, abstract from page 1: what follows
"Abstract" up to the introduction, else page 1's first 150 words), each with its file's text cached as
`litkb attach` leaves it, and `--distractors N` papers without files from a JSON Lines listing.
The text comes from litkb's extractor (`litkb.fulltext.extract.read_pdf`) where it is there, else from
pypdfium2's text with a light cleaning (said in the output).

    .venv/bin/python scripts/bench_fulltext.py ../shared/dev-data/pdfs \\
        --distractors-file ../shared/dev-data/arxiv-2007-sample.jsonl --distractors 2000

`--grid` also reports litkb's accuracy for other values of the full-text view's offset (see
`litkb.index.fullrank`), from the same index.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import shutil
import time
import unicodedata
from pathlib import Path
from typing import Any

from litkb import KnowledgeBase
from litkb.fulltext.pages import ExtractedText, save_text
from litkb.index import fullrank
from litkb.models import Paper, make_id
from litkb.text import sentences

SEED = 31
HARD = ("scanned", "truncated", "garbled")  # hard cases without text to search
PER_PAPER = 6
SYNONYMS = {
    "use": "employ", "uses": "employs", "used": "employed", "using": "employing",
    "show": "demonstrate", "shows": "demonstrates", "shown": "demonstrated",
    "method": "approach", "methods": "approaches", "results": "findings", "result": "outcome",
    "large": "big", "small": "little", "improve": "enhance", "improves": "enhances",
    "improved": "enhanced", "performance": "effectiveness", "propose": "put forward",
    "proposed": "suggested", "based": "built", "different": "distinct", "important": "significant",
    "however": "nevertheless", "therefore": "thus", "obtain": "get", "obtained": "got",
    "compute": "calculate", "computed": "calculated", "train": "fit", "trained": "fitted",
    "training": "fitting", "data": "information", "task": "problem", "tasks": "problems",
    "first": "initial", "each": "every", "number": "count", "increase": "rise", "reduce": "lower",
    "reduces": "lowers", "similar": "alike", "achieve": "attain", "achieves": "attains",
    "model": "system", "models": "systems", "paper": "work", "example": "instance",
    "approach": "technique", "consider": "regard", "describe": "present", "given": "provided",
    "allows": "lets", "shows that": "indicates that", "because": "since", "often": "frequently",
}  # fmt: skip
_ALPHA = re.compile(r"[A-Za-z]")
_REFS = re.compile(r"^\s*(references|bibliography|literature cited)\s*$", re.IGNORECASE | re.MULTILINE)


def read_index(folder: Path) -> list[dict[str, str]]:
    with open(folder / "INDEX.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def extract(path: Path) -> tuple[list[str], tuple[int, int] | None, str]:
    """Each page's text, where the references start, and which extractor read it."""
    try:
        from litkb.fulltext.extract import extractor_name, read_pdf

        raw = read_pdf(path)
        if raw.problem:
            return [], None, extractor_name()
        return raw.pages, raw.references_start, extractor_name()
    except ImportError:
        pass
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    pages = []
    for page in doc:
        text = unicodedata.normalize("NFKC", page.get_textpage().get_text_range())
        text = re.sub(r"(\w)-\r?\n(\w)", r"\1\2", text)
        pages.append(" ".join(text.split()) if text.strip() else "")
    doc.close()
    start = None
    for number in range(len(pages), 1, -1):
        found = list(re.finditer(r"\b(References|REFERENCES|Bibliography)\b", pages[number - 1]))
        if found:
            start = (number, found[-1].start())
            break
    return pages, start, "pypdfium2 text, lightly cleaned (litkb's extractor not found)"


def abstract_of(page: str) -> str:
    flat = " ".join(page.split())
    match = re.search(
        r"\bA(?:BSTRACT|bstract)\b[.:—-]?\s*(.*?)(?:\b(?:1\.?|I\.)?\s*I(?:NTRODUCTION|ntroduction)\b|$)", flat
    )
    text = match.group(1) if match and len(match.group(1).split()) > 30 else flat
    return " ".join(text.split()[:250])


def body_sentences(pages: list[str], references: tuple[int, int] | None) -> list[tuple[int, str]]:
    found = []
    for number, page in enumerate(pages, start=1):
        if number < 3:
            continue
        if references is not None:
            if number > references[0]:
                break
            if number == references[0]:
                page = page[: references[1]]
        for sentence in sentences(page):
            words = sentence.split()
            letters = sum(1 for c in sentence if _ALPHA.match(c))
            if 10 <= len(words) <= 40 and letters > 0.7 * len(sentence) and "http" not in sentence:
                found.append((number, sentence))
    return found


def paraphrase(sentence: str) -> str:
    """Synonyms from the fixed list, then the clauses around the first comma (or "and") swapped."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        other = SYNONYMS.get(word.lower())
        if other is None:
            return word
        return other.capitalize() if word[0].isupper() else other

    text = re.sub(r"[A-Za-z]+", swap, sentence.rstrip("."))
    for mark in (", ", " and "):
        if mark in text:
            left, right = text.split(mark, 1)
            if len(left.split()) >= 3 and len(right.split()) >= 3:
                text = f"{right[0].upper()}{right[1:]}{mark}{left[0].lower()}{left[1:]}"
                break
    return text + "."


def build(
    folder: Path, work: Path, model: str, distractors: Path | None, n_distractors: int
) -> tuple[KnowledgeBase, list[dict[str, Any]], str]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "config.yaml").write_text(f"model: '{model}'\n", encoding="utf-8")
    kb = KnowledgeBase.open(work)
    rows = [r for r in read_index(folder) if not any(w in r.get("hard_case", "") for w in HARD)]
    found = _read(kb.root, [folder / r["file"] for r in rows])
    docs = []
    used = ""
    for row in rows:
        path = folder / row["file"]
        text, abstract = found[path]
        if text is None or text.status != "ok" or not any(p.strip() for p in text.pages):
            continue
        used = text.extractor
        save_text(kb.root, text)
        title = row["title"]
        paper = Paper(id=make_id(title), title=title, abstract=abstract or abstract_of(text.pages[0]), files=[
            {"path": str(path.resolve()), "sha256": text.sha256, "size": path.stat().st_size,
             "pages": len(text.pages), "extractor": used, "linked": True}])  # fmt: skip
        docs.append(
            {"id": paper.id, "pages": text.pages, "references": text.references_start, "paper": paper}
        )
    kb._ensure_created()
    kb.store.save_many([d["paper"] for d in docs])
    if distractors is not None and n_distractors:
        lines = distractors.read_text(encoding="utf-8").splitlines()[:n_distractors]
        sample = work / "distractors.jsonl"
        sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
        kb.ingest([str(sample)])
    return kb, docs, used


def _read(root: Path, paths: list[Path]) -> dict[Path, tuple[ExtractedText | None, str | None]]:
    """Each file's text and the abstract its first page gives: litkb's extractor (in its worker
    processes) where it is there, else pypdfium2's text."""
    try:
        from litkb.fulltext.reading import read_files
    except ImportError:
        found: dict[Path, tuple[ExtractedText | None, str | None]] = {}
        for path in paths:
            pages, references, used = extract(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[path] = (ExtractedText(digest, used, pages, references), None)
        return found
    return {item.path: (item.text, item.identified.abstract) for item in read_files(root, paths)}


def queries_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    found = []
    for number, doc in enumerate(docs):
        candidates = body_sentences(doc["pages"], doc["references"])
        for page, sentence in rng.sample(candidates, min(PER_PAPER, len(candidates))):
            query = {"paper": doc["id"], "page": page, "text": sentence, "paraphrase": paraphrase(sentence)}
            found.append({**query, "half": number % 2})
    return found


def accuracy(
    queries: list[dict[str, Any]], answers: list[tuple[str | None, int | None]], half: int | None = None
) -> tuple[float, float]:
    """Top-1 paper and page accuracy, over all queries or one half of the papers (0: the tuning half,
    1: the held-out half, by the papers' order)."""
    pairs = [(q, a) for q, a in zip(queries, answers, strict=True) if half is None or q["half"] == half]
    papers = sum(1 for q, (pid, _) in pairs if pid == q["paper"])
    pages = sum(1 for q, (pid, page) in pairs if pid == q["paper"] and page == q["page"])
    return papers / max(len(pairs), 1), pages / max(len(pairs), 1)


def litkb_answers(kb: KnowledgeBase, texts: list[str], scope: str) -> list[tuple[str | None, int | None]]:
    results = kb.search_many(texts, k=10, scope=scope)
    return [(hits[0]["id"], hits[0]["page"]) if hits else (None, None) for hits in results]


def tfidf_answers(docs: list[dict[str, Any]], texts: list[str]) -> list[tuple[str | None, int | None]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    owners = [(d["id"], n) for d in docs for n, page in enumerate(d["pages"], start=1)]
    vectorizer = TfidfVectorizer()
    matrix = vectorizer.fit_transform([page for d in docs for page in d["pages"]])
    scores = vectorizer.transform(texts) @ matrix.T
    best = scores.argmax(axis=1).A1
    return [owners[int(i)] for i in best]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/litkb-bench-fulltext"))
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--distractors-file", type=Path)
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument("--keep-kb", action="store_true", help="reuse the knowledge base in --work")
    parser.add_argument("--grid", action="store_true", help="also try other full-text offsets")
    parser.add_argument("--json", type=Path, help="write the queries and answers here")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.keep_kb and (args.work / "records").is_dir():
        kb = KnowledgeBase.open(args.work)
        docs = []
        for paper in kb.papers():
            if paper.files:
                from litkb.fulltext.pages import load_text

                text = load_text(kb.root, paper.files[0]["sha256"])
                if text is not None:
                    docs.append({"id": paper.id, "pages": text.pages, "references": text.references_start})
                    used = text.extractor
    else:
        kb, docs, used = build(args.folder, args.work, args.model, args.distractors_file, args.distractors)
    report = kb.index()
    print(
        f"knowledge base: {len(docs)} papers with text ({used}), {len(kb.store.ids())} in all; "
        f"{report.summary()} ({time.perf_counter() - started:.0f} s)"
    )
    queries = queries_of(sorted(docs, key=lambda d: d["id"]))
    print(f"{len(queries)} queries: up to {PER_PAPER} body sentences (page 3 on) of each paper")
    rows = []
    for label, key in (("as written", "text"), ("paraphrased", "paraphrase")):
        texts = [q[key] for q in queries]
        found = {
            "litkb hybrid, --in all": litkb_answers(kb, texts, "all"),
            "litkb hybrid, --in full": litkb_answers(kb, texts, "full"),
            "litkb abstract only (--in abstract)": litkb_answers(kb, texts, "abstract"),
            "TF-IDF over the pages": tfidf_answers(docs, texts),
        }
        for name, answers in found.items():
            paper, page = accuracy(queries, answers)
            held = accuracy(queries, answers, 1)
            page_text = "     -" if "abstract" in name else f"{page:6.3f}"
            held_text = f"{held[0]:.3f} / " + ("-" if "abstract" in name else f"{held[1]:.3f}")
            rows.append((label, name, paper, page, *held))
            print(
                f"{label:12} {name:38} top-1 paper {paper:6.3f}  page {page_text}   held-out half {held_text}"
            )
        if args.grid:
            base = fullrank.FULL_OFFSET
            for offset in (0.0, 0.025, 0.05, 0.075, 0.1, 0.15):
                fullrank.FULL_OFFSET = offset
                paper, page = accuracy(queries, litkb_answers(kb, texts, "all"), 0)
                name = f"  tuning half: --in all, offset {offset}"
                print(f"{label:12} {name:38} top-1 paper {paper:6.3f}  page {page:6.3f}")
            fullrank.FULL_OFFSET = base
    if args.json:
        args.json.write_text(json.dumps({"queries": queries, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
