"""What the MCP tools do: plain functions over a `KnowledgeBase` that return the objects `--json` prints,
bounded: a page of `k` (10 by default), a `cursor` for the next page, abstracts and notes cut to a stated
length, and no single result over RESULT_CHARS; every cut is said (`truncated`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ..errors import AmbiguousError, LitkbError, NothingLikedError, UsageError
from ..filters import PaperFilter, SortKey
from ..kb import KnowledgeBase
from ..models import STATUSES, Paper
from ..wording import plural, shorten

PAGE = 10
MAX_K = 50
ABSTRACT_CHARS = 600  # an abstract in a list or search result, unless asked for more
RESULT_CHARS = 20_000  # any one tool result, at most
RATINGS = ("like", "dislike", "none")
EXPORT_FORMATS = ("bibtex", "csl-json")


def message(exc: LitkbError) -> str:
    """litkb's one-line message, with the candidates of an ambiguous title."""
    text = str(exc)
    if isinstance(exc, AmbiguousError):
        text += "".join(f"\n  {pid} ({year or '?'}) {title}" for pid, year, title in exc.candidates)
    return text


def one_or_many(value: Any) -> Any:
    """A single text where a list of texts is asked for (`tag: "x"`): a list of that one."""
    return [value] if isinstance(value, str) else value


def argument_error(exc: ValidationError) -> str:
    """The arguments pydantic refused, in one line as litkb says it: `mode 'psychic': use one of ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        if error["type"] == "missing":
            parts.append(f"{name}: missing; give a value")
            continue
        given = error.get("input")
        value = f"'{given}'" if isinstance(given, str) else json.dumps(given, ensure_ascii=False, default=str)
        shown = f"{name} {shorten(value, 60)}"
        if error["type"] == "literal_error":
            parts.append(f"{shown}: use one of {error['ctx']['expected']}")
        else:
            text = error["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
            parts.append(f"{shown}: should be {text}" if text != error["msg"] else f"{shown}: {text}")
    return "; ".join(parts) or "the arguments do not match the tool's input schema"


def where(
    year: str | None = None,
    since: str | None = None,
    tag: list[str] | None = None,
    author: list[str] | None = None,
    source: list[str] | None = None,
    status: list[str] | None = None,
    theme: str | None = None,
    area: str | None = None,
    min_upvotes: int | None = None,
) -> PaperFilter:
    return PaperFilter.from_options(
        year, since, min_upvotes, tag or [], author or [], source or [], status or [], theme, area
    )


def _page(k: int, cursor: str | None) -> tuple[int, int]:
    """(offset, size) of a page; the cursor is the offset the previous page said to go on from."""
    if k < 1 or k > MAX_K:
        raise UsageError(f"k {k}: give 1 to {MAX_K}")
    if cursor in (None, ""):
        return 0, k
    if not str(cursor).isdigit():
        raise UsageError(f"cursor '{cursor}': pass the next_cursor of the previous page")
    return int(str(cursor)), k


def _paged(items: list[Any], offset: int, size: int, more: bool) -> dict[str, Any]:
    page = items[offset : offset + size]
    return _capped(
        {"results": page, "next_cursor": str(offset + size) if more or len(items) > offset + size else None}
    )


def _capped(result: dict[str, Any]) -> dict[str, Any]:
    """At most RESULT_CHARS of JSON: results dropped from the end (and said) until it fits."""
    results = result.get("results")
    while isinstance(results, list) and results and len(json.dumps(result)) > RESULT_CHARS:
        results.pop()
        result["truncated"] = True
    return result


def _cut(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit].rsplit(" ", 1)[0] + " …", True


def search(
    kb: KnowledgeBase,
    query: str,
    k: int,
    mode: str,
    cursor: str | None,
    filt: PaperFilter,
    scope: str = "all",
) -> dict[str, Any]:
    offset, size = _page(k, cursor)
    hits = kb.search(query, k=offset + size + 1, mode=mode, where=filt, scope=scope)
    return _paged(list(hits), offset, size, more=False)


def related(
    kb: KnowledgeBase, papers: list[str], k: int, cursor: str | None, filt: PaperFilter
) -> dict[str, Any]:
    if not papers:
        raise UsageError("papers: give one or more papers (ids or titles)")
    offset, size = _page(k, cursor)
    hits = kb.related(papers, k=offset + size + 1, where=filt)
    return _paged(list(hits), offset, size, more=False)


def summary(paper: Paper, abstract_chars: int = ABSTRACT_CHARS) -> dict[str, Any]:
    """A paper in a list: what identifies it, and its abstract cut to `abstract_chars`."""
    abstract, cut = _cut(paper.abstract, abstract_chars)
    out = {
        "id": paper.id,
        "title": paper.title,
        "year": paper.year,
        "date": paper.date,
        "authors": paper.authors[:5] + (["…"] if len(paper.authors) > 5 else []),
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "tags": paper.tags,
        "status": paper.status,
        "rating": paper.rating,
        "abstract": abstract,
    }
    if cut:
        out["abstract_truncated"] = True
    return out


def get_paper(kb: KnowledgeBase, ref: str, max_chars: int) -> dict[str, Any]:
    if max_chars < 100:
        raise UsageError(f"max_chars {max_chars}: give at least 100")
    record = kb.get(ref).to_dict()
    cut_fields = []
    for name in ("abstract", "notes"):
        record[name], cut = _cut(record[name], max_chars)
        if cut:
            cut_fields.append(name)
    for name in ("conflicts", "provenance", "schema"):
        record.pop(name, None)
    if len(json.dumps(record)) > RESULT_CHARS:
        record["extra"] = {}
        cut_fields.append("extra")
    if cut_fields:
        record["truncated"] = cut_fields
    return record


def read_text(
    kb: KnowledgeBase, ref: str, first_page: int, last_page: int | None, max_chars: int
) -> dict[str, Any]:
    """Pages of a paper's extracted full text, at most `max_chars` (and RESULT_CHARS) in all."""
    if max_chars < 100:
        raise UsageError(f"max_chars {max_chars}: give at least 100")
    text = kb.paper_text(ref).pages(first_page, last_page, min(max_chars, RESULT_CHARS - 1000))
    shown = text["pages"]
    text["next_page"] = shown[-1]["page"] + 1 if shown and shown[-1]["page"] < text["page_count"] else None
    if text["truncated"] and shown:
        text["next_page"] = shown[-1]["page"]  # the last page shown was cut: read it again from there
    return text


