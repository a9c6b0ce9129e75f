"""A paper's attached files as the interfaces read them: the file itself (only a file of the knowledge
base: under its `files/` folder, or a linked file that is still the one attached) and its text by page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, NotFoundError
from ..models import Paper
from .files import FILES_DIR
from .pages import ExtractedText, load_text
from .reading import digest


@dataclass
class PaperText:
    """The attached files of `paper` in the knowledge base at `root`."""

    root: Path
    paper: Paper

    def entry(self, number: int) -> dict[str, Any]:
        """The record's entry of file `number` (0-based), or an error naming what there is."""
        files = self.paper.files
        if not files:
            raise NotFoundError(f"'{self.paper.title[:60]}' has no attached file")
        if not 0 <= number < len(files):
            raise NotFoundError(
                f"'{self.paper.title[:60]}' has {len(files)} attached file(s); no file {number}"
            )
        return files[number]

    def path(self, number: int = 0) -> Path:
        """Where file `number` is, checked: a copied file must lie inside the knowledge base's `files/`
        (no `..`, no link out of it), a linked file must still be the file attached (its size and digest);
        anything else is refused, as is a file that is gone."""
        entry = self.entry(number)
        recorded = Path(str(entry.get("path") or ""))
        if entry.get("linked"):
            path = recorded if recorded.is_absolute() else self.root / recorded
            if not path.is_file() or digest(path)[0] != entry.get("sha256"):
                raise NotFoundError(f"{path}: the linked file is gone or has changed since it was attached")
            return path
        base = (self.root / FILES_DIR).resolve()
        path = (self.root / recorded).resolve()
        if recorded.is_absolute() or not path.is_relative_to(base):
            raise InputError(f"{recorded}: not a file of the knowledge base's {FILES_DIR}/ folder")
        if not path.is_file():
            raise NotFoundError(f"{path}: the attached file is missing")
        return path

    def text(self, number: int = 0) -> ExtractedText | None:
        """The cached text of file `number` (None when it was not extracted)."""
        return load_text(self.root, str(self.entry(number).get("sha256") or ""))

    def pages(
        self, first: int = 1, last: int | None = None, max_chars: int = 20_000, number: int = 0
    ) -> dict[str, Any]:
        """Pages `first` to `last` (1-based, inclusive; default: to the end) of file `number`'s text, cut
        at `max_chars` in all (`truncated` says so)."""
        text = self.text(number)
        if text is None:
            raise NotFoundError(
                f"the text of '{self.paper.title[:60]}' is not extracted yet; run `litkb attach` again"
            )
        total = len(text.pages)
        last = total if last is None else last
        if first < 1 or last < first or first > total:
            raise InputError(f"pages {first}..{last}: '{self.paper.title[:60]}' has pages 1..{total}")
        shown: list[dict[str, Any]] = []
        left = max_chars
        truncated = False
        for page in range(first, min(last, total) + 1):
            body = text.page(page)
            if len(body) > left:
                body, truncated = body[:left], True
            shown.append({"page": page, "text": body})
            left -= len(body)
            if left <= 0:
                truncated = truncated or page < min(last, total)
                break
        return {"id": self.paper.id, "title": self.paper.title, "pages": shown, "page_count": total,
                "status": text.status, "truncated": truncated}  # fmt: skip
