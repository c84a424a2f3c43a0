"""Micro-batching: the questions of concurrent requests embedded together, in one model call.

One question costs the model ~8 ms on these machines, 16 at once ~60 ms (4 ms each): a batch is
cheaper per question, and a server thread answering one question at a time never makes one. So
a Searcher hands its questions to a ``QueryBatcher``. When the model is free, the asking thread
runs it at once on its own questions (one client: no waiting, no hand-over to another thread).
When the model is busy, the questions wait in a queue, and a thread of the batcher's own runs the
model on every question waiting as soon as it is free: under load, the questions that arrived
while the model ran form the next batch, so at 16 clients the model runs batches of several
questions instead of 16 calls that fight over the cores.

Nothing else runs beside the model on the asking thread's behalf: measured on these 2-core
machines, a thread doing the question's other work while ONNX Runtime's two threads ran made the
encode 2.6 ms slower (ONNX Runtime waits at each operator for a thread the scheduler had paused),
more than that work takes.

The batcher's thread is started on first need and ends after ``IDLE_SECONDS`` without a question
(so a Searcher no longer used can be collected); a process forked from one that had it (threads
do not survive fork) starts its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from chuchu.index.embedder import Embedder

log = logging.getLogger(__name__)

# Most questions one model call takes; a job (the questions of one request) is never split, so a
# larger one runs alone. 32: batches beyond it gain nothing measurable per question.
MAX_BATCH = 32
IDLE_SECONDS = 30.0


class Job:
    """Questions handed to the batcher: their vectors come in ``future``."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.future: Future[np.ndarray] = Future()
        self.done_at = 0.0  # time.perf_counter() when the vectors came

    def result(self) -> np.ndarray:
        """The questions' vectors, waiting for them; the model's exception when it failed."""
        return self.future.result()


class QueryBatcher:
    """Runs ``embedder.embed_queries`` for one question or for every question waiting at once."""

    def __init__(self, embedder: Embedder, max_batch: int = MAX_BATCH) -> None:
        self.embedder = embedder
        self.max_batch = max(1, int(max_batch))
        self._forked()
        self.batches = 0  # model calls made, and questions in them: for tests and benchmarks
        self.questions = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The questions' vectors: embedded now when the model is free, else with whatever else is waiting."""
        return self.submit(texts).result()

    def submit(self, texts: Sequence[str]) -> Job:
        """Embed the questions now on this thread if the model is free (the job is then done on
        return), else queue them for the batcher's thread."""
        job = Job(texts)
        if not job.texts:
            job.future.set_result(np.zeros((0, self.embedder.dimension), dtype=np.float32))
            return job
        if os.getpid() != self._pid:
            self._forked()
        with self._wake:
            here = not self._busy and not self._pending
            if here:
                self._busy = True  # this thread runs the model; whoever comes meanwhile waits in the queue
            else:
                self._pending.append(job)
                self._start_or_wake()
        if here:
            try:
                self._run([job])
            finally:
                with self._wake:
                    self._busy = False
                    if self._pending:
                        self._start_or_wake()
        return job

    def _forked(self) -> None:
        """Start afresh (and in a child process: the thread did not come along, and the lock may
        have been held by a thread that did not)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[Job] = []
        self._thread: threading.Thread | None = None
        self._busy = False
        self._pid = os.getpid()

    def _start_or_wake(self) -> None:
        """Called holding the lock."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="chuchu-query-batcher", daemon=True)
            self._thread.start()
        else:
            self._wake.notify()

    def _take(self) -> list[Job] | None:
        """The jobs of the next batch once the model is free; None when the thread is to end.
        Called holding the lock."""
        while self._busy or not self._pending:
            if not self._wake.wait(IDLE_SECONDS) and not self._pending and not self._busy:
                self._thread = None
                return None
        jobs, count = [], 0
        while self._pending and (not jobs or count + len(self._pending[0].texts) <= self.max_batch):
            job = self._pending.pop(0)
            jobs.append(job)
            count += len(job.texts)
        self._busy = True
        return jobs

    def _serve(self) -> None:
        while True:
            with self._wake:
                jobs = self._take()
            if jobs is None:
                return
            try:
                self._run(jobs)
            finally:
                with self._wake:
                    self._busy = False

    def _run(self, jobs: list[Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            vectors = self.embedder.embed_queries(texts)
        except BaseException as exc:  # handed to every asker; the batcher goes on for the next ones
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.batches += 1
        self.questions += len(texts)
        row, now = 0, time.perf_counter()
        for job in jobs:
            job.done_at = now
            job.future.set_result(vectors[row : row + len(job.texts)])
            row += len(job.texts)
