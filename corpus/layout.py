"""The layout of a document: which lines are text, headings, captions, and which are noise.

Real documents arrive with the page still around them. A forum post keeps its menus, view and
reply counters, the poster's rank and points, "回复", "使用道具 举报"; a newspaper page keeps its
photo captions set off by the blank lines where the pictures were, and paragraphs broken by the
column layout, sometimes mid-word ("拉家" / "常+说法理"), sometimes with a caption in between; a
plain-text file may be hard-wrapped at a fixed width. Other documents are nothing of the kind: a
FAQ of answers one paragraph each, many ending in a sign-off, a link or a name without a full
stop. This module reads the lines of a decoded text into blocks:

- ``body``: a paragraph, with the pieces of a layout-broken one joined (``pieces`` has one
  span per piece, so a citation covers both and skips what came between);
- ``heading``: a section heading (level 1, or 2 for "(一)"/"一、" numbering or a deeper Markdown
  "#"), which becomes the heading path of the passages under it, not a passage of its own;
- ``caption``: a photo caption ("… 摄", or a short line set off where images were), kept
  searchable and marked, because some facts are stated only in a caption;
- ``title``: the document's own title (short headline lines before its text starts, a Markdown
  "#" heading on the first line), or a forum post's title;
- ``credit``: "来源:…", "(图文:…)", "(本版文图由…提供)": the document's source;
- ``boilerplate``: site chrome and image file names, left out of the passages.

Every block keeps the exact spans of its lines in the decoded text, so offsets stay exact.

A line that stops without a full stop is joined with the next only on evidence that the break
falls inside a word or a sentence (``_continues``): the lines are one block, or the text is
hard-wrapped and the line ran to the full width, or a quote or bracket is left open, or the next
line starts with a character none of the document's sentences start with, after a comma, or
after a word where the document's open stops are breaks rather than its habit. A paragraph
that ends in a link, a number, a sign-off or a name is whole, and so is one followed by a
question, an answer, a list item or an indented line.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

KINDS = ("body", "heading", "caption", "title", "credit", "boilerplate")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}|\d+(?:\.\d+)?%?")
_BLANK = " \t\r\u3000\xa0"
# A line that ends a sentence: final punctuation, then any closing quotes or brackets.
_TERMINATED = re.compile(r"(?:[。！？!?；;…]|\.{3})[”’」』）)】\"']*$")
_SENTENCE_END = re.compile(r"[。！？!?；;…]+|\.{3,}")
# A line that stops on one of these is mid-sentence whatever its length.
_SOFT_END = re.compile(r"[，,、]$")
# A line that introduces what follows ("…效果显著——", "如下:") ends its paragraph.
_INTRODUCES = re.compile(r"(?:——|[：:])$")
_SECTION_NUMBER = re.compile(r"^(?:\d\s?\d|\d)$")  # "01", "0 2", "3" on a line of its own
_NUMBERED = re.compile(r"^(?:[(（][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")
_SUBHEADING = re.compile(r"^[(（][一二三四五六七八九十]+[)）]")  # "(一)" goes under "一、"
# A heading's shape: two phrases side by side ("工业强市 展新篇"), or a dash or colon between parts.
_HEADING_SHAPE = re.compile(r"^\S{2,}[ \u3000]+\S{2,}$|——|[：:]")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})[ \t]+(?=\S)")
_MARKDOWN_CLOSING = re.compile(r"(?<=\S)[ \t]+#+$")
_QUESTION_OR_ANSWER = re.compile(r"^(?:问|答|[QA])\s*[:：]", re.I)
# A line that starts a paragraph of its own: a question or answer, a list item, a Markdown block.
_PARAGRAPH_MARK = re.compile(
    r"^(?:(?:问|答|[QA])\s*[:：]|[-*+•·]\s|\d{1,3}[.、)）](?!\d)|[(（]\d{1,3}[)）]"
    r"|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]|#|>)",
    re.I,
)
# Quotes and brackets, each opener at the index of its closer.
_OPENERS, _CLOSERS = "“「『（(【《", "”」』）)】》"
# What a line's first character is looked for after (_first_char).
_LEADING = re.compile("[" + re.escape(_BLANK + _OPENERS + _CLOSERS + "‘’\"'") + "]*")
# How paragraphs end that need no full stop: a link, an e-mail address, a telephone number, a
# Latin word after a colon or a space (a link or a name), a sign-off. A FAQ answer ends like
# this and the next answer is another paragraph.
_WHOLE_END = re.compile(
    r"(?:(?:https?://|www\.)[!-~]+|[!-~]+@[!-~]+|[!-~]+\.(?:com|cn|net|org|gov|edu|info|io)(?:/[!-~]*)?"
    r"|\d[\d \-]{5,}\d|[A-Za-z]\.|#[!-~]+|(?<=[:：\s])[A-Za-z][!-~]*"
    r"|(?:谢谢|感谢|多谢|好运|顺利|愉快|敬礼|此致|帮助|有帮助|有用|联系我)[你您们大家]*[!！~～.。]*)$",
    re.I,
)
# Characters a terminal shows two columns wide: CJK, kana, hangul, full-width forms.
_WIDE = re.compile(
    r"[\u1100-\u115f\u2e80-\u303e\u3041-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)
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
# Chrome is a line of a menu, a counter or a footer. Some patterns look anywhere in a line, so a
# paragraph that happens to hold "发表于2022-1-5" or "论坛 … »" would be dropped with the page's
# furniture (a 50 MB file with no line break vanished whole), and ".*" patterns scanned across a
# long line once per match; the corpus's longest chrome line has 61 characters.
_CHROME_LONGEST = 200
_LIST_RUN = 3  # this many adjacent short lines are a list (or verse), not a heading
_SIGNATURE = 5  # a tail after the last full stop weighing this little is a name or a sign-off
_TAIL = 100  # characters of a paragraph's end searched for a link or a sign-off


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
    return _count(_CJK, text) + 2 * _count(_WORD, text)


def _count(pattern: re.Pattern[str], text: str) -> int:
    """How often a pattern matches, without a list of the matches.

    ``len(findall)`` makes one string per match: a line of 17 million Chinese characters (a
    50 MB file without a line break) would be 17 million strings, over a gigabyte.
    """
    return pattern.subn("", text)[1]


def read_layout(text: str, short: int = 24) -> Layout:
    """Read a text into blocks; lines weighing less than ``short`` may be headings or captions."""
    all_lines, levels = _markdown_headings(text, lines(text))
    full = _full_lines([text[ln.start - _indent(text, ln) : ln.end] for ln in all_lines])
    kinds, notes = _classify(text, all_lines, short, levels, full)
    joins = _joins(text, all_lines, kinds, full)
    blocks = _assemble(text, all_lines, kinds, notes, levels, joins)
    return Layout(tuple(blocks), *_metadata(text, all_lines, kinds))


def _markdown_headings(text: str, all_lines: list[Line]) -> tuple[list[Line], dict[int, int]]:
    """Markdown "#" headings, their marks trimmed off the span, and their levels by line index.

    The shallowest "#" depth used for sections is level 1 and anything deeper level 2; a "#"
    heading on the first line is the title (level 0).
    """
    depths = {}
    out = list(all_lines)
    for i, line in enumerate(all_lines):
        s = text[line.start : line.end]
        if m := _MARKDOWN_HEADING.match(s):
            depths[i] = len(m.group(1))
            closing = _MARKDOWN_CLOSING.search(s)  # "## 标题 ##"
            end = line.start + (closing.start() if closing else len(s))
            out[i] = replace(line, start=line.start + m.end(), end=end)
    sections = [d for i, d in depths.items() if i > 0]
    top = min(sections, default=1)
    return out, {i: 0 if i == 0 else (1 if d == top else 2) for i, d in depths.items()}


def _classify(
    text: str, all_lines: list[Line], short: int, levels: dict[int, int], full: set[int]
) -> tuple[list[str], list[str]]:
    """A first label per line: boilerplate, credit, title, number, body, caption or heading."""
    kinds, notes = [""] * len(all_lines), [""] * len(all_lines)
    body_gaps = []
    for i, line in enumerate(all_lines):
        s = text[line.start : line.end]
        following = text[all_lines[i + 1].start : all_lines[i + 1].end] if i + 1 < len(all_lines) else ""
        chrome = _chrome(s)
        if i in levels:
            kinds[i] = "heading" if levels[i] else "title"
        elif _SECTION_NUMBER.match(s) and i + 1 < len(all_lines) and all_lines[i + 1].blank_before == 0:
            kinds[i] = "number"  # "01" above its heading: part of the heading
        elif chrome:
            kinds[i], notes[i] = "boilerplate", chrome
        elif _CREDIT.match(s):
            kinds[i] = "credit"
        elif re.fullmatch(r"\[?复制链接\]?", following.strip()):
            kinds[i] = "title"  # a forum post's title sits right above its "copy link" tool
        elif i == 0 and _headline(s, short) and len(all_lines) > 1 and all_lines[1].blank_before:
            kinds[i] = "title"  # a longer headline, set off from the text below it
        elif (
            _mid_sentence(s)
            or weight(s) >= short
            or (i > 0 and kinds[i - 1] == "body" and _introduces(text, all_lines[i - 1]))
            or _QUESTION_OR_ANSWER.match(s)  # a FAQ's question is text, however short
            or i in full  # a line that ran out of room is prose
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
    _short_runs(text, all_lines, kinds, usual)
    return kinds, notes


def _chrome(s: str) -> str | None:
    """What kind of site chrome a line is, if it is chrome."""
    if len(s) > _CHROME_LONGEST:
        return None
    return next((note for pattern, note in _CHROME if pattern.search(s)), None)


def _mid_sentence(s: str) -> bool:
    """A short line that is a sentence or part of one: it ends one, or stops on or holds a comma,
    or leaves a quote or bracket open ("采用“拉家").

    A numbered line "(一)聚焦…,着力…" is a heading for all its comma.
    """
    return bool(
        _TERMINATED.search(s)
        or _SOFT_END.search(s)
        or _left_open(s)
        or (re.search(r"[，,]", s) and not _NUMBERED.match(s))
    )


def _headline(s: str, short: int) -> bool:
    """A first line too long to be short that still reads as a headline: no comma, no full stop,
    nothing left open, not a question or answer; a paragraph, even a FAQ's one-sentence answer,
    has those. (Short first lines are the title when text follows them: ``_short_runs``.)"""
    return short <= weight(s) < 2 * short and not _mid_sentence(s) and not _QUESTION_OR_ANSWER.match(s)


def _left_open(s: str) -> list[tuple[str, str]]:
    """The quotes and brackets a line opens and does not close."""
    return [(o, c) for o, c in zip(_OPENERS, _CLOSERS) if s.count(o) > s.count(c)]


def _introduces(text: str, line: Line) -> bool:
    return bool(_INTRODUCES.search(text[line.start : line.end]))


def _short_runs(text: str, all_lines: list[Line], kinds: list[str], usual: float) -> None:
    """Adjacent short lines: a list or verse when there are many, else headings (or the title).

    Short lines before the text starts are the title, except the last when the text follows it
    at the usual paragraph distance: that one is the first section's heading. A title is a
    headline over text: with no text after it, or a single character ("是"), it is the text.
    """
    first_body = next((i for i, k in enumerate(kinds) if k == "body"), len(kinds))
    headline: list[int] = []
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
        elif first_body == len(kinds):
            label = "body"  # nothing but short lines: they are what the document says
        elif i < first_body:
            titled = any(k == "title" for k in kinds[:i])
            heads_text = j == first_body and all_lines[first_body].blank_before <= usual
            label = "heading" if titled and heads_text else "title"
        else:
            label = "heading"
        for n in range(i, j):
            kinds[n] = label
        headline.extend(range(i, j) if label == "title" else ())
        i = j
    if headline and sum(weight(text[all_lines[n].start : all_lines[n].end]) for n in headline) < 2:
        for n in headline:
            kinds[n] = "body"


# Joining broken paragraphs ------------------------------------------------------------------


def _columns(s: str) -> int:
    """Display width: Chinese and full-width characters take two columns."""
    return len(s) + _count(_WIDE, s)


def _full_lines(texts: list[str]) -> set[int]:
    """The lines that run to the width the text was hard-wrapped at (none if it was not).

    ``texts`` are the lines with their indentation. Wrapped text has most of its lines within a
    character of one width (all but each paragraph's last), hardly any longer, and those lines
    stop wherever the width ran out, mostly mid-sentence. Typed paragraphs have lengths all over
    the place and end their sentences. The width is counted in characters or in display columns
    (a Chinese character two), whichever the wrapper used.
    """
    if len(texts) < 4:
        return set()
    for measure, slack, narrowest in ((len, 1, 10), (_columns, 2, 20)):
        sizes = [measure(s) for s in texts]
        count = Counter(sizes)
        width = max((sum(count[x] for x in range(w - slack, w + 2)), w) for w in count)[1]
        full = {i for i, x in enumerate(sizes) if width - slack <= x <= width + 1}
        longer = sum(x > width + 1 for x in sizes)
        if (
            width >= narrowest
            and len(full) >= max(3, 0.4 * len(sizes))
            and longer <= max(1, len(sizes) // 20)
            and sum(_open_end(texts[i]) for i in full) * 2 > len(full)
        ):
            return full
    return set()


def _joins(text: str, all_lines: list[Line], kinds: list[str], full: set[int]) -> dict[int, int]:
    """Which body line goes on into which: {index of a line: index of the line that continues it}."""
    starts = _sentence_starts(text, all_lines, kinds)
    pairs = list(_body_pairs(all_lines, kinds))
    habit = _stops_open_by_habit(text, all_lines, pairs, starts)
    return {
        j: k
        for j, k, same_block in pairs
        if _continues(text, all_lines[j], all_lines[k], same_block, starts, j in full, habit)
    }


def _body_pairs(all_lines: list[Line], kinds: list[str]) -> Iterator[tuple[int, int, bool]]:
    """Each body line with the next body line, across captions and chrome: (i, k, same block)."""
    for i, kind in enumerate(kinds):
        if kind != "body":
            continue
        k = i + 1
        while k < len(kinds) and kinds[k] in ("caption", "boilerplate"):
            k += 1
        if k < len(kinds) and kinds[k] == "body":
            yield i, k, k == i + 1 and all_lines[k].blank_before == 0


def _sentence_starts(text: str, all_lines: list[Line], kinds: list[str]) -> Counter[str]:
    """The characters this document's body text starts sentences and paragraphs with.

    A line after one that stops open is left out: whether it starts anything is the question.
    """
    starts: Counter[str] = Counter()
    stopped_open = False
    for line, kind in zip(all_lines, kinds):
        if kind != "body":
            continue
        s = text[line.start : line.end]
        if not stopped_open and (first := _first_char(s)):
            starts[first] += 1
        for m in _SENTENCE_END.finditer(s):
            if after := _first_char(s, m.end()):
                starts[after] += 1
        stopped_open = _open_end(s)
    return starts


def _stops_open_by_habit(
    text: str, all_lines: list[Line], pairs: list[tuple[int, int, bool]], starts: Counter[str]
) -> bool:
    """Whether this document ends whole paragraphs without a full stop, as a habit.

    Where a paragraph stops open across a blank line, either it ends in a way that needs no
    full stop, or the next paragraph starts as this document's sentences start (both: whole
    paragraphs), or neither (a break). A newspaper page's open stops are breaks; a FAQ's are
    mostly whole answers, and there a next line that happens to start with a rare character is
    chance, not evidence.
    """
    whole = broken = 0
    for j, k, same_block in pairs:
        s_a, s_b = text[all_lines[j].start : all_lines[j].end], text[all_lines[k].start : all_lines[k].end]
        if same_block or not _open_end(s_a) or _SOFT_END.search(s_a):
            continue
        if _ends_whole(s_a) or _PARAGRAPH_MARK.match(s_b) or starts[_first_char(s_b)]:
            whole += 1
        elif _piece_of_paragraph(s_a):
            broken += 1
    return whole >= broken


def _first_char(s: str, pos: int = 0) -> str:
    """The first character at or after ``pos`` that is not a blank, quote or bracket.

    Looked up from a position rather than on a slice: a slice copies the rest of the line, and
    done after every sentence end of one long line (a file with no line breaks) that is quadratic.
    """
    found = _LEADING.match(s, pos)
    end = found.end() if found else pos
    return s[end : end + 1]


def _open_end(s: str) -> bool:
    """A line that stops without ending its sentence (and does not introduce what follows)."""
    return not _TERMINATED.search(s) and not _INTRODUCES.search(s)


def _continues(
    text: str, a: Line, b: Line, same_block: bool, starts: Counter[str], full_width: bool, habit: bool
) -> bool:
    """Whether body line ``b`` goes on with the paragraph of line ``a``.

    Lines of one block go on unless something marks a new paragraph. Across a blank line (or a
    caption) the break must show it falls inside a word or sentence, because documents of
    whole paragraphs that end without a full stop are common (a FAQ's answers: "…祝你好运",
    "…请访问 www.example.com", "…谢谢。王建国") and joining two of them corrupts both.
    """
    s_a, s_b = text[a.start : a.end], text[b.start : b.end]
    if _PARAGRAPH_MARK.match(s_b) or _indent(text, b) > _indent(text, a):
        return False
    if full_width and (same_block or _open_end(s_a)):
        return True  # hard-wrapped: the line ran out of room, the paragraph goes on
    if not _open_end(s_a) or _ends_whole(s_a):
        return False
    if same_block or _closes_what_opened(s_a, s_b):
        return True
    if s_a[-1] in _OPENERS:  # "…他说：“" goes on; "…机构。“" is a stray quote after a whole sentence
        return not _TERMINATED.search(s_a[:-1]) and not _ends_whole(s_a[:-1])
    # The next line must start with a character none of this document's sentences start with
    # ("交通枢" / "纽城市建设", "…的同" / "时，与…"). After a comma that is enough; after a word
    # only where open stops are this document's breaks, not its habit.
    goes_on = not starts[_first_char(s_b)]
    if _SOFT_END.search(s_a):
        return goes_on
    return goes_on and not habit and _piece_of_paragraph(s_a)


def _piece_of_paragraph(s: str) -> bool:
    """A line that stops on a word and holds punctuation, unlike a headline, a name or a link."""
    return s[-1].isalnum() and bool(re.search(r"[，,、。！？；;：:]", s))


def _ends_whole(s: str) -> bool:
    """A paragraph that ends without a full stop and needs none: a link, a number, a sign-off,
    or a name or a few words after its last sentence ("…谢谢。王建国")."""
    if _WHOLE_END.search(s[-_TAIL:]):
        return True
    ends = list(_SENTENCE_END.finditer(s))
    if not ends:
        return False
    tail = s[ends[-1].end() :].strip(_BLANK + _CLOSERS + "’\"'")
    return 0 < weight(tail) <= _SIGNATURE and not re.search(r"[，,、：:]", tail)


def _closes_what_opened(a: str, b: str) -> bool:
    """``a`` leaves a quote or bracket open that ``b`` closes: "按照“分类积分…奖优" / "罚劣”的原则"."""
    for opener, closer in _left_open(a):
        depth = 0
        for ch in b:
            depth += (ch == opener) - (ch == closer)
            if depth < 0:
                return True
    return False


def _indent(text: str, line: Line) -> int:
    n = line.start
    while n > 0 and text[n - 1] in _BLANK:
        n -= 1
    return line.start - n


# Blocks ------------------------------------------------------------------------------------


def _assemble(
    text: str,
    all_lines: list[Line],
    kinds: list[str],
    notes: list[str],
    levels: dict[int, int],
    joins: dict[int, int],
) -> list[Block]:
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
            while j in joins:
                k = joins[j]
                between.extend(range(j + 1, k))
                members.append(all_lines[k])
                j = k
            blocks.append(Block("body", tuple(members), tuple((m.start, m.end) for m in members)))
            # What lay between the pieces still stands as its own block (a caption stays searchable).
            for b in between:
                blocks.append(_single(all_lines[b], kinds[b], notes[b], text))
            i = j + 1
            continue
        kind = "heading" if kind in ("number", "short") else kind
        blocks.append(_single(line, kind, notes[i], text, levels.get(i, 0)))
        i += 1
    blocks.sort(key=lambda b: b.start)
    return blocks


def _single(line: Line, kind: str, note: str, text: str, level: int = 0) -> Block:
    if kind == "heading" and not level:
        level = 2 if _SUBHEADING.match(text[line.start : line.end]) else 1
    return Block(kind, (line,), ((line.start, line.end),), level=level if kind == "heading" else 0, note=note)


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
