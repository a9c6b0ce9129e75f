"""The exported encoders: the knowledge base's model, exported to ONNX, run with onnxruntime and tokenizers.

A search must embed its query with the model that embedded the papers. Loading that model through
sentence-transformers costs about 4 s of imports (torch) before the query is read; onnxruntime and
tokenizers (both come with chromadb) start in about 0.3 s and give the same vectors (cosine similarity
above 0.9999, checked when the export is made and by the test suite).

Papers are embedded on the CPU with the same export, its weight matrices quantized to int8 (one scale per
output channel; the attention products between activations stay float): about twice as fast as the model
in float32, the vectors at a mean cosine of 0.994 to the float32 ones, and search quality unchanged (see
the README's Performance section for the measurement). Each text runs on its own, one per core at a time,
longest first. Batches would pad short texts to long ones, and the int8 model quantizes its activations
with one scale for the whole batch, so a text's vector would depend on the texts batched with it (cosine
0.972 at worst between the same sentence in two batches): alone, a text always gets the same vector, no
text is padded, and it runs as fast (300 arXiv abstracts, 1,822 texts: 6.05 s against 6.55-6.78 s in
batches of up to 2,048 tokens; a whole `litkb index` of 1,000 abstracts as long as before).

`litkb index` exports the model once, while it has it loaded anyway, into the index folder
(`index/encoder/`: `model.onnx`, `model.int8.onnx`, `tokenizer.json`, `encoder.json`). It is derived like
the rest of the index; when it is missing or was made for another model, searches and `litkb index` fall
back to sentence-transformers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LitkbError, first_line
from ..fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

INFO = "encoder.json"
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
MIN_COSINE = 0.9999
MIN_COSINE_INT8 = 0.97  # measured: 0.976 at worst over 5,496 arXiv passages, 0.994 on average
# Texts the export is checked on: short and long, punctuation, other scripts, over the 256-token limit.
CHECK_TEXTS = (
    "speculative decoding",
    "x",
    "Attention Is All You Need: the Transformer, based solely on attention mechanisms.",
    "Ünïcödé ﬁ ligatures, 数学 and математика in one query?!",
    " ".join(f"word{i} retrieval-augmented generation" for i in range(200)),
)


class OnnxEncoder:
    """Encodes texts with an exported model (`int8`: its quantized copy); the interface of the other
    embedders."""

    def __init__(
        self, directory: Path, info: dict[str, Any], int8: bool = False, repack: bool = True
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = str(info["model"])
        self.int8 = int8
        self._workers = os.cpu_count() or 1
        self._dim = int(info["dim"])
        self._inputs = list(info["inputs"])
        self._lowercase = bool(info.get("lowercase"))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        options.intra_op_num_threads = 1  # one thread a text; `encode` runs a text per core
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False  # plans kept per input shape: every length has its own
        if not repack:  # a few texts: opens 0.03-0.06 s sooner; repacked weights run many texts 5% faster
            options.add_session_config_entry("session.disable_prepacking", "1")
        self._session = onnxruntime.InferenceSession(
            str(directory / (INT8_FILE if int8 else MODEL_FILE)), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self._tokenizer.no_padding()  # each batch is padded here, to its own longest text

    @classmethod
    def load(cls, directory: Path, model: str, int8: bool = False, repack: bool = True) -> OnnxEncoder | None:
        """The encoder exported for `model` in `directory`, or None when there is none (or it is damaged);
        `repack`: its weights laid out for large batches when it opens (see `__init__`)."""
        try:
            info = json.loads((directory / INFO).read_text(encoding="utf-8"))
            if info.get("model") != model or (int8 and not info.get("int8")):
                return None
            return cls(directory, info, int8, repack)
        except FileNotFoundError:
            return None
        except Exception:  # a damaged export: searches fall back to the model itself
            return None

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def batch_size(self) -> int:
        return 256  # texts handed over at a time; the model runs them one by one

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        cleaned = [t.strip() for t in texts]
        if self._lowercase:
            cleaned = [t.lower() for t in cleaned]
        encodings = self._tokenizer.encode_batch(cleaned)
        # Longest first: the texts that take longest start first, so the cores finish together.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))

        def run(i: int) -> None:
            found = encodings[i]
            ids = np.asarray([found.ids], dtype=np.int64)
            given = {
                "input_ids": ids,
                "attention_mask": np.asarray([found.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([found.type_ids], dtype=np.int64),
            }
            out[i] = self._session.run(None, {name: given[name] for name in self._inputs})[0][0]

        if len(order) == 1 or self._workers == 1:
            for i in order:
                run(i)
        else:  # onnxruntime lets go of the GIL while it runs: one text per core
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self._workers) as pool:
                list(pool.map(run, order))
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def is_exported(directory: Path, model: str) -> bool:
    """Whether `directory` holds an export of `model` (without loading it)."""
    try:
        info = json.loads((directory / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("model") == model and (directory / MODEL_FILE).is_file()


def export(model: Any, name: str, directory: Path) -> None:
    """Export a loaded SentenceTransformer to `directory` (swapped in only when complete and checked
    against the model itself). Raises LitkbError when the model cannot be exported."""
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        info = _export(model, name, staging)
        expected = model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
        cosine = float((OnnxEncoder(staging, info).encode(CHECK_TEXTS) * expected).sum(axis=1).min())
        if cosine < MIN_COSINE:
            raise LitkbError(f"the exported model differs from the original (cosine {cosine:.6f})")
        info["int8"] = _quantize(staging, expected)
        atomic_write_text(staging / INFO, json.dumps(info, indent=2) + "\n")
    except LitkbError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LitkbError(f"cannot export '{name}' to ONNX: {first_line(exc)}") from exc
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


def _quantize(staging: Path, expected: Any) -> bool:
    """Save an int8 copy of the exported model for indexing; False (indexing then runs in float32) when
    it cannot be made or moves the check texts' vectors too far."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # its advice to pre-process the model, printed on stderr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                staging / MODEL_FILE,
                staging / INT8_FILE,
                per_channel=True,
                # 7-bit weights: no saturation in the 8-bit products of CPUs without VNNI, as fast, and
                # nearer the float32 vectors (mean cosine 0.9923 against 0.9911 over 400 full-text windows)
                reduce_range=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )
        logging.disable(logging.NOTSET)
        info = json.loads((staging / INFO).read_text(encoding="utf-8"))
        found = OnnxEncoder(staging, info, int8=True).encode(CHECK_TEXTS)
    except Exception:
        logging.disable(logging.NOTSET)
        (staging / INT8_FILE).unlink(missing_ok=True)
        return False
    if float((found * expected).sum(axis=1).min()) < MIN_COSINE_INT8:
        (staging / INT8_FILE).unlink(missing_ok=True)
        return False
    return True


@contextlib.contextmanager
def _eager_attention(model: Any) -> Iterator[None]:
    """The model's attention traced as plain products for the export. PyTorch's fused attention traces
    into a graph that guards against masked-out rows (Where, IsNaN: 8% of the int8 model's time), which
    texts run one at a time never have; the plain graph gives the same vectors (cosine 0.9999999) and
    embeds full-text passages 12% faster (measured here on 400 windows of the development PDFs)."""
    configs: list[Any] = [getattr(module, "config", None) for module in model.modules()]
    found = [c for c in configs if hasattr(c, "_attn_implementation")]
    before = [c._attn_implementation for c in found]
    for config in found:  # a model whose attention cannot be switched is exported as it is
        with contextlib.suppress(Exception):
            config._attn_implementation = "eager"
    try:
        yield
    finally:
        for config, value in zip(found, before, strict=True):
            with contextlib.suppress(Exception):
                config._attn_implementation = value


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
    with torch.no_grad(), warnings.catch_warnings(), _eager_attention(model):
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
