"""Better BibTeX's citation keys from its own database, `better-bibtex.sqlite` beside `zotero.sqlite`.

Two layouts are read: Better BibTeX 6.7.x and later for Zotero 7 keep a table `citationkey` (`itemID`,
`itemKey`, `libraryID`, `citationKey`, `pinned`); earlier versions kept a LokiJS store in a table
`better-bibtex` (`name`, `data`), whose row `better-bibtex.citekey` holds the keys as JSON (`data`: a list
of `{itemKey, libraryID, citekey, pinned}`). Once Better BibTeX has moved its keys into Zotero's own
`citationKey` field (Zotero 8 has it for every item type) it renames the file `better-bibtex.migrated`,
and the keys are read from Zotero's database instead.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ...errors import InputError
from .database import open_read_only

FILE = "better-bibtex.sqlite"


def read_keys(data_dir: Path) -> tuple[dict[tuple[int, str], str], str | None]:
    """(libraryID, item key) -> citation key from Better BibTeX's database in `data_dir` (empty when
    there is none), and a warning when it is there but cannot be read."""
    path = data_dir / FILE
    if not path.is_file():
        return {}, None
    try:
        with open_read_only(path) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "citationkey" in tables:
                rows = db.execute("SELECT libraryID, itemKey, citationKey FROM citationkey")
                return {(int(lib), str(key)): str(cite) for lib, key, cite in rows if key and cite}, None
            if "better-bibtex" in tables:
                row = db.execute(
                    "SELECT data FROM \"better-bibtex\" WHERE name = 'better-bibtex.citekey'"
                ).fetchone()
                return _loki_keys(row[0] if row else None), None
    except (InputError, sqlite3.Error, ValueError, TypeError) as exc:
        return {}, f"{path}: Better BibTeX's keys could not be read ({exc}); keys from Zotero only"
    return {}, None


def _loki_keys(text: str | None) -> dict[tuple[int, str], str]:
    if not text:
        return {}
    data = json.loads(text)
    rows = data.get("data", []) if isinstance(data, dict) else []
    keys = {}
    for row in rows:
        if isinstance(row, dict) and row.get("itemKey") and row.get("citekey"):
            keys[(int(row.get("libraryID") or 1), str(row["itemKey"]))] = str(row["citekey"])
    return keys
