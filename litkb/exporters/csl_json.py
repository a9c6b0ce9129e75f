"""CSL JSON export: what Pandoc's citeproc and Zotero read (validated against the CSL-JSON schema)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..models import Paper
from ..names import split_name
from . import ExportContext, exporter, paper_url


def csl_item(paper: Paper, context: ExportContext) -> dict[str, Any]:
    extra = paper.extra
    journal = extra.get("journal") or extra.get("container-title")
    booktitle = extra.get("booktitle") or extra.get("venue")
    item: dict[str, Any] = {
        "id": context.citekeys.get(paper.id, paper.id),
        "type": "article-journal" if journal else ("paper-conference" if booktitle else "article"),
        "title": paper.title,
    }
    if paper.authors:
        authors = []
        for name in paper.authors:
            family, given = split_name(name)
            authors.append({"family": family, "given": given} if given else {"literal": family})
        item["author"] = authors
    if paper.date:
        item["issued"] = {"date-parts": [[int(part) for part in paper.date.split("-")]]}
    elif paper.year:
        item["issued"] = {"date-parts": [[paper.year]]}
    if isinstance(journal, str):
        item["container-title"] = journal
    elif isinstance(booktitle, str):
        item["container-title"] = booktitle
    if paper.abstract:
        item["abstract"] = paper.abstract
    if paper.doi:
        item["DOI"] = paper.doi
    url = paper_url(paper)
    if url:
        item["URL"] = url
    if paper.arxiv_id:
        item["number"] = f"arXiv:{paper.arxiv_id}"
        item["publisher"] = "arXiv"
    notes = []
    if paper.organization:  # who posted it (a Daily Papers entry), never an author
        if "publisher" in item:
            notes.append(f"posted by {paper.organization['name']}")
        else:
            item["publisher"] = paper.organization["name"]
    if paper.tags:
        item["keyword"] = ", ".join(paper.tags)
    if not paper.authors and paper.n_authors:
        plural = "s" if paper.n_authors != 1 else ""
        notes.append(f"{paper.n_authors} author{plural}; names not given in the source listing")
    if paper.extra.get("more_authors"):
        notes.append("more authors than listed")
    if notes:
        item["note"] = "; ".join(notes)
    if paper.citation_key:
        item["citation-key"] = paper.citation_key
    return item


@exporter("csl-json")
def to_csl_json(papers: Sequence[Paper], context: ExportContext) -> str:
    return json.dumps([csl_item(p, context) for p in papers], ensure_ascii=False, indent=2) + "\n"
