"""Zotero databases for the tests, built here with the tables and columns of Zotero's own schema.

The names and types of the tables and columns are those of Zotero's `resource/schema/userdata.sql` (the
facts of its file format); the SQL below is written here, not copied. Three versions are built:

- `6`: Zotero 6.0 (userdata 121, global schema 28): `citationKey` is a field of preprints only, Better
  BibTeX keeps its keys in a LokiJS store (table `better-bibtex`) and pins them in extra.
- `7`: Zotero 7.0 (userdata 123, global schema 31): the same tables (one more index), Better BibTeX 6.7+
  keeps its keys in a table `citationkey`.
- `10`: Zotero 10 (userdata 129; global schema 41 or later): `citationKey` is a field of every item type
  (since Zotero 8), annotations gain `textNormalized` and `commentNormalized`, and Zotero runs the
  database in WAL mode (a test turns that on).
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
from pathlib import Path

ITEM_TYPES = [
    "annotation", "attachment", "note", "book", "bookSection", "journalArticle", "conferencePaper",
    "preprint", "thesis", "report", "webpage", "magazineArticle", "computerProgram",
]  # fmt: skip
FIELDS = [
    "title", "abstractNote", "date", "DOI", "url", "extra", "publicationTitle", "proceedingsTitle",
    "bookTitle", "volume", "issue", "pages", "publisher", "university", "institution", "place",
    "language", "ISBN", "ISSN", "edition", "series", "archiveID", "repository", "number", "reportNumber",
    "type", "thesisType", "reportType", "websiteTitle", "accessDate", "libraryCatalog", "shortTitle",
    "conferenceName", "citationKey", "versionNumber",
]  # fmt: skip
# (item type, specific field, base field): Zotero's base-field mappings that the tests use.
BASE_MAPPINGS = [
    ("conferencePaper", "proceedingsTitle", "publicationTitle"),
    ("bookSection", "bookTitle", "publicationTitle"),
    ("webpage", "websiteTitle", "publicationTitle"),
    ("thesis", "university", "publisher"),
    ("thesis", "thesisType", "type"),
    ("report", "institution", "publisher"),
    ("report", "reportNumber", "number"),
    ("report", "reportType", "type"),
    ("preprint", "repository", "publisher"),
    ("preprint", "archiveID", "number"),
]
CREATOR_TYPES = ["author", "contributor", "editor", "translator", "seriesEditor", "bookAuthor", "programmer"]
PRIMARY = {"computerProgram": "programmer"}  # every other type's primary creator type is author
USERDATA = {"6": 121, "7": 123, "10": 129}
GLOBAL = {"6": 28, "7": 31, "10": 41}

_TABLES = """
CREATE TABLE version (schema TEXT PRIMARY KEY, version INT NOT NULL);
CREATE TABLE settings (setting TEXT, key TEXT, value, PRIMARY KEY (setting, key));
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
  filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0, storageVersion INT NOT NULL DEFAULT 0,
  lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0);
CREATE TABLE groups (groupID INTEGER PRIMARY KEY, libraryID INT NOT NULL UNIQUE, name TEXT NOT NULL,
  description TEXT NOT NULL, version INT NOT NULL);
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT,
  display INT DEFAULT 1);
CREATE TABLE itemTypesCombined (itemTypeID INT NOT NULL, typeName TEXT NOT NULL,
  display INT DEFAULT 1 NOT NULL,
  custom INT NOT NULL, PRIMARY KEY (itemTypeID));
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE fieldsCombined (fieldID INT NOT NULL, fieldName TEXT NOT NULL, label TEXT, fieldFormatID INT,
  custom INT NOT NULL, PRIMARY KEY (fieldID));
CREATE TABLE baseFieldMappings (itemTypeID INT, baseFieldID INT, fieldID INT,
  PRIMARY KEY (itemTypeID, baseFieldID, fieldID));
CREATE TABLE baseFieldMappingsCombined (itemTypeID INT, baseFieldID INT, fieldID INT,
  PRIMARY KEY (itemTypeID, baseFieldID, fieldID));
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE itemTypeCreatorTypes (itemTypeID INT, creatorTypeID INT, primaryField INT,
  PRIMARY KEY (itemTypeID, creatorTypeID));
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
  dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL,
  key TEXT NOT NULL,
  version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT,
  charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT,
  lastProcessedModificationTime INT);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL,
  PRIMARY KEY (itemID, tagID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
  UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL,
  creatorTypeID INT NOT NULL DEFAULT 1,
  orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
  UNIQUE (itemID, orderIndex));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
  parentCollectionID INT DEFAULT NULL, clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
  UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL,
  orderIndex INT NOT NULL DEFAULT 0,
  PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
