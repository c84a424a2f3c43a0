"""The build lock: one build at a time per store.

The lock is ``fcntl.flock`` on ``<store>/LOCK``. The kernel drops a flock when the last file
descriptor on it is closed, which includes the process dying in any way, SIGKILL and OOM kill
included; a pid file would outlive a killed build and need a staleness guess (is that pid still
ours, or reused?) before the next build could run. flock, unlike ``fcntl.lockf``/POSIX record
locks, belongs to the open file description rather than the process, so two ``BuildLock``s in one
process also exclude each other. It is advisory and local: every writer must take it, and it does
not reach across machines sharing the store over NFS.

After acquiring, the holder writes its pid and start time into the file, so a build that finds
the lock taken can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from chuchu.corpus.errors import BuildError

LOCK = "LOCK"
_POLL_SECONDS = 0.1


class BuildLock:
    """An exclusive lock on a store; a context manager (``with BuildLock(root):``).

    ``with`` acquires without waiting unless ``acquire`` was called first, so
    ``with BuildLock(root).acquire(wait=True):`` waits.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, wait: bool = False, timeout: float | None = None) -> BuildLock:
        """Take the lock, or raise BuildError naming the holder.

        Without ``wait`` it fails at once when another build holds the lock; with ``wait`` it
        waits for it, for at most ``timeout`` seconds when given (forever when None).
        """
        if self._fd is not None:
            raise BuildError(f"This process already holds the build lock on {self.root}; release it first.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Opened, never replaced or deleted: the lock lives on the file's inode, and a process
            # that opened a since-replaced LOCK would lock a different file than everyone else.
            # os.open makes the descriptor non-inheritable, so a child process does not keep it.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BuildError(
                f"The build lock {self.path} cannot be opened ({exc.strerror or exc}); check that {self.root} "
                "is writable and that its disk has space."
            ) from exc
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Polled rather than a blocking flock, so a timeout can be honoured.
                    if not wait:
                        raise BuildError(
                            f"Another build is running on {self.root} ({self._holder(fd)}); wait for it or pass --wait."
                        ) from None
                    if deadline is not None and time.monotonic() >= deadline:
                        raise BuildError(
                            f"Another build is still running on {self.root} ({self._holder(fd)}) after "
                            f"waiting {timeout:g} seconds; wait longer or try again when it has finished."
                        ) from None
                    time.sleep(_POLL_SECONDS)
            _write_holder(fd)
        except BaseException:
            os.close(fd)  # closing also drops the lock if it was taken
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up; nothing happens when it is not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale holder left behind for a message to name
        except OSError:
            pass  # a stale holder in the file misleads a message, nothing more
        finally:
            os.close(fd)  # drops the flock

    def __enter__(self) -> BuildLock:
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    @staticmethod
    def _holder(fd: int) -> str:
        """Who holds the lock, as the holder wrote it; the holder may not have written yet."""
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode())
            return f"pid {int(data['pid'])}, started {data['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"


def _write_holder(fd: int) -> None:
    """Say who holds the lock, for the message of a build that finds it taken.

    Only a courtesy: the flock is the lock. On a full disk the write fails (the file was just
    emptied, and a page is needed again), and a build that cannot even say who it is must still
    run far enough to fail with the message that the disk is full, not with a traceback here.
    """
    holder = {"pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    except OSError:
        pass
