"""Embedding on a Ray cluster, for `chuchu build --ray [ADDRESS]` (Ray is the optional extra ``chuchu[ray]``).

Ray Data sends the texts the embedding cache lacks through a pool of actors, each holding the
model, and the vectors come back batch by batch into the cache. The build then takes every
vector from the cache, as a local build takes the ones it embedded, so everything else about
the build (passages, lexical index, duplicates, vector index) is made exactly as locally.

Each row of the dataset is one batch of texts, formed as the local build forms them, so the
model sees the same batches with the same padding. Each actor loads the model the build names
(the default model is converted from its package on each node) and reports its fingerprint; a
vector from a different model is refused rather than cached under this model's key. The
cluster's Python environment needs chuchu installed, as Ray needs of any code it runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chuchu.corpus.errors import BuildError
from chuchu.index.cache import EmbeddingCache
from chuchu.index.embedder import DEFAULT_MODEL, Embedder, load_embedder, release_freed_memory

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (texts embedded so far, texts to embed)
LOCAL = "local"  # the --ray value that starts a cluster on this machine for the build
_CONNECT_SECONDS = 10


@dataclass(frozen=True)
class RayOptions:
    """Where and how to embed on Ray."""

    address: str = LOCAL  # a cluster's address (host:port, ray://host:port, auto), or LOCAL
    model: str = DEFAULT_MODEL  # the model setting each actor loads
    model_cache: Path = Path("var/models")
    actors: int | None = None  # model replicas; None: one per CPU of the cluster


def fill_cache(
    batches: list[list[str]],
    cache: EmbeddingCache,
    embedder: Embedder,
    options: RayOptions,
    progress: Progress | None = None,
) -> int:
    """Embed the texts of ``batches`` on the cluster into ``cache``, batch by batch; returns how many were embedded."""
    batches = [b for b in batches if b]
    total = sum(len(b) for b in batches)
    if not total:
        return 0
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        _connect(ray, options.address)
    try:
        actors = options.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        log.info("embedding %d texts on Ray (%d actors, %d batches)", total, actors, len(batches))
        rows = [{"batch": i, "texts": json.dumps(b, ensure_ascii=False)} for i, b in enumerate(batches)]
        batch_size = max(len(b) for b in batches)
        vectors = ray.data.from_items(rows).map_batches(
            _Embed,
            fn_constructor_args=(options.model, str(Path(options.model_cache).resolve()), batch_size),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
        )
        done = 0
        for row in vectors.iter_rows():
            batch = batches[int(row["batch"])]
            _check(row["fingerprint"], embedder)
            found = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(batch), -1)
            cache.put_many({cache.key(t): v for t, v in zip(batch, found)})  # checks the dimension
            done += len(batch)
            if progress is not None:
                progress(done, total)
        return done
    except BuildError:
        raise
    except Exception as exc:  # Ray raises many kinds (a dead actor, a lost node, a failed task)
        raise BuildError(f"Embedding on Ray at {options.address} failed ({exc}); the live index is unchanged.") from exc
    finally:
        if started:
            ray.shutdown()


class _Embed:
    """A Ray Data actor: the model, loaded once, embedding one batch per row."""

    def __init__(self, model: str, model_cache: str, batch_size: int) -> None:
        self.embedder = load_embedder(model, Path(model_cache))
        self.batch_size = batch_size

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = []
        for texts in rows["texts"]:
            vectors.append(self.embedder.embed_passages(json.loads(str(texts)), batch_size=self.batch_size).tobytes())
            release_freed_memory()
        return {
            "batch": rows["batch"],
            "vectors": np.array(vectors, dtype=object),
            "fingerprint": np.array([self.embedder.fingerprint] * len(vectors), dtype=object),
        }


def _check(fingerprint: Any, embedder: Embedder) -> None:
    if str(fingerprint) != embedder.fingerprint:
        raise BuildError(
            f"The Ray cluster's model has fingerprint {fingerprint}, this build's {embedder.name!r} has "
            f"{embedder.fingerprint}: the cluster loads other weights for the same setting. Install the same "
            "model (and chuchu) on every node."
        )


def _connect(ray: Any, address: str) -> None:
    # No usage reports: these machines reach package registries only, and a build should not phone home.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _reachable(address)
    settings: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == LOCAL:
            ray.init(**settings)
        else:
            ray.init(address=address, **settings)
    except Exception as exc:  # ConnectionError, a timeout, a version mismatch…
        raise BuildError(
            f"Cannot reach the Ray cluster at {address} ({exc}). Is it running (`ray status`)? A cluster with "
            "token authentication (local clusters have it by default since Ray 2.59) needs its token in the "
            "environment of `chuchu build`, as any Ray client does: RAY_AUTH_MODE=token, and "
            "RAY_AUTH_TOKEN=<the token> or RAY_AUTH_TOKEN_PATH=<a file holding it> (else ~/.ray/auth_token is read)."
        ) from exc
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # a line per stage otherwise; the build has its bar
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build shows its own
    context.preserve_order = False  # rows carry their batch number


def _reachable(address: str) -> None:
    """Fail in seconds when nothing listens at a host:port address; Ray itself retries for many minutes."""
    host, _, port = address.rpartition(":")
    if address in (LOCAL, "auto") or "://" in address or not port.isdigit():
        return  # started here, found by Ray, or a client-server address Ray reports on itself
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=_CONNECT_SECONDS).close()
    except OSError as exc:
        raise BuildError(
            f"Cannot reach the Ray cluster at {address} ({exc.strerror or exc}). Is it running (`ray status`)?"
        ) from exc


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part used, and an extra of its own
    except ImportError as exc:
        raise BuildError(
            "`--ray` needs Ray, which is not installed: pip install 'chuchu[ray]' (or 'ray[data]')."
        ) from exc
    return ray
