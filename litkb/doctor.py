"""`litkb doctor`: check a knowledge base, say what is wrong, and rebuild what is derived from the records.

The records are the truth; everything under `index/` is derived from them. The doctor reads the
records, the manifest, the Chroma collection, the snapshot, the keyword index and the query encoder,
and compares them. `repair` rebuilds the whole index from the records into `index.repair/`, and swaps
it in only when it is complete (a crash half-way leaves the old index where it was). A record that
cannot be read is never repaired: it is the truth, so the doctor names it for a person to fix.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import LitkbError
from .index import CHROMA_DIR, INDEX_SCHEMA
from .keyword import keyword_hash
from .passages import SCHEME

if TYPE_CHECKING:
    from .kb import IndexReport, KnowledgeBase, Progress

Level = Literal["ok", "warning", "problem"]
SHOWN = 5  # ids named in a finding


@dataclass
class Finding:
    level: Level
    area: str
    message: str
    repairable: bool = False  # `litkb doctor --repair` fixes it


def diagnose(kb: KnowledgeBase) -> list[Finding]:
    """Everything the doctor checks, in order: records, manifest, vectors, snapshot, keywords, encoder."""
    from .kb import content_hash

    found: list[Finding] = []
    papers, problems = kb.store.load_all()
    for problem in problems:
        found.append(Finding("problem", "records", f"{problem} (fix or remove this file by hand)"))
    found.append(Finding("ok", "records", f"{len(papers)} records read"))
    if kb.chroma_url is not None:
        try:
            kb.vectors.count()
        except LitkbError as exc:
            found.append(Finding("problem", "server", str(exc)))
            return found

    try:
        manifest = kb.vectors.read_manifest()
    except LitkbError as exc:
        found.append(Finding("problem", "index", str(exc), repairable=True))
        return found
    if manifest is None or (kb.chroma_url is None and not (kb.vectors.directory / CHROMA_DIR).is_dir()):
        level: Level = "warning" if papers else "ok"
        found.append(
            Finding(level, "index", "no index yet (`litkb index` builds it)", repairable=bool(papers))
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

    try:
        have = kb.vectors.stored_hashes()
        count = kb.vectors.count()
        _, sample = kb.vectors.own_vectors(sorted(have)[:1]) if have else ([], None)
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
    want = {p.id: content_hash(kb.config.model, f"{SCHEME}\x00{p.embedded_text()}") for p in papers}
    unreadable = {pid for pid in have if pid not in want and kb.store.exists(pid)}
    checks = [
        ("not in the index", [pid for pid in want if pid not in have]),
        (
            "indexed from older text",
            [pid for pid in want if pid in have and have[pid] not in ("", want[pid])],
        ),
        ("with passages missing (an interrupted index)", [pid for pid in have if have[pid] == ""]),
        ("in the index with no record", [pid for pid in have if pid not in want and pid not in unreadable]),
    ]
    in_step = True
    for what, ids in checks:
        if ids:
            in_step = False
            found.append(
                Finding("warning", "index", f"{len(ids)} papers {what}: {_some(ids)}", repairable=True)
            )
    if in_step:
        found.append(
            Finding("ok", "index", f"{len(have)} papers, {count} passage vectors, in step with the records")
        )

    snapshot = kb.vectors.snapshot_hashes()
    if kb.chroma_url is not None:
        found.append(Finding("ok", "server", f"collection '{kb.vectors.collection_name}' on {kb.chroma_url}"))
    elif snapshot is None:
        found.append(
            Finding("warning", "snapshot", "missing or out of date (searches go through Chroma)", True)
        )
    elif snapshot != have:
        found.append(Finding("problem", "snapshot", "differs from the Chroma collection", repairable=True))
    else:
        found.append(Finding("ok", "snapshot", "matches the collection"))

    keywords = kb.keywords.stored_hashes()
    if keywords != {p.id: keyword_hash(p) for p in papers}:
        found.append(Finding("warning", "keywords", "the keyword index is missing or out of date", True))
    else:
        try:
            kb.keywords.search("test", 1)
            found.append(Finding("ok", "keywords", f"{len(keywords)} papers"))
        except LitkbError as exc:
            found.append(Finding("problem", "keywords", str(exc), repairable=True))

    from .query_encoder import OnnxQueryEncoder

    if OnnxQueryEncoder.load(kb.encoder_dir, kb.config.model) is not None:
        found.append(Finding("ok", "encoder", "the exported query encoder loads"))
    elif not kb.config.model.startswith("hash:"):
        found.append(
            Finding("warning", "encoder", "no query encoder (searches load the model: slower)", True)
        )
    return found


def repair(kb: KnowledgeBase, progress: Progress | None = None) -> IndexReport:
    """Rebuild the index from the records into a new folder and swap it in when complete. On a Chroma
    server the collection is shared, so it is completed (what is missing or stale embedded again), not
    rebuilt from this copy of the records."""
    from .kb import KnowledgeBase

    if kb.chroma_url is not None:
        return kb.index(progress=progress)
    with kb.writing():
        live = kb.index_dir
        staging = live.with_name(live.name + ".repair")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        fresh = KnowledgeBase(kb.root, index_dir=staging)
        fresh.config = kb.config
        with contextlib.suppress(OSError):  # keep a good query encoder: no need to export it again
            from .query_encoder import OnnxQueryEncoder

            if OnnxQueryEncoder.load(kb.encoder_dir, kb.config.model) is not None:
                shutil.copytree(kb.encoder_dir, fresh.encoder_dir)
        report = fresh.index(rebuild=True, progress=progress)
        _forget_clients()
        old = live.with_name(f"{live.name}.old-{uuid.uuid4().hex[:8]}")
        if live.exists():
            live.rename(old)
        staging.rename(live)
        shutil.rmtree(old, ignore_errors=True)
    return report


def _forget_clients() -> None:
    """Chroma keeps one system per path in a process; after the swap the path holds another store."""
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


def _some(ids: list[str]) -> str:
    shown = ", ".join(sorted(ids)[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def summary(findings: list[Finding]) -> str:
    problems = sum(f.level == "problem" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if not problems and not warnings:
        return "the knowledge base is healthy"
    fixable = any(f.repairable and f.level != "ok" for f in findings)
    hint = "; `litkb doctor --repair` rebuilds the index from the records" if fixable else ""
    return f"{problems} problem(s), {warnings} warning(s){hint}"
