"""The store: build directories side by side, and a pointer naming the live one.

A build is written into ``builds/<id>.partial`` and renamed to ``builds/<id>`` when complete;
it goes live when the ``CURRENT`` pointer file is replaced with ``os.replace``, which is atomic.
A reader therefore always sees either the old build or the new one, never half of one, and a
build that dies half-way leaves only a ``.partial`` directory that nothing reads.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from corpus.errors import IndexCorrupt, IndexMissing

POINTER = "CURRENT"
PARTIAL = ".partial"


class Store:
    """A directory holding builds and the pointer to the live one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.builds = self.root / "builds"

    def live_id(self) -> str | None:
        """The id of the live build, or None when nothing has been published."""
        try:
            value = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return value or None

    def live_path(self) -> Path:
        """The directory of the live build; IndexMissing when there is none."""
        build_id = self.live_id()
        if build_id is None:
            raise IndexMissing(f"No index has been built at {self.root}; run `chuchu build` first.")
        path = self.builds / build_id
        if not path.is_dir():
            raise IndexCorrupt(
                f"{self.root / POINTER} names build {build_id!r}, but {path} does not exist; run `chuchu build` again."
            )
        return path

    def start(self) -> tuple[str, Path]:
        """A new build id and the empty working directory to write it into."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        build_id = f"{stamp}-{secrets.token_hex(3)}"
        work = self.builds / (build_id + PARTIAL)
        work.mkdir(parents=True)
        return build_id, work

    def publish(self, build_id: str) -> Path:
        """Make a finished working directory the live build, atomically."""
        work = self.builds / (build_id + PARTIAL)
        final = self.builds / build_id
        _fsync_tree(work)
        os.replace(work, final)
        tmp = self.root / f".{POINTER}.{build_id}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(build_id + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        return final

    def abandon(self, build_id: str) -> None:
        """Remove the working directory of a build that failed."""
        shutil.rmtree(self.builds / (build_id + PARTIAL), ignore_errors=True)


def _fsync_tree(directory: Path) -> None:
    """Flush a build's files to disk before it can go live, so a crash cannot publish zeros."""
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
