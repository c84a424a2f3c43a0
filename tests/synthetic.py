"""Synthetic corpora made from the real corpus text, to measure builds far larger than it.

Repeating the real files verbatim would not do: identical passages share one embedding-cache
entry and one near-duplicate group, so a 100× corpus of copies would cost the build little more
than the original. Random text would not do either: it has neither the characters, nor the
layout, nor the sentence lengths the splitter and the lexical index meet in real documents.

So copy 0 is the source verbatim, and each later copy keeps every line's layout (blank lines,
headings, captions, forum chrome, indentation) but replaces each body line with as many new
sentences, each made of two to four clauses drawn at random from all body clauses of the source
(whole sentences would not do: the source has only about a thousand, so a 100× corpus would
repeat each one a hundred times and most passages would be near-duplicates of others). The
copies read like the corpus, yet their passages are distinct texts.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

MIN_BODY_CHARS = 24  # as SplitOptions.min_chars: shorter lines are headings or captions, kept as they are
# A sentence runs to its end mark; closing quotes right after the mark stay with it.
_SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]+[”’」』）)\"']*|.+")
_END = re.compile(r"[。！？!?]")
_CLAUSE_END = re.compile(r"[，,；;、：:]")


def make_corpus(source: Path, dest: Path, factor: int, seed: int = 0) -> Path:
    """Write ``factor`` copies of each ``.txt`` document of ``source`` into ``dest``; return ``dest``.

    Copy ``c`` of ``<stem>.txt`` is ``<stem>-c<ccc>.txt``. Only the ``.txt`` files are read, so the
    catalog stays behind and titles come from the text. The same seed gives the same bytes.
    """
    if factor < 1:
        raise ValueError(f"factor must be 1 or more, not {factor}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.glob("*.txt")):
        raise ValueError(f"{dest} already holds .txt files; a synthetic corpus needs an empty directory")
    sources = sorted(Path(source).glob("*.txt"))
    texts = {path: path.read_bytes().decode("utf-8") for path in sources}
    sentences = [
        s for text in texts.values() for line in text.split("\n") if is_body_line(line) for s in _sentences(line)
    ]
    pool = [c for s in sentences for c in _clauses(s)]
    for c in range(factor):
        rng = random.Random(seed * 100003 + c)
        for path, text in texts.items():
            out = text if c == 0 else "\n".join(_redraw(line, pool, rng) for line in text.split("\n"))
            (dest / f"{path.stem}-c{c:03d}.txt").write_bytes(out.encode("utf-8"))
    return dest


def corpus_size(path: Path) -> int:
    """Total bytes of the ``.txt`` files directly in ``path``."""
    return sum(p.stat().st_size for p in Path(path).glob("*.txt"))


def is_body_line(line: str) -> bool:
    """A line the copies redraw: long enough to be text rather than a heading, and holding a sentence end."""
    content = line.strip()
    return len(content) >= MIN_BODY_CHARS and _END.search(content) is not None


def _sentences(line: str) -> list[str]:
    """The sentences of a line, each with its end mark; text after the last mark is one more."""
    return _SENTENCE.findall(line.strip())


def _clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, without their punctuation."""
    return [c.strip() for c in _CLAUSE_END.split(_END.sub("", sentence)) if c.strip()]


def _redraw(line: str, pool: list[str], rng: random.Random) -> str:
    """A body line becomes as many random sentences, inside the same leading and trailing whitespace."""
    if not is_body_line(line):
        return line
    content = line.strip()
    start = line.index(content)
    drawn = "".join("，".join(rng.choice(pool) for _ in range(rng.randint(2, 4))) + "。" for _ in _sentences(content))
    return line[:start] + drawn + line[start + len(content) :]
