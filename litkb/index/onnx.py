"""The query encoder: the indexing model, exported to ONNX, run with onnxruntime and tokenizers.

A search must embed its query with the model that embedded the papers. Loading that model through
sentence-transformers costs about 4 s of imports (torch) before the query is read; onnxruntime and
tokenizers (both come with chromadb) start in about 0.3 s and give the same vectors (cosine similarity
above 0.9999, checked when the export is made and by the test suite).

`litkb index` exports the model once, while it has it loaded anyway, into the index folder
(`index/encoder/`: `model.onnx`, `tokenizer.json`, `encoder.json`). It is derived like the rest of the
index; when it is missing or was made for another model, searches fall back to sentence-transformers.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LitkbError, first_line
from ..fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

INFO = "encoder.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MIN_COSINE = 0.9999
# Texts the export is checked on: short and long, punctuation, other scripts, over the 256-token limit.
CHECK_TEXTS = (
    "speculative decoding",
    "x",
    "Attention Is All You Need: the Transformer, based solely on attention mechanisms.",
    "Ünïcödé ﬁ ligatures, 数学 and математика in one query?!",
    " ".join(f"word{i} retrieval-augmented generation" for i in range(200)),
)


class OnnxQueryEncoder:
    """Encodes queries with an exported model; the same interface as the other embedders."""

    def __init__(self, directory: Path, info: dict[str, Any]) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = str(info["model"])
        self._dim = int(info["dim"])
        self._inputs = list(info["inputs"])
        self._lowercase = bool(info.get("lowercase"))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))

    @classmethod
    def load(cls, directory: Path, model: str) -> OnnxQueryEncoder | None:
        """The encoder exported for `model` in `directory`, or None when there is none (or it is damaged)."""
        try:
            info = json.loads((directory / INFO).read_text(encoding="utf-8"))
            if info.get("model") != model:
                return None
            return cls(directory, info)
        except FileNotFoundError:
            return None
        except Exception:  # a damaged export: searches fall back to the model itself
            return None

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def batch_size(self) -> int:
        return 64

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        rows = []
        for start in range(0, len(texts), batch_size):
            batch = [t.strip() for t in texts[start : start + batch_size]]
            if self._lowercase:
                batch = [t.lower() for t in batch]
            encodings = self._tokenizer.encode_batch(batch)
            fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
            feed = {
                name: np.asarray([getattr(e, fields[name]) for e in encodings], dtype=np.int64)
                for name in self._inputs
            }
            rows.append(self._session.run(None, feed)[0])
        if not rows:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = np.concatenate(rows).astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def export(model: Any, name: str, directory: Path) -> None:
    """Export a loaded SentenceTransformer to `directory` (swapped in only when complete and checked
    against the model itself). Raises LitkbError when the model cannot be exported."""
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        info = _export(model, name, staging)
        encoder = OnnxQueryEncoder(staging, info)
        expected = model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
        cosine = float((encoder.encode(CHECK_TEXTS) * expected).sum(axis=1).min())
        if cosine < MIN_COSINE:
            raise LitkbError(f"the exported model differs from the original (cosine {cosine:.6f})")
    except LitkbError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LitkbError(f"cannot export '{name}' to ONNX: {first_line(exc)}") from exc
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


def _export(model: Any, name: str, staging: Path) -> dict[str, Any]:
    import torch

    tokenizer = model.tokenizer
    inputs = [
        n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")
    ]

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    sample = tokenizer(["a query", "a somewhat longer query text"], padding=True, return_tensors="pt")
    args = tuple(sample[n].to(model.device) for n in inputs)
    staging.mkdir(parents=True)
    axes = {n: {0: "batch", 1: "tokens"} for n in inputs} | {"embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes; the result is checked
        torch.onnx.export(
            Wrapped().eval(),
            args,
            str(staging / MODEL_FILE),
            input_names=inputs,
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy: the model keeps its own
    fast.enable_truncation(max_length=int(model.max_seq_length))
    fast.enable_padding(
        pad_id=int(tokenizer.pad_token_id or 0), pad_token=str(tokenizer.pad_token or "[PAD]")
    )
    fast.save(str(staging / TOKENIZER_FILE))
    first = model[0] if len(model) else None
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    info = {
        "model": name,
        "dim": int(dimension()),
        "inputs": inputs,
        "lowercase": bool(getattr(first, "do_lower_case", False)),
        "max_tokens": int(model.max_seq_length),
    }
    atomic_write_text(staging / INFO, json.dumps(info, indent=2) + "\n")
    return info
