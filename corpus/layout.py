"""The layout of a document: which lines are text, headings, captions, and which are noise.

Real documents arrive with the page still around them. A forum post keeps its menus, view and
reply counters, the poster's rank and points, "回复", "使用道具 举报"; a newspaper page keeps its
photo captions set off by the blank lines where the pictures were, and paragraphs broken by the
column layout, sometimes mid-word ("拉家" / "常+说法理"), sometimes with a caption in between. This
module reads the lines of a decoded text into blocks:

- ``body``: a paragraph, with the pieces of a layout-broken one joined (``pieces`` has one
  span per piece, so a citation covers both and skips what came between);
- ``heading``: a section heading (level 1, or 2 for "(一)"/"一、" numbering), which becomes the
  heading path of the passages under it, not a passage of its own;
- ``caption``: a photo caption ("… 摄", or a short line set off where images were), kept
  searchable and marked, because some facts are stated only in a caption;
- ``title``: the document's own title lines before its text starts, or a forum post's title;
- ``credit``: "来源:…", "(图文:…)", "(本版文图由…提供)": the document's source;
- ``boilerplate``: site chrome and image file names, left out of the passages.

Every block keeps the exact spans of its lines in the decoded text, so offsets stay exact.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

KINDS = ("body", "heading", "caption", "title", "credit", "boilerplate")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}|\d+(?:\.\d+)?%?")
_BLANK = " \t\r\u3000\xa0"
# A line that ends a sentence: final punctuation, then any closing quotes or brackets.
_TERMINATED = re.compile(r"(?:[。！？!?；;…]|\.{3})[”’」』）)】\"']*$")
# A line that stops on one of these is mid-sentence whatever its length.
_SOFT_END = re.compile(r"[，,、]$")
# A line that introduces what follows ("…效果显著——", "如下:") ends its paragraph.
_INTRODUCES = re.compile(r"(?:——|[：:])$")
_SECTION_NUMBER = re.compile(r"^(?:\d\s?\d|\d)$")  # "01", "0 2", "3" on a line of its own
_NUMBERED = re.compile(r"^(?:[(（][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")
_SUBHEADING = re.compile(r"^[(（][一二三四五六七八九十]+[)）]")  # "(一)" goes under "一、"
# A heading's shape: two phrases side by side ("工业强市 展新篇"), or a dash or colon between parts.
_HEADING_SHAPE = re.compile(r"^\S{2,}[ \u3000]+\S{2,}$|——|[：:]")
_CAPTION_CREDIT = re.compile(r"(?:摄|摄影|供图|图片来源.*)$")
_CREDIT = re.compile(
    r"^(?:来源[:：]\s*(?P<source>.+)"
    r"|[(（](?:图文|文图|文/图|图/文)[:：]\s*(?P<credit>[^)）]+)[)）]"
    r"|[(（](?:本版)?(?:文图|图文)由(?P<provider>[^)）]+?)提供[)）])$"
)
_POST_TIME = re.compile(r"发表于\s*(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})")
# Site chrome, each with what it is, for `chuchu corpus check`.
_CHROME = [
    (re.compile(r"^[\w.\-]+\.(?:jpe?g|png|gif|webp|bmp)$", re.I), "image file name"),
    (re.compile(r"».*(?:论坛|首页|门户)|(?:论坛|首页|门户).*»"), "site navigation"),
    (re.compile(r"^返回列表|发新帖$"), "forum navigation"),
    (re.compile(r"^查看[:：]\s*\d+\s*[|｜]\s*回复[:：]\s*\d+$"), "view and reply counter"),
    (re.compile(r"^\[?复制链接\]?$"), "forum tool"),
    (
        re.compile(
            r"^(?:主题|帖子|积分|精华|回复|收藏|分享|举报|使用道具.*|本版积分规则|只看该作者|电梯直达|倒序浏览)$"
        ),
        "forum label",
    ),
    (re.compile(r"^(?:Rank[:：]\s*\d+)+$", re.I), "user rank"),
    (re.compile(r"^(?:论坛元老|新手上路|注册会员|中级会员|高级会员|金牌会员|版主|超级版主|管理员)$"), "user rank"),
    (re.compile(r"^\d+(?:\.\d+)?[万千]?$"), "counter"),
    (_POST_TIME, "post time"),
    (re.compile(r"登录后才可以|立即注册|^登录\s*[|｜]"), "login footer"),
]
_LIST_RUN = 3  # this many adjacent short lines are a list (or verse), not a heading


@dataclass(frozen=True)
class Line:
    """A non-empty line: its 1-based number among non-empty lines, its trimmed span, blanks above."""

    number: int
    start: int
    end: int
    blank_before: int


@dataclass(frozen=True)
class Block:
    """Consecutive lines of one kind; ``pieces`` are the spans whose text makes the block."""

    kind: str
    lines: tuple[Line, ...]
    pieces: tuple[tuple[int, int], ...]
    level: int = 0  # headings: 1, or 2 under a numbered "(一)"
    note: str = ""  # boilerplate: what it is; caption: why it is one

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def end(self) -> int:
        return self.pieces[-1][1]

    @property
    def joined(self) -> int:
        """How many layout breaks were joined to make this block."""
        return len(self.pieces) - 1

    def text(self, source: str) -> str:
        """The block's text: its pieces, joined without the breaks between them."""
        return "".join(source[s:e] for s, e in self.pieces)


