"""The extracted text of an attached file, kept per page in the derived cache (`.cache/text/<sha256>.json`).

The cache is rebuildable from the file and never part of the record. Pages are the file's physical pages,
1-based where a number is shown or taken (`pages[0]` is page 1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import CACHE_DIR
from ..fsutil import atomic_write_text

TEXT_DIR = "text"
FORMAT = 1  # a change of this layout is a new number; older cache files are extracted again

# What an extraction can end in; only "ok" has searchable text ("failed": the file could not be read, said
# once by the `litkb index` that tried, and not tried again until the cache is deleted).
STATUSES = ("ok", "no-text", "failed")


@dataclass
class ExtractedText:
    """One file's text: cleaned page texts and where its references section starts."""

    sha256: str
    extractor: str  # library and version, and litkb's cleaning version: "pypdfium2 4.30.0; litkb 1"
    pages: list[str]
    # (page number, 1-based; character offset in that page's text) where the references section starts.
    references_start: tuple[int, int] | None = None
    status: str = "ok"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        """The file's pages: as the PDF counts them (a file cut at the page limit has more than its
        text), else the pages of text."""
        return int(self.meta.get("page_count", len(self.pages)))

    def page(self, number: int) -> str:
        """The text of page `number` (1-based)."""
        return self.pages[number - 1]

    def in_references(self, number: int, offset: int = 0) -> bool:
        """Whether a place (page, offset) lies in the references section."""
        if self.references_start is None:
            return False
        return (number, offset) >= self.references_start

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ExtractedText | None:
        """The cached text, or None when the file is of another format or damaged (extract it again)."""
        try:
            data = json.loads(text)
            if data.pop("format", None) != FORMAT:
                return None
            start = data.get("references_start")
            data["references_start"] = tuple(start) if start is not None else None
            return cls(**data)
        except (ValueError, TypeError):
            return None


def text_path(root: Path, sha256: str) -> Path:
    """Where the text of the file with this digest is cached in the knowledge base at `root`."""
    return root / CACHE_DIR / TEXT_DIR / f"{sha256}.json"


def load_text(root: Path, sha256: str) -> ExtractedText | None:
    """The cached text of a file, or None when it is not cached (or the cache is stale or damaged)."""
    try:
        return ExtractedText.from_json(text_path(root, sha256).read_text(encoding="utf-8"))
    except OSError:
        return None


def save_text(root: Path, text: ExtractedText) -> None:
    """Cache a file's text (atomically: a reader never sees half a file)."""
    path = text_path(root, text.sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text.to_json())
