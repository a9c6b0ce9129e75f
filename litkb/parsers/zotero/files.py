"""Where a Zotero attachment's file is: stored files under the data folder's `storage/<attachment key>/`,
linked files at their absolute path or, written `attachments:<path>`, under the base directory that
Zotero's `prefs.js` names (`extensions.zotero.baseAttachmentPath`, set in Zotero's settings: Files and
Folders → Linked Attachment Base Directory).

`prefs.js` lives in Zotero's profile folder, not in the data folder: it is looked for where Zotero keeps
profiles on Linux, macOS and Windows (or at `$LITKB_ZOTERO_PREFS`), and the profile whose
`extensions.zotero.dataDir` is this data folder is the one read (a single profile is read as it is).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

# Zotero's link modes (Zotero.Attachments.LINK_MODE_*).
IMPORTED_FILE, IMPORTED_URL, LINKED_FILE, LINKED_URL, EMBEDDED_IMAGE = 0, 1, 2, 3, 4
STORAGE_PREFIX = "storage:"
BASE_PREFIX = "attachments:"
ENV_PREFS = "LITKB_ZOTERO_PREFS"
_PREF = re.compile(r'^\s*user_pref\(\s*"([^"]+)"\s*,\s*(.+?)\s*\)\s*;\s*$', re.MULTILINE)


@dataclass
class AttachmentFile:
    """A PDF attached to a Zotero item: where it is (or would be), and whether Zotero links it or stores
    it in its own `storage/` folder."""

    key: str  # the attachment item's key
    path: str  # absolute, resolved; empty when it cannot be known (an `attachments:` path, no base)
    linked: bool  # a linked file (Zotero keeps only its path), not one in Zotero's storage
    exists: bool
    title: str = ""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"key": self.key, "path": self.path, "linked": self.linked}
        if not self.exists:
            out["missing"] = True
        return out


def is_pdf(content_type: str, path: str) -> bool:
    return content_type.lower() == "application/pdf" or path.lower().endswith(".pdf")


def resolve(data_dir: Path, key: str, link_mode: int | None, path: str, base: Path | None) -> str | None:
    """The absolute path of an attachment's file; None for one that has no file (a link to a web page),
    "" for an `attachments:` path when the base directory is not known."""
    if link_mode in (IMPORTED_FILE, IMPORTED_URL, EMBEDDED_IMAGE):
        name = path.removeprefix(STORAGE_PREFIX)
        return str(data_dir / "storage" / key / name) if name else None
    if link_mode != LINKED_FILE or not path:
        return None
    if path.startswith(BASE_PREFIX):
        if base is None:
            return ""
        return str(base / path.removeprefix(BASE_PREFIX))
    return path


def read_prefs(path: Path) -> dict[str, object]:
    """The preferences a `prefs.js` sets (`user_pref("name", value);` lines), values decoded as JSON."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    prefs: dict[str, object] = {}
    for name, raw in _PREF.findall(text):
        try:
            prefs[name] = json.loads(raw)
        except ValueError:
            continue
    return prefs


def profile_prefs(home: Path | None = None) -> list[Path]:
    """Every Zotero profile's `prefs.js` on this machine (or the one `$LITKB_ZOTERO_PREFS` names)."""
    given = os.environ.get(ENV_PREFS)
    if given:
        return [Path(given).expanduser()]
    home = home or Path.home()
    roots = [
        home / ".zotero" / "zotero",
        home / "Library" / "Application Support" / "Zotero" / "Profiles",
    ]
    if os.environ.get("APPDATA"):
        roots.append(Path(os.environ["APPDATA"]) / "Zotero" / "Zotero" / "Profiles")
    found: list[Path] = []
    for root in roots:
        try:
            found += sorted(root.glob("*/prefs.js"))
        except OSError:
            continue
    return found


def base_directory(data_dir: Path) -> tuple[Path | None, str | None]:
    """The linked-attachment base directory for the data folder `data_dir`, and where it was read from
    (None, None when no profile names one)."""
    candidates = [(path, read_prefs(path)) for path in profile_prefs()]
    default = (Path.home() / "Zotero").resolve()
    wanted = data_dir.resolve()
    chosen = None
    for path, prefs in candidates:
        folder = prefs.get("extensions.zotero.dataDir")
        custom = prefs.get("extensions.zotero.useDataDir") and isinstance(folder, str)
        if (Path(str(folder)).expanduser().resolve() if custom else default) == wanted:
            chosen = (path, prefs)
            break
    if chosen is None and len(candidates) == 1:
        chosen = candidates[0]
    if chosen is None:
        return None, None
    base = chosen[1].get("extensions.zotero.baseAttachmentPath")
    if not isinstance(base, str) or not base.strip():
        return None, str(chosen[0])
    return Path(base).expanduser(), str(chosen[0])