def list_papers(
    kb: KnowledgeBase, filt: PaperFilter, sort: str, k: int, cursor: str | None
) -> dict[str, Any]:
    try:
        key = SortKey(sort)
    except ValueError:
        raise UsageError(f"sort '{sort}': use one of {', '.join(s.value for s in SortKey)}") from None
    offset, size = _page(k, cursor)
    papers = kb.select(filt, sort=key)
    out = _paged(
        [summary(p) for p in papers[offset : offset + size]], 0, size, more=len(papers) > offset + size
    )
    if out["next_cursor"] is not None:
        out["next_cursor"] = str(offset + size)
    out["total"] = len(papers)
    return out


def whats_new(kb: KnowledgeBase, since: str, k: int) -> dict[str, Any]:
    """Papers dated on or after `since`, ranked by fit to what the owner liked and read (as `litkb next`),
    or newest first while nothing is liked or read yet."""
    _page(k, None)
    filt = where(since=since)
    try:
        found = kb.next_papers(k, filt)
        results = [{**summary(p), "similarity": s.similarity, "because": s.because} for p, s in found]
        ranking = "fit to the papers you liked and read"
    except NothingLikedError:
        results = [summary(p) for p in kb.select(filt)[:k]]
        ranking = "newest first (nothing is liked or read yet)"
    return _capped({"since": filt.since, "ranking": ranking, "results": results})


def themes(kb: KnowledgeBase) -> dict[str, Any]:
    saved = kb.theme_service.saved()
    return _capped(
        {
            "themes": [
                {
                    "id": t.id,
                    "label": t.label,
                    "size": saved.size(t.id),
                    "area": {"id": a.id, "label": a.label} if (a := saved.area_of(t.id)) else None,
                }
                for t in saved.themes
            ],
            "areas": [{"id": a.id, "label": a.label, "themes": a.themes} for a in saved.areas],
        }
    )


def export(kb: KnowledgeBase, papers: list[str], format: str) -> str:
    if format not in EXPORT_FORMATS:
        raise UsageError(f"format '{format}': use {' or '.join(EXPORT_FORMATS)}")
    if not papers:
        raise UsageError("papers: give one or more papers (ids or titles)")
    if len(papers) > MAX_K:
        raise UsageError(f"at most {MAX_K} papers at a time")
    return kb.export(format, [kb.get(ref) for ref in papers])


def tag(kb: KnowledgeBase, paper: str, tags: list[str]) -> dict[str, Any]:
    clean = [t.strip() for t in tags if t.strip()]
    if not clean:
        raise UsageError("tags: give one or more tags")
    record = kb.update_record(paper, lambda p: p.tags.extend(t for t in clean if t not in p.tags))
    return {"id": record.id, "title": record.title, "tags": record.tags}


def note(kb: KnowledgeBase, paper: str, text: str) -> dict[str, Any]:
    if not text.strip():
        raise UsageError("text: the note to append is empty")

    def append(p: Paper) -> None:
        p.notes = f"{p.notes}\n\n{text.strip()}" if p.notes else text.strip()

    record = kb.update_record(paper, append)
    return {"id": record.id, "title": record.title, "notes": record.notes}


def mark(kb: KnowledgeBase, paper: str, status: str) -> dict[str, Any]:
    if status not in STATUSES:
        raise UsageError(f"status '{status}': use one of {', '.join(STATUSES)}")
    import datetime as dt

    def change(p: Paper) -> None:
        p.status, p.status_date = status, dt.date.today().isoformat()

    record = kb.update_record(paper, change)
    return {
        "id": record.id,
        "title": record.title,
        "status": record.status,
        "status_date": record.status_date,
    }


def rate(kb: KnowledgeBase, paper: str, rating: str) -> dict[str, Any]:
    if rating not in RATINGS:
        raise UsageError(f"rating '{rating}': use one of {', '.join(RATINGS)}")
    record = kb.update_record(paper, lambda p: setattr(p, "rating", None if rating == "none" else rating))
    return {"id": record.id, "title": record.title, "rating": record.rating}


def paper_markdown(kb: KnowledgeBase, paper_id: str) -> str:
    """A paper as Markdown with YAML front matter (as `export --per-paper` writes it)."""
    from ..exporters.markdown import paper_note

    return paper_note(kb.get(paper_id), kb.export_context())


def instructions(kb: KnowledgeBase) -> str:
    """What the server tells an assistant about this knowledge base."""
    papers = kb.papers()
    try:
        saved = kb.theme_service.saved()
        labels = "; ".join(t.label for t in saved.themes[:8])
        about = f" Its {saved.k} themes include: {labels}."
    except LitkbError:
        about = ""
    size = plural(len(papers), "research paper")
    return (
        f"litkb: the user's own literature knowledge base of {size} (titles, "
        f"abstracts, their tags, notes and reading status).{about} Search it before answering questions "
        "about papers the user has; cite with `export`; read one paper in full with `get_paper` or the "
        "resource litkb://paper/<id>."
    )
