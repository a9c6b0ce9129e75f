"""The parts of a knowledge base's `index/` folder, opened together: the vector index (manifest, Chroma,
snapshot), the keyword index (`bm25/`), the encoders (the model and its export in `encoder/`) and the
full-text passages (`fulltext/`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .encoder import Encoders
from .fulltext import FullTextIndex
from .keyword import KeywordIndex
from .vectors import VectorIndex

KEYWORD_DIR = "bm25"
ENCODER_DIR = "encoder"
FULLTEXT_DIR = "fulltext"


@dataclass
class IndexParts:
    directory: Path
    vectors: VectorIndex
    keywords: KeywordIndex
    encoders: Encoders
    fulltext: FullTextIndex

    @classmethod
    def open(cls, directory: Path, collection: str, url: str | None, model: str, device: str) -> IndexParts:
        return cls(
            directory,
            VectorIndex(directory, collection, url, model),
            KeywordIndex(directory / KEYWORD_DIR),
            Encoders(model, device, directory / ENCODER_DIR),
            # the text cache is the knowledge base's (the index folder's parent, also for index.repair/)
            FullTextIndex(directory / FULLTEXT_DIR, directory.parent),
        )

    def elsewhere(self, directory: Path) -> IndexParts:
        """The same settings, in another folder (an index rebuilt there, then swapped in)."""
        vectors = self.vectors
        parts = IndexParts.open(directory, vectors.collection_name, vectors.url, vectors.model, "cpu")
        parts.encoders = self.encoders.elsewhere(directory / ENCODER_DIR)
        return parts