@dataclass(frozen=True)
class Layout:
    """A document read into blocks, and what its text says about itself."""

    blocks: tuple[Block, ...]
    title: str | None = None
    source: str | None = None
    date: str | None = None  # ISO date of a post's time, when the text gives one

    def of_kind(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]


def lines(text: str) -> list[Line]:
    """The non-empty lines of a text, trimmed of blanks, with the count of blank lines above each."""
    out: list[Line] = []
    pos, blanks = 0, 0
    for raw in text.split("\n"):
        left = len(raw) - len(raw.lstrip(_BLANK))
        right = len(raw.rstrip(_BLANK))
        if right > left:
            out.append(Line(len(out) + 1, pos + left, pos + right, blanks))
            blanks = 0
        else:
            blanks += 1
        pos += len(raw) + 1
    return out


def weight(text: str) -> int:
    """How much a line says: its Chinese characters, plus two for each word or number."""
    return len(_CJK.findall(text)) + 2 * len(_WORD.findall(text))


def read_layout(text: str, short: int = 24) -> Layout:
    """Read a text into blocks; lines weighing less than ``short`` may be headings or captions."""
    all_lines = lines(text)
    kinds, notes = _classify(text, all_lines, short)
    blocks = _assemble(text, all_lines, kinds, notes)
    return Layout(tuple(blocks), *_metadata(text, all_lines, kinds))


def _classify(text: str, all_lines: list[Line], short: int) -> tuple[list[str], list[str]]:
    """A first label per line: boilerplate, credit, title, number, body, caption or heading."""
    kinds, notes = [""] * len(all_lines), [""] * len(all_lines)
    body_gaps = []
    for i, line in enumerate(all_lines):
        s = text[line.start : line.end]
        following = text[all_lines[i + 1].start : all_lines[i + 1].end] if i + 1 < len(all_lines) else ""
        chrome = next((note for pattern, note in _CHROME if pattern.search(s)), None)
        if _SECTION_NUMBER.match(s) and i + 1 < len(all_lines) and all_lines[i + 1].blank_before == 0:
            kinds[i] = "number"  # "01" above its heading: part of the heading
        elif chrome:
            kinds[i], notes[i] = "boilerplate", chrome
        elif _CREDIT.match(s):
            kinds[i] = "credit"
        elif re.fullmatch(r"\[?复制链接\]?", following.strip()):
            kinds[i] = "title"  # a forum post's title sits right above its "copy link" tool
        elif (
            _mid_sentence(s)
            or weight(s) >= short
            or (i > 0 and kinds[i - 1] == "body" and _introduces(text, all_lines[i - 1]))
        ):
            kinds[i] = "body"
            if weight(s) >= short:
                body_gaps.append(line.blank_before)
        elif _CAPTION_CREDIT.search(s):
            kinds[i], notes[i] = "caption", "photographer credit"
        else:
            kinds[i] = "short"
    # A short line set off by more blank lines than the text's paragraphs are is where an image
    # was: a caption. Paragraph gaps differ between documents, so compare with this one's.
    # Before the text starts, short lines are the title, however they are spaced.
    usual = statistics.median(body_gaps) if body_gaps else 0
    first_body = next((i for i, k in enumerate(kinds) if k == "body"), len(kinds))
    for i, line in enumerate(all_lines):
        s = text[line.start : line.end]
        set_off = line.blank_before >= 2 and line.blank_before > usual
        if kinds[i] == "short" and i > first_body and set_off and not _HEADING_SHAPE.search(s):
            kinds[i], notes[i] = "caption", "set off where an image was"
    _short_runs(all_lines, kinds, usual)
    return kinds, notes


def _mid_sentence(s: str) -> bool:
    """A short line that is a sentence or part of one: it ends one, or stops on or holds a comma.

    A numbered line "(一)聚焦…,着力…" is a heading for all its comma.
    """
    return bool(_TERMINATED.search(s) or _SOFT_END.search(s) or (re.search(r"[，,]", s) and not _NUMBERED.match(s)))


