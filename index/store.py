"""The store: build directories side by side, and a pointer naming the live one.

A build is written into ``builds/<id>.partial`` and renamed to ``builds/<id>`` when complete;
it goes live when the ``CURRENT`` pointer file is replaced with ``os.replace``, which is atomic.
A reader therefore always sees either the old build or the new one, never half of one, and a
build that dies half-way leaves only a ``.partial`` directory that nothing reads.

Published builds are kept side by side, so going back is one more pointer replacement
(``point``, ``rollback``), and old ones are removed with ``prune``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chuchu.corpus.errors import BadInput, IndexCorrupt, IndexMissing, NotFound
from chuchu.index.manifest import MANIFEST

POINTER = "CURRENT"
PARTIAL = ".partial"
# What Store.start names a build: a UTC timestamp, so ids sort by age, and a random suffix.
_BUILD_ID = re.compile(r"\d{8}T\d{6}-\w+")


@dataclass(frozen=True)
class BuildInfo:
    """One published build, as listed by ``Store.list_builds``."""

    build_id: str
    path: Path
    live: bool
    manifest: dict[str, Any] = field(hash=False)  # manifest.json as read; {} when unreadable

    @property
    def built_at(self) -> str | None:
        """When the build finished (ISO 8601, UTC), if its manifest says."""
        value = self.manifest.get("built_at")
        return value if isinstance(value, str) else None

    @property
    def documents(self) -> int | None:
        """How many documents the build holds, if its manifest says."""
        value = self.manifest.get("documents")
        return value if isinstance(value, int) else None

    @property
    def passages(self) -> int | None:
        """How many passages the build holds, if its manifest says."""
        value = self.manifest.get("passages")
        return value if isinstance(value, int) else None

    @property
    def vectors(self) -> dict[str, Any]:
        """The vector index's kind and, if approximate, its measured recall (index.vectors); {} if unknown."""
        settings = self.manifest.get("settings")
        value = settings.get("vectors") if isinstance(settings, dict) else None
        return value if isinstance(value, dict) else {}

    @property
    def quality(self) -> dict[str, Any] | None:
        """The quality figures recorded with the build, if its manifest has any."""
        value = self.manifest.get("quality")
        return value if isinstance(value, dict) else None


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
        # The rename is only an entry in builds/: flush it before CURRENT may name the build,
        # or a power cut could leave a durable pointer to a directory that was never renamed.
        _fsync_dir(self.builds)
        try:
            self.point(build_id)
        except BaseException:
            # Unless the pointer was replaced after all (an interrupt just after), nothing names
            # the build (a full disk fails writing the pointer's new copy): back to .partial, for
            # abandon (or the next sweep) to remove, rather than a build that `chuchu builds`
            # lists though it never went live.
            if self.live_id() != build_id:
                os.replace(final, work)
            raise
        return final

    def abandon(self, build_id: str) -> None:
        """Remove the working directory of a build that failed."""
        shutil.rmtree(self.builds / (build_id + PARTIAL), ignore_errors=True)

    def list_builds(self) -> list[BuildInfo]:
        """The published builds (not ``.partial`` ones), newest first.

        Named ``list_builds`` because ``builds`` is the directory they live in.
        """
        live = self.live_id()
        try:
            entries = [p for p in self.builds.iterdir() if _BUILD_ID.fullmatch(p.name) and p.is_dir()]
        except FileNotFoundError:
            return []
        # Ids start with the UTC second the build started; builds are serialised by the build
        # lock, so two in one second are ordered by when their manifest was written.
        entries.sort(key=lambda p: (p.name[:15], _mtime_ns(p / MANIFEST), p.name), reverse=True)
        return [BuildInfo(p.name, p, p.name == live, _read_manifest(p)) for p in entries]

    def point(self, build_id: str) -> Path:
        """Make a published build the live one, atomically; NotFound when there is no such build."""
        path = self.builds / build_id
        if not _BUILD_ID.fullmatch(build_id) or not path.is_dir():
            raise NotFound(f"There is no published build {build_id!r} in {self.builds}; {self._available()}")
        tmp = self.root / f".{POINTER}.{build_id}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(build_id + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / POINTER)
        except BaseException:
            tmp.unlink(missing_ok=True)  # CURRENT is untouched; leave no half-written copy of it
            raise
        # Likewise make the replaced pointer itself durable, not just its contents.
        _fsync_dir(self.root)
        return path

    def rollback(self, build_id: str | None = None) -> str:
        """Make the given build live, or by default the newest one older than the live build.

        Returns the id that is live now.
        """
        if build_id is not None:
            self.point(build_id)
            return build_id
        live = self.live_id()
        builds = [b.build_id for b in self.list_builds()]
        if live is None:
            raise NotFound(
                f"No build is live at {self.root}, so there is none to roll back from; "
                f"name the build to make live. {self._available()}"
            )
        if live not in builds:
            raise NotFound(
                f"The live build {live!r} is not among the published builds in {self.builds}, so "
                f"there is no 'previous' one; name the build to make live. {self._available()}"
            )
        older = builds[builds.index(live) + 1 :]
        if not older:
            raise NotFound(
                f"The live build {live!r} is the oldest published build in {self.builds}; "
                "there is nothing older to roll back to."
            )
        self.point(older[0])
        return older[0]

    def prune(self, keep: int, protect: Collection[str] = ()) -> list[str]:
        """Remove the published builds beyond the newest ``keep``, never the live one nor those in ``protect``.

        Returns the ids removed. A reader holding a removed build in memory keeps working; one
        that has not yet loaded it will not find it, so keep at least the build that was live
        before the current one unless no service is running (``protect`` it when a rollback
        made it older than the newest ``keep``).
        """
        if keep < 0:
            raise BadInput(f"The number of builds to keep must be 0 or more, not {keep}.")
        removed = []
        for build in self.list_builds()[keep:]:
            if build.live or build.build_id in protect:
                continue
            # Renamed back to .partial first: a prune killed half-way then leaves a directory
            # that nothing reads and sweep_partials removes, never a half-deleted build that
            # list_builds offers and rollback could make live.
            doomed = self.builds / (build.build_id + PARTIAL)
            os.replace(build.path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(build.build_id)
        if removed:
            _fsync_dir(self.builds)
        return removed

    def sweep_partials(self) -> list[str]:
        """Remove the ``.partial`` directories of builds that were killed; returns their ids.

        Only safe while holding the build lock (index.lock.BuildLock): without it, the
        ``.partial`` directory of a build running right now would be deleted under it.
        Also removes pointer files left half-written by a killed ``point``.
        """
        removed = []
        if self.builds.is_dir():
            for path in sorted(self.builds.glob("*" + PARTIAL)):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name.removesuffix(PARTIAL))
        for tmp in self.root.glob(f".{POINTER}.*"):
            tmp.unlink(missing_ok=True)
        return removed

    def _available(self) -> str:
        ids = [b.build_id + (" (live)" if b.live else "") for b in self.list_builds()]
        return f"published builds: {', '.join(ids)}." if ids else "no build has been published; run `chuchu build`."


def _fsync_tree(directory: Path) -> None:
    """Flush a build's files to disk before it can go live, so a crash cannot publish zeros."""
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (creations, renames), where the platform allows it.

    fsync on a file makes its bytes durable, not its name: on Linux a rename survives a power
    cut only once the directory holding it is fsynced. Some platforms and file systems cannot
    open or fsync a directory; there the rename is as durable as the OS makes it.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
