"""Embedders: the seam between chuchu and the model that turns text into vectors."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from chuchu.corpus.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
TORCH = "torch"
# The backend `make run` uses: ONNX Runtime, fp32 (index/onnx_backend.py). Measured here it embeds
# 2.5× as fast as torch on a quiet machine (3–4× on a busy one) with the same vectors, and a server
# that never imports torch is smaller.
DEFAULT_BACKEND = "onnx"
BACKENDS = (TORCH, "onnx", "onnx-int8")


class Embedder(Protocol):
    """Turns passages and questions into L2-normalised float32 vectors."""

    name: str
    fingerprint: str
    dimension: int

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model, with its query/passage prompts when it has them."""

    def __init__(self, model: object, name: str) -> None:
        self.model = model
        self.name = name
        self.dimension = int(model.get_embedding_dimension())  # type: ignore[attr-defined]
        prompts = getattr(model, "prompts", {}) or {}
        # e5-style models were trained with these prefixes; models without them get none.
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        self.fingerprint = _fingerprint(model)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for passages."""
        return self._encode(texts, self._passage_prompt, batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions."""
        return self._encode(texts, self._query_prompt, 32)

    def _encode(self, texts: Sequence[str], prompt: str | None, batch_size: int) -> np.ndarray:
        # sentence-transformers sorts each call's texts by length before batching, so a call of
        # many texts already gets length-sorted batches (index.cache hands it whole windows).
        vectors = self.model.encode(  # type: ignore[attr-defined]
            list(texts),
            prompt_name=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def release_freed_memory() -> None:
    """Hand memory freed by the model back to the operating system (glibc only; elsewhere nothing).

    Each batch allocates activations of another shape, and glibc keeps what is freed in its heap:
    embedding 3,500 passages grew a process by 380 MiB that it no longer used, and a 100× corpus
    by about 600 MiB. Trimming after each batch kept it flat (measured: 1,284 → 1,285 MiB), and
    costs far less than the batch.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_embedder(model: str, cache_dir: Path, backend: str = DEFAULT_BACKEND, spinning: bool = False) -> Embedder:
    """Load the default model (converted on first use) or any sentence-transformers model.

    ``backend`` runs it on torch through sentence-transformers, or on ONNX Runtime (``onnx``, the
    same vectors; ``onnx-int8``, quantized, other vectors) from an export made once into the
    model cache (index.onnx_backend). A model that is not a local folder runs on torch.
    ``spinning``: ONNX Runtime's threads stay awake within a call, for the only session on the
    machine (index.onnx_backend.OnnxEmbedder).
    """
    if backend not in BACKENDS:
        raise ModelError(f"The embedding backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}.")
    # Nothing may be fetched at run time: make the hub libraries fail fast instead of trying.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if model == DEFAULT_MODEL:
        from chuchu.index.default_model import DEFAULT_MODEL_NAME, ensure_default_model

        path, name = str(ensure_default_model(cache_dir)), DEFAULT_MODEL_NAME
    else:
        path, name = model, model
    if backend != TORCH and Path(path).is_dir():
        from chuchu.index.onnx_backend import INT8, OnnxEmbedder

        onnx = OnnxEmbedder(Path(path), cache_dir, name, quantized=backend == INT8, spinning=spinning)
        log.info("loaded model %s on ONNX Runtime (%d dimensions)", onnx.name, onnx.dimension)
        return onnx
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        # local_files_only: nothing is downloaded at run time, a hub name must already be cached.
        st = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many kinds for a bad model
        raise ModelError(
            f"The embedding model {model!r} cannot be loaded ({exc}). Set CHUCHU_MODEL to a "
            "sentence-transformers folder, a model already in the local Hugging Face cache, "
            f"or {DEFAULT_MODEL!r}."
        ) from exc
    log.info("loaded model %s (%d dimensions)", name, st.get_embedding_dimension())
    return SentenceTransformerEmbedder(st, name)


def preload_shared(model: str, cache_dir: Path, backend: str = DEFAULT_BACKEND) -> None:
    """Load, in a server's master before it forks, what its workers can share read-only.

    The tokenizer of an ONNX backend's model (about 280 MB) when the model has been prepared and
    exported already; never the model itself: ONNX Runtime sessions are not fork-safe, so each
    worker creates its own after the fork. Anything not ready is left for the workers to load.
    """
    if backend == TORCH:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if model == DEFAULT_MODEL:
        from chuchu.index.default_model import FOLDER_NAME, is_converted

        folder = Path(cache_dir) / FOLDER_NAME
        if not is_converted(folder):
            return
    else:
        folder = Path(model)
        if not folder.is_dir():
            return
    from chuchu.index.onnx_backend import preload_tokenizer

    if preload_tokenizer(folder, Path(cache_dir)):
        log.info("loaded the tokenizer of %s, to share with the workers", folder)


def _fingerprint(model: object) -> str:
    """A hash of every weight, the tokenizer vocabulary and the prompts.

    It tells whether an index was built by exactly this model: a changed weight changes the
    vectors, and vectors from two models must never be compared.
    """
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):  # type: ignore[attr-defined]
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None:
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    h.update(repr(sorted((getattr(model, "prompts", {}) or {}).items())).encode())
    return h.hexdigest()[:32]