def _introduces(text: str, line: Line) -> bool:
    return bool(_INTRODUCES.search(text[line.start : line.end]))


def _short_runs(all_lines: list[Line], kinds: list[str], usual: float) -> None:
    """Adjacent short lines: a list or verse when there are many, else headings (or the title).

    Short lines before the text starts are the title, except the last when the text follows it
    at the usual paragraph distance: that one is the first section's heading.
    """
    first_body = next((i for i, k in enumerate(kinds) if k == "body"), len(kinds))
    i = 0
    while i < len(kinds):
        if kinds[i] != "short":
            i += 1
            continue
        j = i + 1
        while j < len(kinds) and kinds[j] == "short" and all_lines[j].blank_before == 0:
            j += 1
        if j - i >= _LIST_RUN:
            label = "list"
        elif i < first_body:
            titled = any(k == "title" for k in kinds[:i])
            heads_text = j == first_body and all_lines[first_body].blank_before <= usual
            label = "heading" if titled and heads_text else "title"
        else:
            label = "heading"
        for n in range(i, j):
            kinds[n] = label
        i = j


def _assemble(text: str, all_lines: list[Line], kinds: list[str], notes: list[str]) -> list[Block]:
    """Group labelled lines into blocks: join broken paragraphs, number + heading, list runs."""
    blocks: list[Block] = []
    i = 0
    while i < len(all_lines):
        line, kind = all_lines[i], kinds[i]
        if kind == "number" and i + 1 < len(all_lines) and kinds[i + 1] in ("heading", "title", "short"):
            nxt = all_lines[i + 1]
            blocks.append(Block("heading", (line, nxt), ((line.start, line.end), (nxt.start, nxt.end)), level=1))
            i += 2
            continue
        if kind == "list":
            j = i
            while j + 1 < len(all_lines) and kinds[j + 1] == "list" and all_lines[j + 1].blank_before == 0:
                j += 1
            run = tuple(all_lines[i : j + 1])
            blocks.append(Block("body", run, ((run[0].start, run[-1].end),)))
            i = j + 1
            continue
        if kind == "body":
            members: list[Line] = [line]
            between: list[int] = []  # lines that lay between the pieces
            j = i
            while _broken(text, members[-1]):
                k = j + 1
                while k < len(all_lines) and kinds[k] in ("caption", "boilerplate"):
                    k += 1
                if k >= len(all_lines) or kinds[k] != "body":
                    break
                between.extend(range(j + 1, k))
                members.append(all_lines[k])
                j = k
            blocks.append(Block("body", tuple(members), tuple((m.start, m.end) for m in members)))
            # What lay between the pieces still stands as its own block (a caption stays searchable).
            for b in between:
                blocks.append(_single(all_lines[b], kinds[b], notes[b], text))
            i = j + 1
            continue
        blocks.append(_single(line, "heading" if kind in ("number", "short") else kind, notes[i], text))
        i += 1
    blocks.sort(key=lambda b: b.start)
    return blocks


def _single(line: Line, kind: str, note: str, text: str) -> Block:
    level = 0
    if kind == "heading":
        level = 2 if _SUBHEADING.match(text[line.start : line.end]) else 1
    return Block(kind, (line,), ((line.start, line.end),), level=level, note=note)


def _broken(text: str, line: Line) -> bool:
    """Whether a body line stops mid-sentence, so the next text line continues it."""
    s = text[line.start : line.end]
    return not _TERMINATED.search(s) and not _INTRODUCES.search(s)


def _metadata(text: str, all_lines: list[Line], kinds: list[str]) -> tuple[str | None, str | None, str | None]:
    """The title, source and date the text itself gives."""
    title_lines = [text[ln.start : ln.end] for ln, k in zip(all_lines, kinds) if k == "title"]
    title = " ".join(title_lines).replace(" ——", "——") if title_lines else None
    source = date = None
    for ln, k in zip(all_lines, kinds):
        s = text[ln.start : ln.end]
        if k == "credit" and source is None:
            m = _CREDIT.match(s)
            if m:
                source = (m.group("source") or m.group("credit") or m.group("provider") or "").strip() or None
        if date is None and (m := _POST_TIME.search(s)):
            date = f"{int(m['y']):04d}-{int(m['m']):02d}-{int(m['d']):02d}"
    return title, source, date


def heading_text(block: Block, text: str) -> str:
    """A heading's words: its lines joined by a space ("01 党建引领…")."""
    return " ".join(text[s:e] for s, e in block.pieces)
