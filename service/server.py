"""Serving the app with gunicorn, a production WSGI server."""

from __future__ import annotations

import errno
import gc
import logging
import os
import re
import shutil
import tempfile
from typing import Any

import gunicorn.http.message
import gunicorn.http.unreader
from gunicorn.app.base import BaseApplication

from chuchu.service.settings import Settings

# RFC 9112 wants non-ASCII bytes in a URL percent-encoded, and gunicorn rejects the request
# otherwise. Browsers encode; curl and scripts send a Chinese question as raw UTF-8, which is
# this service's main use. So bytes 0x80-0xFF (seen here as latin-1) are let through in the
# request target; spaces and control characters stay invalid. tests/integration/test_serve.py
# sends such a request, so a gunicorn that parses differently fails the suite, not users.
gunicorn.http.message.RFC9112_TARGET_INVALID = re.compile(r"[^\x21-\x7e\x80-\xff]")

log = logging.getLogger(__name__)

# gunicorn's threaded worker reads a request on a blocking socket with no deadline, so clients that
# stop mid-request (slowloris) hold every thread and the server answers no one until they leave.
# Each read of a request now waits at most this long; a client silent for longer is dropped as a
# reset connection, which gunicorn closes quietly (it logs other socket errors with a traceback).
# tests/integration/test_hostile_http.py stalls more clients than the server has threads.
REQUEST_READ_SECONDS = 5.0
_chunk = gunicorn.http.unreader.SocketUnreader.chunk


def _chunk_with_deadline(self: Any, size_hint: Any = None) -> bytes:
    self.sock.settimeout(REQUEST_READ_SECONDS)
    try:
        return _chunk(self, size_hint)  # type: ignore[no-any-return]
    except TimeoutError:
        raise ConnectionResetError(errno.ECONNRESET, "the client sent nothing for too long") from None


gunicorn.http.unreader.SocketUnreader.chunk = _chunk_with_deadline

# prometheus-client's variable: where each worker writes its metrics, for /metrics to add up.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        config = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": self.settings.workers,
            "threads": self.settings.threads,
            "worker_class": "gthread",
            # Loading the model takes seconds; the default 30 s timeout is kept for requests.
            "timeout": 120,
            "loglevel": self.settings.log_level.lower(),
            # The app writes its own access log, as JSON lines with the request id (service/access_log.py).
            "accesslog": None,
            # gunicorn's largest: a 1,000-character Chinese question percent-encoded is 9,000
            # bytes, over the 4,094 default. A longer one is better sent by POST /api/ask.
            "limit_request_line": 8190,
            "child_exit": _worker_exited,
            "pre_fork": _before_fork,
        }
        # gunicorn 25.1+ opens a control socket, by default in $HOME/.gunicorn, one path for every
        # server of the user: two `chuchu serve` would share it, and a run would write into $HOME.
        if "control_socket_disable" in self.cfg.settings:
            config["control_socket_disable"] = True
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Imported here, in the worker, after serve() has set PROMETHEUS_MULTIPROC_DIR:
        # prometheus-client decides at import whether it counts in files for all workers.
        from chuchu.service.app import create_app

        # Each worker builds its own app and loads the model and index before taking requests,
        # so the first question is as fast as the rest. The app is not preloaded in the master:
        # an ONNX Runtime session is not fork-safe, and each worker follows new builds on its own
        # (a build loaded in the master would stay there, unshared, once the workers moved on).
        # What does not change and forks safely (jieba's dictionary, the tokenizer) the master
        # loads before forking (preload_shared), and the workers share it.
        app = create_app(self.settings)
        live = app.extensions["chuchu"]
        live.warm_up()
        return app


def preload_shared(settings: Settings) -> None:
    """Load in the master what every worker needs read-only and can share after the fork.

    jieba's dictionary (~120 MB, index.question.reading) and the model's tokenizer (~280 MB,
    index.onnx_backend): forked from the master, the workers share these pages instead of each
    loading its own copy, and a worker that replaces a dead one starts sooner. Never the model's
    session, which each worker creates after the fork. A failure here only means the workers
    load these themselves.
    """
    try:
        from chuchu.index.embedder import preload_shared as preload_model_files
        from chuchu.index.question import reading

        reading.warm()
        preload_model_files(settings.model, settings.model_cache, settings.embedding_backend)
    except Exception as exc:  # the workers load it themselves and report what is wrong
        log.warning("could not preload the dictionary and tokenizer for the workers (%s)", exc)


def _before_fork(server: Any, worker: Any) -> None:
    """Move what the master has loaded out of the garbage collector's sight before forking, so that
    collections in the workers do not write to (and so copy) the pages they share with it."""
    gc.freeze()


def _worker_exited(server: Any, worker: Any) -> None:
    """A dead worker's gauges leave the sums (its counters and histograms stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until interrupted."""
    from chuchu.service import access_log

    access_log.configure()
    preload_shared(settings)
    # A new, empty directory for each start (files left by an earlier run would add its counts
    # to this one's), in the system's temporary directory, removed when serving stops.
    directory = tempfile.mkdtemp(prefix="chuchu-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    master = os.getpid()
    try:
        _Gunicorn(settings).run()
    finally:
        # gunicorn forks the workers from inside run(), so a worker that leaves (SystemExit) unwinds
        # this frame too. Only the master removes the directory: removed by a worker, it took the
        # files of the workers still answering, whose next new series failed (a 500 on a request
        # in flight while the server stopped, and on every request of a replacement worker).
        if os.getpid() == master:
            del os.environ[MULTIPROCESS_DIR]
            shutil.rmtree(directory, ignore_errors=True)
