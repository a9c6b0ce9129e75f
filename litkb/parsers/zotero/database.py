"""Reading a Zotero database: opened read-only, its schema checked, its tables read into plain rows.

The file is opened through SQLite's `immutable=1` URI: no lock is taken (a running Zotero holds an
exclusive one) and nothing is written (no journal, no `-wal` file). Zotero 10 keeps its database in WAL
mode: while Zotero runs, its latest changes are in `zotero.sqlite-wal`, which an immutable read
would not see, so then both files are copied (a consistent read of each) and the copy is read.

Table and column names are those of Zotero's schema
(userdata versions 120-129: Zotero 6, 7 and later; `itemAnnotations` from Zotero 6 on, the `*Combined`
tables from Zotero 5.0.80 on); what this module reads is listed in `REQUIRED` and `OPTIONAL`.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InputError

# Tables (and the columns read from each) without which a file is not a Zotero database litkb can read.
REQUIRED = {
    "version": ("schema", "version"),
    "libraries": ("libraryID", "type"),
    "items": ("itemID", "itemTypeID", "libraryID", "key", "dateModified"),
    "itemData": ("itemID", "fieldID", "valueID"),
    "itemDataValues": ("valueID", "value"),
    "creators": ("creatorID", "firstName", "lastName", "fieldMode"),
    "itemCreators": ("itemID", "creatorID", "creatorTypeID", "orderIndex"),
    "creatorTypes": ("creatorTypeID", "creatorType"),
    "tags": ("tagID", "name"),
    "itemTags": ("itemID", "tagID"),
    "collections": ("collectionID", "collectionName", "parentCollectionID", "libraryID", "key"),
    "collectionItems": ("collectionID", "itemID"),
    "itemNotes": ("itemID", "parentItemID", "note"),
    "itemAttachments": ("itemID", "parentItemID", "linkMode", "contentType", "path"),
}
# Read where they are there: annotations (Zotero 6 on), the trash, groups, the type and field tables
# (`*Combined` since Zotero 5.0.80, else the plain ones), which creator type is an item type's primary one.
OPTIONAL = (
    "itemAnnotations", "deletedItems", "deletedCollections", "groups", "settings", "itemTypes",
    "itemTypesCombined", "fields", "fieldsCombined", "baseFieldMappings", "baseFieldMappingsCombined",
    "itemTypeCreatorTypes",
)  # fmt: skip
TESTED = (120, 129)  # the userdata schema versions litkb was tested with (Zotero 6.0 to 2026's Zotero)
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class Tables:
    """What litkb reads of a Zotero database, as plain Python values."""

    path: Path
    userdata: int | None = None
    item_types: dict[int, str] = field(default_factory=dict)
    fields: dict[int, str] = field(default_factory=dict)
    base_fields: dict[tuple[int, int], int] = field(default_factory=dict)  # (type, field) -> base field
    creator_types: dict[int, str] = field(default_factory=dict)
    primary_creator: dict[int, int] = field(default_factory=dict)  # item type -> its primary creator type
    libraries: dict[int, str] = field(default_factory=dict)  # libraryID -> "user" or "group/<groupID>"
    account: str = ""  # whose database: the Zotero user id once synced, else the database's local key
    group_names: dict[int, str] = field(default_factory=dict)  # libraryID -> the group's name
    items: list[tuple[int, int, int, str, str]] = field(default_factory=list)  # id, type, library, key, mod.
    deleted: set[int] = field(default_factory=set)
    data: dict[int, dict[int, str]] = field(default_factory=dict)  # itemID -> fieldID -> value
    creators: dict[int, list[tuple[int, str, str, int]]] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)
    collections: dict[int, tuple[str, int | None, int, str]] = field(default_factory=dict)
    deleted_collections: set[int] = field(default_factory=set)
    collection_items: dict[int, list[int]] = field(default_factory=dict)  # itemID -> collectionIDs
    notes: list[tuple[int, int | None, str]] = field(default_factory=list)
    attachments: list[tuple[int, int | None, int | None, str, str]] = field(default_factory=list)
    annotations: list[tuple[int, int, int, str, str, str, str]] = field(default_factory=list)


def looks_like_sqlite(path: Path) -> bool:
    """Whether a file starts as every SQLite database does."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the database at `path` that never writes there and takes no lock; errors name the
    file. Read in place (`immutable=1`), or, when a write-ahead log beside it holds changes not yet in the
    file (Zotero 10 keeps its database in WAL mode), from a copy of both (see `_wal_copy`)."""
    wal = path.with_name(path.name + "-wal")
    with tempfile.TemporaryDirectory(prefix="litkb-zotero-") as folder:
        if wal.is_file() and wal.stat().st_size > 0:
            uri = _wal_copy(path, wal, Path(folder)).as_uri()  # ours: SQLite may replay the log there
        else:
            uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
        with _connected(uri, path) as connection:
            yield connection


def _wal_copy(path: Path, wal: Path, folder: Path) -> Path:
    """The database and its write-ahead log copied into `folder`, the log read before and after: a
    checkpoint that started a new log meanwhile (its salt changed) means copying again (three tries)."""
    copy = folder / path.name
    for _ in range(3):
        try:
            before = _wal_header(wal)
            shutil.copyfile(path, copy)
            shutil.copyfile(wal, folder / wal.name)
            if _wal_header(wal) == before:
                break
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return copy


def _wal_header(wal: Path) -> bytes:
    try:
        with wal.open("rb") as file:
            return file.read(32)
    except FileNotFoundError:
        return b""


@contextmanager
def _connected(uri: str, path: Path) -> Iterator[sqlite3.Connection]:
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"{path}: cannot be opened as a database ({exc})") from None
    try:
        yield connection
    except sqlite3.Error as exc:
        raise InputError(f"{path}: {_explain(exc)}") from None
    except UnicodeDecodeError:  # SQLite's own message about a damaged schema, in broken bytes
        raise InputError(f"{path}: damaged (its schema cannot be read); close Zotero and try again") from None
    finally:
        connection.close()


def _explain(exc: sqlite3.Error) -> str:
    text = " ".join(str(exc).split())
    if "not a database" in text:
        return "not a SQLite database (damaged, or not Zotero's zotero.sqlite)"
    if "malformed" in text or "corrupt" in text:
        return f"damaged, or changed while it was read ({text}); close Zotero and try again"
    if "locked" in text or "busy" in text:
        return f"locked by another program ({text}); close Zotero and try again"
    return f"cannot be read ({text})"


def read_tables(path: Path) -> Tables:
    """Every table litkb needs from the database at `path`; an error naming it when it is not a Zotero
    database, or one whose schema litkb does not know."""
    tables = Tables(path=path)
    with open_read_only(path) as db:
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "items" not in present or "itemData" not in present:
            raise InputError(f"{path}: a SQLite database, but not a Zotero one (it has no items table)")
        tables.userdata = _userdata_version(db, present)
        for table, columns in REQUIRED.items():
            have = (
                {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')} if table in present else set()
            )
            missing = [c for c in columns if c not in have]
            if missing:
                what = f"table {table}" if not have else f"column {table}.{missing[0]}"
                raise InputError(
                    f"{path}: a Zotero database of a schema litkb does not know "
                    f"(userdata version {tables.userdata}; no {what})"
                )
        _read(db, present, tables)
    return tables


def _userdata_version(db: sqlite3.Connection, present: set[str]) -> int | None:
    if "version" not in present:
        return None
    row = db.execute("SELECT version FROM version WHERE schema = 'userdata'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def _rows(db: sqlite3.Connection, sql: str) -> Iterator[Any]:
    return iter(db.execute(sql))


def _read(db: sqlite3.Connection, present: set[str], t: Tables) -> None:
    types_table = "itemTypesCombined" if "itemTypesCombined" in present else "itemTypes"
    t.item_types = dict(_rows(db, f"SELECT itemTypeID, typeName FROM {types_table}"))
    fields_table = "fieldsCombined" if "fieldsCombined" in present else "fields"
    t.fields = dict(_rows(db, f"SELECT fieldID, fieldName FROM {fields_table}"))
    mapping = next((m for m in ("baseFieldMappingsCombined", "baseFieldMappings") if m in present), None)
    if mapping:
        sql = f"SELECT itemTypeID, fieldID, baseFieldID FROM {mapping}"
        t.base_fields = {(type_id, fid): base for type_id, fid, base in _rows(db, sql)}
    t.creator_types = dict(_rows(db, "SELECT creatorTypeID, creatorType FROM creatorTypes"))
    if "itemTypeCreatorTypes" in present:
        sql = "SELECT itemTypeID, creatorTypeID FROM itemTypeCreatorTypes WHERE primaryField = 1"
        t.primary_creator = dict(_rows(db, sql))
    t.account = _account(db, present)
    for library_id, kind in _rows(db, "SELECT libraryID, type FROM libraries"):
        if kind == "user":
            t.libraries[library_id] = "user"
    if "groups" in present:
        for library_id, group_id, name in _rows(db, "SELECT libraryID, groupID, name FROM groups"):
            t.libraries[library_id] = f"group/{group_id}"
            t.group_names[library_id] = str(name)
    t.items = [
        (item_id, type_id, library, str(key), str(modified))
        for item_id, type_id, library, key, modified in _rows(
            db, "SELECT itemID, itemTypeID, libraryID, key, dateModified FROM items ORDER BY itemID"
        )
        if library in t.libraries  # feeds and other kinds of library are not the user's papers
    ]
    if "deletedItems" in present:
        t.deleted = {row[0] for row in _rows(db, "SELECT itemID FROM deletedItems")}
    data: dict[int, dict[int, str]] = defaultdict(dict)
    sql = "SELECT d.itemID, d.fieldID, v.value FROM itemData d JOIN itemDataValues v ON v.valueID = d.valueID"
    for item_id, field_id, value in _rows(db, sql):
        if value is not None and str(value).strip():
            data[item_id][field_id] = str(value)
    t.data = data
    creators: dict[int, list[tuple[int, str, str, int]]] = defaultdict(list)
    sql = (
        "SELECT ic.itemID, ic.creatorTypeID, c.firstName, c.lastName, c.fieldMode FROM itemCreators ic "
        "JOIN creators c ON c.creatorID = ic.creatorID ORDER BY ic.itemID, ic.orderIndex"
    )
    for item_id, type_id, first, last, mode in _rows(db, sql):
        creators[item_id].append((type_id, first or "", last or "", mode or 0))
    t.creators = creators
    tags: dict[int, list[str]] = defaultdict(list)
    sql = "SELECT it.itemID, t.name FROM itemTags it JOIN tags t ON t.tagID = it.tagID ORDER BY 1, 2"
    for item_id, name in _rows(db, sql):
        if name and str(name).strip():
            tags[item_id].append(str(name).strip())
    t.tags = tags
    sql = "SELECT collectionID, collectionName, parentCollectionID, libraryID, key FROM collections"
    t.collections = {
        cid: (str(name), parent, lib, str(key)) for cid, name, parent, lib, key in _rows(db, sql)
    }
    if "deletedCollections" in present:
        t.deleted_collections = {row[0] for row in _rows(db, "SELECT collectionID FROM deletedCollections")}
    members: dict[int, list[int]] = defaultdict(list)
    for collection_id, item_id in _rows(db, "SELECT collectionID, itemID FROM collectionItems"):
        members[item_id].append(collection_id)
    t.collection_items = members
    t.notes = list(_rows(db, "SELECT itemID, parentItemID, note FROM itemNotes ORDER BY itemID"))
    sql = "SELECT itemID, parentItemID, linkMode, contentType, path FROM itemAttachments ORDER BY itemID"
    t.attachments = [(i, p, mode, ctype or "", path or "") for i, p, mode, ctype, path in _rows(db, sql)]
    if "itemAnnotations" in present:
        sql = (
            "SELECT itemID, parentItemID, type, text, comment, pageLabel, sortIndex FROM itemAnnotations "
            "ORDER BY parentItemID, sortIndex"
        )
        t.annotations = [
            (i, p, kind or 0, text or "", comment or "", label or "", order or "")
            for i, p, kind, text, comment, label, order in _rows(db, sql)
        ]


def _account(db: sqlite3.Connection, present: set[str]) -> str:
    """Whose database it is, as Zotero's own URIs say: `<userID>` once synced, else `local/<localUserKey>`
    (a random key Zotero makes for each database); empty when neither is recorded."""
    if "settings" not in present:
        return ""
    values = dict(_rows(db, "SELECT key, value FROM settings WHERE setting = 'account'"))
    if values.get("userID"):
        return str(values["userID"])
    if values.get("localUserKey"):
        return f"local/{values['localUserKey']}"
    return ""
