"""An embedder that loads its model only when something must be embedded.

Loading the model takes 10–15 s here (importing torch and sentence-transformers, reading the
weights, hashing them into the fingerprint), far longer than rebuilding an unchanged corpus whose
vectors are all in the embedding cache; that rebuild needs only the fingerprint, to key the cache,
and the name and dimension, for the manifest. So these are remembered in ``models.json`` beside
the cache, under the identity of the model folder: the model setting, and every file's path, size
and modification time, the test ``make`` trusts. Replacing a weight file changes its size or
time, so the model is then loaded and its fingerprint computed afresh.

Should the model loaded later disagree with what was remembered (a file rewritten in place with
the same size and time), the build stops before anything is published and the record is
corrected, so the next build is right; a model that is not a local folder is always loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chuchu.corpus.errors import ModelError
from chuchu.index.embedder import DEFAULT_BACKEND, DEFAULT_MODEL, Embedder, load_embedder
from chuchu.index.onnx_backend import INT8

log = logging.getLogger(__name__)

MEMO = "models.json"
_REMEMBERED = 16  # models whose identity is kept; the oldest are forgotten


class LazyEmbedder:
    """An Embedder whose name, fingerprint and dimension may come from memory, the model loaded on first use."""

    def __init__(self, load: Callable[[], Embedder], identity: str | None, memo_dir: Path) -> None:
        self._load = load
        self._identity = identity
        self._memo = Path(memo_dir) / MEMO
        self._model: Embedder | None = None
        known = _read(self._memo).get(identity) if identity else None
        if known is None:
            model = self._loaded()
            known = {"name": model.name, "fingerprint": model.fingerprint, "dimension": model.dimension}
        self.name: str = known["name"]
        self.fingerprint: str = known["fingerprint"]
        self.dimension: int = int(known["dimension"])

    @property
    def loaded(self) -> bool:
        """Whether the model itself has been loaded."""
        return self._model is not None

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for passages; loads the model the first time."""
        return self._loaded().embed_passages(texts, batch_size=batch_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions; loads the model the first time."""
        return self._loaded().embed_queries(texts)

    def _loaded(self) -> Embedder:
        if self._model is not None:
            return self._model
        log.info("loading the embedding model")  # seconds of silence otherwise, before any progress
        model = self._load()
        if self._identity is not None:
            remember(self._memo.parent, self._identity, model)
        known = getattr(self, "fingerprint", None)
        if known is not None and (known, self.dimension) != (model.fingerprint, model.dimension):
            raise ModelError(
                f"The model {model.name!r} has fingerprint {model.fingerprint}, but {self._memo} remembered "
                f"{known} for its files (changed in place?); nothing was published and the record is "
                "corrected: run the build again."
            )
        self._model = model
        return model


def load_lazily(model: str, model_cache: Path, memo_dir: Path, backend: str = DEFAULT_BACKEND) -> LazyEmbedder:
    """The embedder the settings name, its model loaded only when something must be embedded."""
    if model == DEFAULT_MODEL:
        from chuchu.index.default_model import ensure_default_model

        folder: Path | None = ensure_default_model(model_cache)  # fast once converted
    else:
        folder = Path(model) if Path(model).is_dir() else None
    # torch and onnx share the model's fingerprint; int8 has one of its own (index.onnx_backend).
    setting = f"{model}\0{backend}" if backend == INT8 else model
    identity = folder_identity(setting, folder) if folder is not None else None
    return LazyEmbedder(lambda: load_embedder(model, model_cache, backend), identity, memo_dir)


def folder_identity(setting: str, folder: Path) -> str:
    """A hash of the model setting and of every file's path, size and modification time in the folder."""
    h = hashlib.sha256(f"{setting}\0{folder.resolve()}\0".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        h.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def remember(memo_dir: Path, identity: str, model: Embedder) -> None:
    """Record a loaded model's name, fingerprint and dimension under a folder identity."""
    path = Path(memo_dir) / MEMO
    memo = _read(path)
    memo.pop(identity, None)  # re-inserted last: the most recently used are the ones kept
    memo[identity] = {"name": model.name, "fingerprint": model.fingerprint, "dimension": model.dimension}
    memo = dict(list(memo.items())[-_REMEMBERED:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{MEMO}.{os.getpid()}")
        tmp.write_text(json.dumps(memo, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # only costs loading the model next time
        log.warning("cannot record the model's fingerprint in %s (%s)", path, exc)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s, which cannot be read (%s)", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, dict)
        and isinstance(v.get("name"), str)
        and isinstance(v.get("fingerprint"), str)
        and isinstance(v.get("dimension"), int)
    }
