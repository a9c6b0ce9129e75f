"""The index's manifest (`index/manifest.json`): the model and dimension the vectors were made with, the
schema, how many papers and passage vectors the index holds, and its generation (a new one at every
change; the passage snapshot is tagged with it, so a snapshot out of step is never used)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ..errors import IndexDamagedError
from ..fsutil import atomic_write_text

INDEX_SCHEMA = 2  # 2: several passage vectors per paper
MANIFEST = "manifest.json"
CHANGING = "changing"  # the generation while the collection is being changed


class Manifest:
    def __init__(self, directory: Path) -> None:
        self.path = directory / MANIFEST

    def read(self) -> dict[str, Any] | None:
        """The manifest, None when there is none; an error when it cannot be read."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(
                f"{self.path}: the index manifest is damaged ({exc}); run `litkb doctor --repair`",
                reason=f"the index manifest is damaged ({exc})",
            ) from exc
        return data if isinstance(data, dict) else None

    def generation(self) -> str | None:
        """The current generation; None without a manifest or while the collection is being changed."""
        generation = (self.read() or {}).get("generation")
        return None if generation in (None, CHANGING) else str(generation)

    def write(self, model: str, dim: int, count: int, passages: int, generation: str | None = None) -> None:
        """Record what the index holds; a new generation unless one is given (the current one, kept)."""
        manifest = {
            "schema": INDEX_SCHEMA,
            "model": model,
            "dim": dim,
            "count": count,
            "passages": passages,
            "generation": generation or uuid.uuid4().hex,
        }
        atomic_write_text(self.path, json.dumps(manifest, indent=2) + "\n")

    def begin_change(self) -> None:
        """Say, before the collection is changed, that the snapshot no longer matches it."""
        manifest = self.read()
        if manifest is not None and manifest.get("generation") != CHANGING:
            manifest["generation"] = CHANGING
            atomic_write_text(self.path, json.dumps(manifest, indent=2) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
