"""The live index: the searcher over the store's current build, reloaded when it changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chuchu.corpus.errors import ChuchuError, IndexCorrupt, IndexMissing, IndexUnavailable
from chuchu.index.embedder import Embedder
from chuchu.index.search import Searcher
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store

log = logging.getLogger(__name__)


class LiveIndex:
    """Hands out a Searcher for the live build; loads the model once and each build once.

    The pointer file is looked at no more often than every ``check_every`` seconds, so a newly
    published build is picked up without a restart, and a request never costs more than a stat.
    A Searcher is immutable: a request that got one answers wholly from that build.

    One thread loads a new build while the others go on answering from the old one. A new build
    that cannot be loaded (damaged, or made by another model) is logged and not tried again until
    the pointer changes or ``reload`` is called; the old build goes on serving meanwhile, since
    failing every request would be worse than answering from the build before. For the same
    reason a service that starts (or a worker that restarts) on a live build that cannot be
    loaded serves the newest build before it that loads, and says so in the log.
    """

    def __init__(self, store: Store, load_embedder: Callable[[], Embedder], check_every: float = 2.0) -> None:
        self.store = store
        self._load_embedder = load_embedder
        self._embedder: Embedder | None = None
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self._check_every = check_every
        self._failed: str | None = None  # the build id that last failed to load
        self._lock = threading.Lock()  # guards loading the model
        self._loading = threading.Lock()  # one thread looks at the pointer and loads builds at a time

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder()
            return self._embedder

    @property
    def build_id(self) -> str | None:
        """The id of the build being served, None before one is loaded."""
        current = self._searcher
        return current.snapshot.build_id if current is not None else None

    @property
    def unloadable(self) -> str | None:
        """The live build that cannot be loaded while another one is served (an older build, or
        the one served before the pointer moved); None when the served build is the live one."""
        current, failed = self._searcher, self._failed
        return failed if current is not None and failed != current.snapshot.build_id else None

    def searcher(self) -> Searcher:
        """The Searcher for the live build; IndexUnavailable when there is none."""
        current = self._searcher
        if current is not None and time.monotonic() - self._checked < self._check_every:
            return current
        if current is None:
            with self._loading:  # nothing to answer from meanwhile: wait for the load
                return self._refresh(force=False)
        if not self._loading.acquire(blocking=False):
            return current  # another thread is looking; answer from the build we have
        try:
            return self._refresh(force=False)
        finally:
            self._loading.release()

    def reload(self) -> Searcher:
        """Look at the pointer now and load the live build if it changed, retrying one that failed.

        Raises IndexUnavailable when the live build cannot be loaded, saying which build goes on
        serving, if any.
        """
        with self._loading:
            return self._refresh(force=True)

    def warm_up(self) -> None:
        """Load the model and the live build now, so the first request is as fast as the rest."""
        try:
            self.searcher()
        except IndexUnavailable as exc:  # the service still starts, and answers 503 saying why
            log.warning("%s", exc.message)
            _ = self.embedder

    def _refresh(self, force: bool) -> Searcher:
        """Called holding ``_loading``."""
        current = self._searcher
        now = time.monotonic()
        live_id: str | None = None
        try:
            live = self.store.live_path()  # raises IndexMissing / IndexCorrupt
            live_id = live.name
            if current is not None and (current.snapshot.path == live or (live_id == self._failed and not force)):
                self._checked = now
                return current
            searcher = Searcher(read_snapshot(live), self.embedder)
        except Exception as exc:
            if current is None:
                # Nothing to go on serving: an older build that loads is better than 503s.
                fallback = self._fallback(live_id, exc)
                if fallback is None:
                    raise
                self._searcher, self._failed, self._checked = fallback, live_id or "(no live build)", now
                return fallback
            self._checked = now
            message = exc.message if isinstance(exc, ChuchuError) else repr(exc)
            serving = current.snapshot.build_id
            failed = live_id or "(no live build)"  # the pointer itself may be gone or unreadable
            if failed != self._failed or force:  # logged once, not on every check
                log.error("cannot load build %s, still serving build %s: %s", failed, serving, message)
            self._failed = failed
            if force:
                raise IndexCorrupt(f"{message} Still serving build {serving}.") from exc
            return current
        self._searcher, self._failed, self._checked = searcher, None, now
        log.info("serving build %s", searcher.snapshot.build_id)
        return searcher

    def _fallback(self, failed: str | None, exc: Exception) -> Searcher | None:
        """When nothing is served yet and the live build cannot be loaded: the newest build before it that loads.

        Only builds older than the live one are tried (all published ones when the pointer names
        a build that is gone): after a rollback, the builds newer than the live one are the ones
        it was rolled back from. None when no build loads, or none was ever published (the
        pointer missing, IndexMissing, means no build is live, not a damaged one).
        """
        if isinstance(exc, IndexMissing):
            return None
        failed = failed or self.store.live_id()  # a pointer naming a build that is gone
        builds = [b.build_id for b in self.store.list_builds()]
        older = builds[builds.index(failed) + 1 :] if failed in builds else builds
        message = exc.message if isinstance(exc, ChuchuError) else repr(exc)
        for build_id in older:
            try:
                searcher = Searcher(read_snapshot(self.store.builds / build_id), self.embedder)
            except Exception as other:
                reason = other.message if isinstance(other, ChuchuError) else repr(other)
                log.warning("cannot fall back to build %s either: %s", build_id, reason)
                continue
            log.error(
                "cannot load build %s, serving build %s instead, the newest before it that loads, until a "
                "build that loads is published: %s",
                failed or "(no live build)",
                build_id,
                message,
            )
            return searcher
        return None
