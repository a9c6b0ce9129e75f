"""Reading a file of queries for `litkb search --queries`."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError


def read_queries(path: Path) -> list[tuple[str | int, str]]:
    """(query id, text) pairs: JSON Lines objects with `id` or `_id` and `text`, or one query per line
    (its id is then its line number). Blank lines are skipped."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    queries: list[tuple[str | int, str]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            text = obj.get("text") if isinstance(obj, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{path}:{line_no}: a JSON query needs a non-empty 'text'")
            query_id = obj.get("id", obj.get("_id", line_no))
            queries.append((query_id if isinstance(query_id, (str, int)) else str(query_id), text))
        else:
            queries.append((line_no, line.strip()))
    if not queries:
        raise InputError(f"{path}: no query in this file")
    return queries
