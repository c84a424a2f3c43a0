"""What a build changes: documents and passages added, changed, removed, unchanged since the live build.

A passage is known by its file and the sha256 of the text the model embeds for it, so a passage
counts as unchanged exactly when its vector could be reused; one moved within its file (a line
inserted above it) is unchanged, since its offsets are not embedded. Within a file present in both
builds, a new passage text and a vanished one pair up as one "changed" passage (an edited
sentence), and what is left over counts as added or removed.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    """Counts of one kind of thing (documents or passages) between two builds."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Changes:
    """What a new build changes since ``since``, the build that was live (None: there was none)."""

    since: str | None
    documents: Tally
    passages: Tally


def text_sha(text: str) -> str:
    """The hash a passage is compared by: of the exact text embedded."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def compare(old: Iterable[tuple[str, str]] | None, new: Iterable[tuple[str, str]], since: str | None = None) -> Changes:
    """Compare two builds given as (file, text sha) per passage; ``old`` None when there was no build."""
    before = _by_file(old or ())
    after = _by_file(new)
    docs = Counter[str]()
    passages = Counter[str]()
    for file in before.keys() | after.keys():
        was, now = before.get(file, Counter()), after.get(file, Counter())
        kept = sum((was & now).values())
        gone, came = sum((was - now).values()), sum((now - was).values())
        changed = min(gone, came) if was and now else 0
        passages.update(unchanged=kept, changed=changed, removed=gone - changed, added=came - changed)
        if not was:
            docs["added"] += 1
        elif not now:
            docs["removed"] += 1
        else:
            docs["changed" if gone or came else "unchanged"] += 1
    return Changes(since, Tally(**docs), Tally(**passages))


def _by_file(passages: Iterable[tuple[str, str]]) -> dict[str, Counter[str]]:
    files: dict[str, Counter[str]] = defaultdict(Counter)
    for file, sha in passages:
        files[file][sha] += 1
    return files
