"""`litkb doctor`: check a knowledge base, say what is wrong, and rebuild what is derived from the records.

The records are the truth; everything under `index/` is derived from them. The doctor reads the
records, the manifest, the Chroma collection, the snapshot, the keyword index and the query encoder,
and compares them; it changes nothing. `repair` asks the index builder to rebuild the whole index from
the records (into `index.repair/`, swapped in only when complete: see `litkb.index.build`). A record that
cannot be read is never repaired: it is the truth, so the doctor names it for a person to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .errors import IndexDamagedError, LitkbError
from .index.build import IndexReport, Progress
from .index.keyword import keyword_hash
from .index.manifest import INDEX_SCHEMA
from .index.passages import vector_hash
from .wording import plural

if TYPE_CHECKING:
    from .kb import KnowledgeBase
    from .models import Paper

Level = Literal["ok", "warning", "problem"]
SHOWN = 5  # ids named in a finding


@dataclass
class Finding:
    level: Level
    area: str
    message: str
    repairable: bool = False  # `litkb doctor --repair` fixes it
    by_index: bool = False  # plain `litkb index` fixes it (no rebuild needed)


def diagnose(kb: KnowledgeBase) -> list[Finding]:
    """Everything the doctor checks, in order: records, manifest, vectors, snapshot, keywords, encoder."""
    found: list[Finding] = []
    papers, problems = kb.store.load_all()
    for problem in problems:
        found.append(Finding("problem", "records", f"{problem} (fix or remove this file by hand)"))
    found.append(Finding("ok", "records", f"{plural(len(papers), 'record')} read"))
    if kb.chroma_url is not None:
        try:
            kb.vectors.count()
        except LitkbError as exc:
            found.append(Finding("problem", "server", str(exc)))
            return found

    try:
        manifest = kb.vectors.read_manifest()
    except IndexDamagedError as exc:
        found.append(Finding("problem", "index", exc.reason, repairable=True))
        return found
    if manifest is None or not kb.vectors.chroma.exists():
        level: Level = "warning" if papers else "ok"
        found.append(
            Finding(
                level,
                "index",
                "no index yet (`litkb index` builds it)",
                repairable=bool(papers),
                by_index=True,
            )
        )
        return found
    if manifest.get("schema") != INDEX_SCHEMA or manifest.get("model") != kb.config.model:
        found.append(
            Finding(
                "problem",
                "index",
                f"built with model '{manifest.get('model')}' (schema {manifest.get('schema')}); "
                f"the knowledge base uses '{kb.config.model}' (schema {INDEX_SCHEMA})",
                repairable=True,
            )
        )
        return found

    read_only = kb.chroma_url is None and not _writable(kb.vectors.chroma.path)
    try:
        if read_only:
            # Opening Chroma writes to its database: on a read-only knowledge base, check what searches
            # read, the snapshot, and leave the store unopened.
            snapshot = kb.vectors.current_snapshot()
            if snapshot is None:
                found.append(
                    Finding(
                        "warning", "index", "read-only, and no current snapshot: the vectors were not checked"
                    )
                )
                return found + _keyword_and_encoder(kb, papers)
            have = snapshot.hash_map()
            count = snapshot.passage_count
            found.append(Finding("ok", "index", "read-only: checked through the passage snapshot"))
        else:
            have = kb.vectors.stored_hashes()
            count = kb.vectors.count()
            if count and not kb.vectors.probe():
                found.append(
                    Finding(
                        "problem",
                        "index",
                        f"the vector store holds {plural(count, 'passage vector')} but a search finds none",
                        repairable=True,
                    )
                )
        _, sample = kb.vectors.own_vectors(sorted(have)[:1]) if have else ([], None)
    except IndexDamagedError as exc:
        found.append(Finding("problem", "index", exc.reason, repairable=True))
        return found
    except LitkbError as exc:
        found.append(Finding("problem", "index", str(exc), repairable=True))
        return found
    dim = manifest.get("dim")
    if sample is not None and len(sample) and sample.shape[1] != dim:
        found.append(
            Finding(
                "problem",
                "index",
                f"vectors have {sample.shape[1]} dimensions, the manifest says {dim}",
                repairable=True,
            )
        )
    want = {p.id: vector_hash(kb.config.model, p) for p in papers}
    unreadable = {pid for pid in have if pid not in want and kb.store.exists(pid)}
    checks = [
        ("not in the index (`litkb index` adds them)", [pid for pid in want if pid not in have]),
        (
            "indexed from older text (`litkb index` updates them)",
            [pid for pid in want if pid in have and have[pid] not in ("", want[pid])],
        ),
        (
            "with passages missing, from an interrupted index (`litkb index` completes them)",
            [pid for pid in have if have[pid] == ""],
        ),
        (
            "in the index with no record (`litkb index` removes them)",
            [pid for pid in have if pid not in want and pid not in unreadable],
        ),
    ]
    in_step = True
    for what, ids in checks:
        if ids:
            in_step = False
            found.append(
                Finding(
                    "warning",
                    "index",
                    f"{plural(len(ids), 'paper')} {what}: {_some(ids)}",
                    repairable=True,
                    by_index=not read_only,
                )
            )
    if in_step:
        found.append(
            Finding(
                "ok",
                "index",
                f"{plural(len(have), 'paper')}, {plural(count, 'passage vector')}, in step with the records",
            )
        )
    if read_only:
        return found + _keyword_and_encoder(kb, papers)

    try:
        snapshot_hashes = kb.vectors.snapshot_hashes()
    except IndexDamagedError as exc:
        found.append(Finding("problem", "snapshot", exc.reason, repairable=True))
        snapshot_hashes = {}
    if kb.chroma_url is not None:
        found.append(Finding("ok", "server", f"collection '{kb.vectors.collection_name}' on {kb.chroma_url}"))
        if snapshot_hashes is None or snapshot_hashes != have:
            found.append(
                Finding(
                    "warning",
                    "server copy",
                    "the local copy of the server's vectors is out of date (searches ask the server, "
                    "slower; `litkb index` brings it up to date)",
                    repairable=True,
                    by_index=True,
                )
            )
        else:
            found.append(Finding("ok", "server copy", "the local copy of the server's vectors is current"))
    elif snapshot_hashes is None:
        found.append(
            Finding(
                "warning",
                "snapshot",
                "missing or out of date (searches go through Chroma; `litkb index` writes it)",
                repairable=True,
                by_index=True,
            )
        )
    elif snapshot_hashes and snapshot_hashes != have:
        found.append(Finding("problem", "snapshot", "differs from the Chroma collection", repairable=True))
    elif snapshot_hashes:
        found.append(Finding("ok", "snapshot", "matches the collection"))
    return found + _keyword_and_encoder(kb, papers)


def _keyword_and_encoder(kb: KnowledgeBase, papers: list[Paper]) -> list[Finding]:
    """The keyword index and the query encoder's findings."""
    found: list[Finding] = []
    keywords = kb.keywords.stored_hashes()
    if keywords != {p.id: keyword_hash(p) for p in papers}:
        found.append(
            Finding(
                "warning",
                "keywords",
                "the keyword index is missing or out of date (`litkb index` updates it)",
                repairable=True,
                by_index=True,
            )
        )
    else:
        try:
            kb.keywords.search("test", 1)
            found.append(Finding("ok", "keywords", plural(len(keywords), "paper")))
        except IndexDamagedError as exc:
            found.append(Finding("problem", "keywords", exc.reason, repairable=True))
        except LitkbError as exc:
            found.append(Finding("problem", "keywords", str(exc), repairable=True))

    if kb.parts.encoders.exported() is not None:
        found.append(Finding("ok", "encoder", "the exported query encoder loads"))
    elif not kb.config.model.startswith("hash:"):
        found.append(
            Finding("warning", "encoder", "no query encoder (searches load the model: slower)", True)
        )
    return found


def repair(kb: KnowledgeBase, progress: Progress | None = None) -> IndexReport:
    """Rebuild the index from the records (the builder's work: see `litkb.index.build`)."""
    return kb.repair_index(progress)


def _some(ids: list[str]) -> str:
    shown = ", ".join(sorted(ids)[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def summary(findings: list[Finding]) -> str:
    problems = sum(f.level == "problem" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if not problems and not warnings:
        return "the knowledge base is healthy"
    open_ = [f for f in findings if f.level != "ok"]
    hint = ""
    if open_ and all(f.by_index for f in open_):
        hint = "; `litkb index` fixes them"
    elif any(f.repairable for f in open_):
        hint = "; `litkb doctor --repair` rebuilds the index from the records"
    return f"{plural(problems, 'problem')}, {plural(warnings, 'warning')}{hint}"


def _writable(path: Path) -> bool:
    """Whether litkb may write there (Chroma writes even to read): the folder and its database."""
    database = path / "chroma.sqlite3"
    return os.access(path, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))