CREATE TABLE deletedCollections (collectionID INTEGER PRIMARY KEY,
  dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
"""
_ANNOTATIONS = """
CREATE TABLE itemAnnotations (itemID INTEGER PRIMARY KEY, parentItemID INT NOT NULL, type INTEGER NOT NULL,
  authorName TEXT, text TEXT, {normalized_text}comment TEXT, {normalized_comment}color TEXT, pageLabel TEXT,
  sortIndex TEXT NOT NULL, position TEXT NOT NULL, isExternal INT NOT NULL);
"""
_KEY_LETTERS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"  # Zotero's key alphabet


class ZoteroLibrary:
    """A Zotero data folder (`zotero.sqlite`, `storage/`) built item by item."""

    def __init__(self, folder: Path, version: str = "7", seed: int = 0) -> None:
        self.folder = folder
        self.version = version
        self.path = folder / "zotero.sqlite"
        folder.mkdir(parents=True, exist_ok=True)
        self.random = random.Random(seed)
        self.batch = False  # True: commit only on close (a large library built fast)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(_TABLES)
        newer = version == "10"
        self.db.executescript(
            _ANNOTATIONS.format(
                normalized_text="textNormalized TEXT, " if newer else "",
                normalized_comment="commentNormalized TEXT, " if newer else "",
            )
        )
        self.db.executemany(
            "INSERT INTO version VALUES (?, ?)",
            [("userdata", USERDATA[version]), ("globalSchema", GLOBAL[version]), ("system", 32)],
        )
        self.db.execute("INSERT INTO settings VALUES ('account', 'localUserKey', 'AbCd1234')")
        self.db.execute(
            "INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)"
        )
        self.types = {name: i + 1 for i, name in enumerate(ITEM_TYPES)}
        self.fields = {name: i + 1 for i, name in enumerate(FIELDS)}
        self.creator_types = {name: i + 1 for i, name in enumerate(CREATOR_TYPES)}
        for name, tid in self.types.items():
            self.db.execute("INSERT INTO itemTypes VALUES (?, ?, NULL, 1)", (tid, name))
            self.db.execute("INSERT INTO itemTypesCombined VALUES (?, ?, 1, 0)", (tid, name))
            primary = self.creator_types[PRIMARY.get(name, "author")]
            self.db.execute("INSERT INTO itemTypeCreatorTypes VALUES (?, ?, 1)", (tid, primary))
        for name, fid in self.fields.items():
            self.db.execute("INSERT INTO fields VALUES (?, ?, NULL)", (fid, name))
            self.db.execute("INSERT INTO fieldsCombined VALUES (?, ?, NULL, NULL, 0)", (fid, name))
        for type_name, specific, base in BASE_MAPPINGS:
            row = (self.types[type_name], self.fields[base], self.fields[specific])
            self.db.execute("INSERT INTO baseFieldMappings VALUES (?, ?, ?)", row)
            self.db.execute("INSERT INTO baseFieldMappingsCombined VALUES (?, ?, ?)", row)
        for name, cid in self.creator_types.items():
            self.db.execute("INSERT INTO creatorTypes VALUES (?, ?)", (cid, name))
        self._commit()

    def _commit(self) -> None:
        if not self.batch:
            self.db.commit()

    def key(self) -> str:
        return "".join(self.random.choice(_KEY_LETTERS) for _ in range(8))

    def _value(self, value: str) -> int:
        row = self.db.execute("SELECT valueID FROM itemDataValues WHERE value = ?", (value,)).fetchone()
        if row:
            return int(row[0])
        return int(self.db.execute("INSERT INTO itemDataValues (value) VALUES (?)", (value,)).lastrowid or 0)

    def group(self, library_id: int, group_id: int, name: str) -> None:
        self.db.execute(
            "INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (?, 'group', 1, 1)",
            (library_id,),
        )
        self.db.execute("INSERT INTO groups VALUES (?, ?, ?, '', 0)", (group_id, library_id, name))
        self._commit()

    def item(
        self,
        type_name: str,
        fields: dict[str, str] | None = None,
        creators: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
        tags: list[str] = (),  # type: ignore[assignment]
        key: str | None = None,
        library: int = 1,
        modified: str = "2024-01-02 03:04:05",
        single_field: bool = False,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO items (itemTypeID, dateAdded, dateModified, clientDateModified, libraryID, key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.types[type_name], modified, modified, modified, library, key or self.key()),
        )
        item_id = int(cursor.lastrowid or 0)
        for name, value in (fields or {}).items():
            self.set(item_id, name, value, touch=False)
        for order, (role, first, last) in enumerate(creators):
            mode = 1 if single_field else 0
            self.db.execute(
                "INSERT OR IGNORE INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)",
                (first, last, mode),
            )
            creator = self.db.execute(
                "SELECT creatorID FROM creators WHERE firstName = ? AND lastName = ? AND fieldMode = ?",
                (first, last, mode),
            ).fetchone()[0]
            self.db.execute(
                "INSERT INTO itemCreators VALUES (?, ?, ?, ?)",
                (item_id, creator, self.creator_types[role], order),
            )
        for tag in tags:
            self.tag(item_id, tag)
        self._commit()
        return item_id

    def set(
        self, item_id: int, name: str, value: str, touch: bool = True, modified: str = "2024-06-01 00:00:00"
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO itemData VALUES (?, ?, ?)",
            (item_id, self.fields[name], self._value(value)),
        )
        if touch:
            self.db.execute("UPDATE items SET dateModified = ? WHERE itemID = ?", (modified, item_id))
        self._commit()

    def tag(self, item_id: int, name: str, automatic: bool = False) -> None:
        self.db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", (name,))
        tag_id = self.db.execute("SELECT tagID FROM tags WHERE name = ?", (name,)).fetchone()[0]
        self.db.execute("INSERT OR IGNORE INTO itemTags VALUES (?, ?, ?)", (item_id, tag_id, int(automatic)))
        self._commit()

    def untag(self, item_id: int, name: str) -> None:
        self.db.execute(
            "DELETE FROM itemTags WHERE itemID = ? AND tagID = (SELECT tagID FROM tags WHERE name = ?)",
            (item_id, name),
        )
        self.db.execute("UPDATE items SET dateModified = '2024-07-01 00:00:00' WHERE itemID = ?", (item_id,))
        self._commit()

    def collection(self, name: str, parent: int | None = None, library: int = 1) -> int:
        cursor = self.db.execute(
            "INSERT INTO collections (collectionName, parentCollectionID, libraryID, key) "
            "VALUES (?, ?, ?, ?)",
            (name, parent, library, self.key()),
        )
        self._commit()
        return int(cursor.lastrowid or 0)

    def add(self, collection: int, item_id: int) -> None:
        self.db.execute("INSERT INTO collectionItems VALUES (?, ?, 0)", (collection, item_id))
        self._commit()

    def note(self, parent: int | None, html: str) -> int:
        item_id = self.item("note")
        self.db.execute("INSERT INTO itemNotes VALUES (?, ?, ?, '')", (item_id, parent, html))
        self._commit()
        return item_id

    def stored_pdf(
        self,
        parent: int | None,
        name: str = "paper.pdf",
        content: bytes = b"%PDF-1.4\n%%EOF\n",
        title: str = "Full Text PDF",
        write: bool = True,
    ) -> int:
        item_id = self.item("attachment", {"title": title})
        key = self.key_of(item_id)
        if write:
            folder = self.folder / "storage" / key
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        self.db.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
            "VALUES (?, ?, 0, ?, ?)",
            (item_id, parent, "application/pdf", f"storage:{name}"),
        )
        self._commit()
        return item_id

    def linked_file(self, parent: int, path: str, content_type: str = "application/pdf") -> int:
        item_id = self.item("attachment", {"title": Path(path).name})
        self.db.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
            "VALUES (?, ?, 2, ?, ?)",
            (item_id, parent, content_type, path),
        )
        self._commit()
        return item_id

    def annotation(self, attachment: int, kind: int, text: str, comment: str, page: str, order: str) -> int:
        item_id = self.item("annotation")
        columns = "itemID, parentItemID, type, text, comment, pageLabel, sortIndex, position, isExternal"
        self.db.execute(
            f"INSERT INTO itemAnnotations ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, '{{}}', 0)",
            (item_id, attachment, kind, text, comment, page, order),
        )
        self._commit()
        return item_id

    def trash(self, item_id: int) -> None:
        self.db.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (item_id,))
        self._commit()

    def key_of(self, item_id: int) -> str:
        return str(self.db.execute("SELECT key FROM items WHERE itemID = ?", (item_id,)).fetchone()[0])

    def bbt(self, keys: dict[str, str]) -> None:
        """Better BibTeX's database beside zotero.sqlite, in the layout of this Zotero version's BBT."""
        db = sqlite3.connect(self.folder / "better-bibtex.sqlite")
        if self.version == "6":
            db.execute('CREATE TABLE "better-bibtex" (name TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL)')
            rows = [{"itemKey": k, "libraryID": 1, "citekey": v, "pinned": False} for k, v in keys.items()]
            db.execute(
                'INSERT INTO "better-bibtex" VALUES (?, ?)',
                ("better-bibtex.citekey", json.dumps({"name": "citekey", "data": rows})),
            )
        else:
            db.execute(
                "CREATE TABLE citationkey (itemID NOT NULL PRIMARY KEY, itemKey NOT NULL, "
                "libraryID NOT NULL, citationKey NOT NULL, pinned)"
            )
            for number, (key, cite) in enumerate(keys.items()):
                db.execute("INSERT INTO citationkey VALUES (?, ?, 1, ?, 0)", (number, key, cite))
        db.commit()
        db.close()

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def random_words(rng: random.Random, n: int) -> str:
    return " ".join(
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(n)
    )
