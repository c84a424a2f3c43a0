"""The live index: the searcher over the store's current build, reloaded when it changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from corpus.errors import IndexUnavailable
from index.embedder import Embedder
from index.search import Searcher
from index.snapshot import read_snapshot
from index.store import Store

log = logging.getLogger(__name__)


class LiveIndex:
    """Hands out a Searcher for the live build; loads the model once and each build once.

    The pointer file is looked at no more often than every ``check_every`` seconds, so a newly
    published build is picked up without a restart, and a request never costs more than a stat.
    A Searcher is immutable: a request that got one answers wholly from that build.
    """

    def __init__(self, store: Store, load_embedder: Callable[[], Embedder], check_every: float = 2.0) -> None:
        self.store = store
        self._load_embedder = load_embedder
        self._embedder: Embedder | None = None
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self._check_every = check_every
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder()
            return self._embedder

    def searcher(self) -> Searcher:
        """The Searcher for the live build; IndexUnavailable when there is none."""
        current = self._searcher
        now = time.monotonic()
        if current is not None and now - self._checked < self._check_every:
            return current
        live = self.store.live_path()  # raises IndexMissing / IndexCorrupt
        if current is not None and current.snapshot.path == live:
            self._checked = now
            return current
        embedder = self.embedder
        with self._lock:
            if self._searcher is None or self._searcher.snapshot.path != live:
                self._searcher = Searcher(read_snapshot(live), embedder)
                log.info("serving build %s", self._searcher.snapshot.build_id)
            self._checked = now
            return self._searcher

    def warm_up(self) -> None:
        """Load the model and the live build now, so the first request is as fast as the rest."""
        try:
            self.searcher()
        except IndexUnavailable as exc:  # the service still starts, and answers 503 saying why
            log.warning("%s", exc.message)
            _ = self.embedder
