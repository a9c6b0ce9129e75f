"""The paper page's "Record" panel: every other field of a record as text a person reads, never Python's
`repr`: names as people write them (as `litkb show`), mappings (`extra`, `provenance`, `organization`)
as one line per key, `conflicts` as a table of each value and the input it came from. The template
escapes all of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import Paper
from ..names import display_name, display_names

HIDDEN = ("title", "abstract", "notes", "tags", "status", "rating", "schema")  # shown elsewhere on the page


@dataclass
class Conflict:
    """One value of a disputed field, with the input it came from; `shown` marks the record's value."""

    value: str
    source: str
    shown: bool


@dataclass
class Field:
    """A field of the record: plain `text`, or `pairs` (key, text) for a mapping, or `conflicts` (each
    disputed field with its values)."""

    name: str
    text: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, list[Conflict]]] = field(default_factory=list)


def record_fields(paper: Paper) -> list[Field]:
    """Every field of the record the page does not show elsewhere and that has a value, in record order."""
    shown = []
    for name, value in paper.to_dict().items():
        if name in HIDDEN or value in (None, [], {}, ""):
            continue
        if name == "authors":
            shown.append(Field(name, display_names(paper)))
        elif name == "sources":
            shown.append(Field(name, "; ".join(_source(s) for s in value)))
        elif name == "conflicts" and isinstance(value, dict):
            shown.append(Field(name, conflicts=_conflicts(value)))
        elif isinstance(value, dict):
            shown.append(Field(name, pairs=[(str(k), text(v, str(k))) for k, v in value.items()]))
        else:
            shown.append(Field(name, text(value, name)))
    return shown


def text(value: Any, name: str = "") -> str:
    """A value as words: lists joined (authors with `; `, as people write them), mappings as `key: value`
    pairs, yes/no for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if name == "authors" and all(isinstance(v, str) for v in value):
            return "; ".join(display_name(v) for v in value)
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {text(v, str(k))}" for k, v in value.items())
    return str(value)


def _source(source: Any) -> str:
    if isinstance(source, dict) and "file" in source:
        return f"{source['file']} ({source.get('format', '')})"
    return text(source)


def _conflicts(value: dict[str, Any]) -> list[tuple[str, list[Conflict]]]:
    """Each disputed field with its values; an entry not in litkb's shape (edited by hand) as one value."""
    groups = []
    for name, entry in value.items():
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            groups.append((str(name), [Conflict(text(entry, str(name)), "", False)]))
            continue
        rows = []
        for other in values:
            source = text(other.get("source"))
            rows.append(Conflict(text(other.get("value"), str(name)), source, source == entry.get("shown")))
        groups.append((str(name), rows))
    return groups
