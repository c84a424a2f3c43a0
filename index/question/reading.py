"""Reading a question once: what it is about, the kind of answer it wants, and its focus.

Retrieval finds passages about the right thing; whether a passage *answers* depends on what is
asked. "上栗县洋洋礼花公司的负责人叫什么名字" finds a passage about that company's 负责人, but only
a passage that names a person answers it; "萍乡市的森林覆盖率是多少" finds passages with other
percentages, but only one about 覆盖率 answers. So a question is read for:

- its **kind** (`KINDS`): the type of the answer, from the question words around it;
- its **focus**: the words next to the question word, which name the attribute asked about
  (覆盖率 in 覆盖率是多少, 成立 in 哪一年成立的, 取名 in 为什么取名), found with jieba's
  segmentation and part-of-speech tags;
- the figures it names itself (2022年), and its content terms (without the question words).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from chuchu.corpus.terms import fold, terms

KINDS = ("person", "organisation", "place", "date", "money", "number", "percent", "rank", "reason", "yesno")
_DESCRIPTIONS = {
    "person": "a person's name",
    "organisation": "an organisation",
    "place": "a place",
    "date": "a date or year",
    "money": "an amount of money",
    "number": "a figure",
    "percent": "a percentage or rate",
    "rank": "a rank",
    "reason": "a reason",
    "yesno": "a yes or no",
}

# Question words, and fillers that come with them: not what the question is about.
_INTERROGATIVE = re.compile(
    r"多少|什么|哪些|哪个|哪一|哪项|哪条|哪几|哪里|哪儿|哪|是否|如何|怎么|怎样|为什么|为何|何时|何地|谁|"
    r"具体|一共|总共|分别|请问|吗|呢|"
    r"\b(?:what|which|who|whom|whose|when|where|why|how|many|much|is|are|was|were|do|does|did|the|a|an|of|in|on)\b"
)
_PERSON_ROLE = (
    r"(?:负责人|书记|县长|市长|区长|镇长|乡长|村长|主任|局长|厅长|部长|"
    r"经理|董事长|总裁|主席|院长|校长|创始人|作者|法人)"
)
# Order matters: the first kind whose pattern matches is the kind (为什么…多少 asks a reason).
_KIND_PATTERNS = (
    ("reason", r"什么原因|原因是什么|怎么会|\bwhy\b"),  # and the words 为什么/为何, as jieba segments them
    ("person", rf"谁|哪位|\bwho(?:m|se)?\b|{_PERSON_ROLE}(?:的)?(?:是|叫)?(?:什么名字|叫什么|姓名|名字)"),
    ("rank", r"第几|排名|名次|排第|位列第|\brank(?:ed|s)?\b"),
    (
        "percent",
        r"百分之|百分比|比例|比重|占比|增长了?多少|增幅|降幅|[^\s]率(?:是|为|有|达到?)?多少|"
        r"\bpercent(?:age)?\b|\brate\b|\bratio\b|\bshare\b",
    ),
    (
        "date",
        r"哪[一两二三几]?个?年|几几年|什么时候|何时|哪一?天|几月|哪个?月|"
        r"\bwhen\b|\b(?:what|which) (?:year|date|month)\b",
    ),
    (
        "money",
        r"多少钱|票价|价格|价钱|费用|花费|多少[亿万千]?元|\bhow much (?:money|does it cost)\b|\bprice\b|\bcost\b",
    ),
    (
        "organisation",
        r"(?:哪|什么)[一]?[家个所]?(?:公司|企业|单位|机构|部门|组织|银行|学校|大学|医院|工厂|集团|协会|团队)|"
        r"\bwhich (?:\w+ )?(?:company|firm|organi[sz]ation|enterprise|agency|institution|bank|university)\b",
    ),
    (
        "place",
        r"哪里|哪儿|什么地方|何地|何处|在哪|哪[个一]?(?:省|市|县|区|镇|乡|村|国家|城市|地区)|"
        r"\bwhere\b|\bwhich (?:city|county|town|village|province|country|region)\b",
    ),
    ("number", r"多少|(?<![十哪])几(?!十|百|千|万)|\bhow (?:many|much)\b"),
    (
        "yesno",
        r"是否|能不能|能否|有没有|是不是|可不可以|会不会|可否|吗[?？]?$|"
        r"^(?:is|are|does|do|did|can|was|were|has|have|will)\b",
    ),
)
_KINDS = tuple((kind, re.compile(pattern)) for kind, pattern in _KIND_PATTERNS)
# Measure words that may follow 多少/几 and then also follow the figure in the answer. jieba tags
# the rest (公斤/q, 吨/q) as quantifiers; these are the ones it segments or tags otherwise.
_MEASURES = sorted(
    (
        "亿元 万元 千元 元 万亩 亩 公顷 万人次 人次 万人 人 万名 名 位 项 个 家 户 所 座 栋 间 条 处 套 件 台 辆 "
        "艘 架 支 只 头 类 种 款 批 届 场 次 期 年 月 天 日 岁 倍 公里 千米 米 平方米 平方公里 吨 万吨 千瓦 度 "
        "公斤 千克 斤 克 立方米 小时 分钟 亿 万"
    ).split(),
    key=len,
    reverse=True,
)
_MEASURE = "|".join(map(re.escape, _MEASURES))
# 多少X / 几X, but not 十几X / 几十X (a round figure in the question, not a question) nor 哪几X (which ones).
_QUANTITY = re.compile(rf"(?:多少|(?<![十哪])几(?!十|百|千|万))({_MEASURE})?")
_LATIN = re.compile(r"[A-Za-z]")
_HAN = re.compile(r"[\u3400-\u9fff]")

# Question words as jieba segments them, and the words around them that carry no focus.
_ASKING_WORDS = re.compile(r"^(?:多少|几|什么|哪.*|谁|为什么|为何|何时|何地|怎么.*|如何|第几|是否|能否|能不能|有没有)$")
_FILLERS = frozenset(
    "是 为 有 叫 了 的 地 得 在 到 达 达到 共 约 大约 一共 总共 共计 累计 分别 具体 都 还 又 也 就 和 与 "
    "及 或 中 里 上 后 前 时 被 把 让 给 对 排 位 能 会 要 该 这 那 这个 那个 此 其 该项 呢 吗 啊 请问 百分之".split()
)
_CONTENT_TAGS = ("n", "v", "a", "j", "l", "i")  # nouns (nr, ns, nz…), verbs (vn…), adjectives, abbreviations, idioms

_jieba_lock = threading.Lock()


@dataclass(frozen=True)
class Asking:
    """A question, read once for what it asks."""

    question: str
    content: tuple[str, ...]  # lexical terms without the question words, in order, distinct
    kind: str  # one of KINDS, or "" (a name of a thing, a description: not checked)
    units: tuple[str, ...] = ()  # measure words the figure comes with (多少亿元 → 亿元)
    numbers: tuple[str, ...] = ()  # figures the question itself names (2022, 27.86)
    focus: tuple[str, ...] = ()  # the attribute asked about, as folded words (覆盖率; 成立)
    latin: bool = False  # asked in Latin script: it shares no words with Chinese passages

    def describe(self) -> str:
        """What is asked for, in words, for explanations."""
        if self.units and self.kind in ("number", "money"):
            return "a figure in " + "/".join(self.units)
        return _DESCRIPTIONS.get(self.kind, "")


def read_question(question: str) -> Asking:
    """What the question asks for."""
    folded = fold(question)
    words = tag(folded)
    # 为什么 is a question word only as jieba segments it: 被选为|什么|试点 asks what, not why.
    why = any(w in ("为什么", "为何") for w, _ in words)
    kind = "reason" if why else next((k for k, pattern in _KINDS if pattern.search(folded)), "")
    units = _units(folded, words) if kind in ("number", "money") else ()
    if kind == "money" and not any(u.endswith("元") for u in units):
        units = (*units, "元")
    content = list(dict.fromkeys(terms(_INTERROGATIVE.sub(" ", folded))))
    numbers = tuple(t for t in content if t.replace(".", "", 1).isdigit())
    latin = bool(_LATIN.search(folded)) and len(_HAN.findall(folded)) < 2
    focus = () if latin or kind in ("", "yesno") else _focus(words, units)
    return Asking(question, tuple(content), kind, units, numbers, focus, latin)


def tag(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's words and part-of-speech tags (nr person, ns place, nt organisation, q measure…)."""
    return _tag(text)


@lru_cache(maxsize=4096)
def _tag(text: str) -> tuple[tuple[str, str], ...]:
    posseg = _posseg()
    with _jieba_lock:  # jieba's lazy initialisation and its HMM are not safe across threads
        return tuple((p.word, p.flag) for p in posseg.cut(text))


@lru_cache(maxsize=1)
def _posseg():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)  # it announces building its prefix dictionary at INFO
    with _jieba_lock:
        jieba.initialize()
    return jieba.posseg


def warm() -> None:
    """Load jieba's dictionary now (about a second) rather than on the first question."""
    tag("预热")


def _units(folded: str, words: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The measure words after 多少/几: from the list, else the quantifier jieba tags after them."""
    units: list[str] = []
    for m in _QUANTITY.finditer(folded):
        if m.group(1) and m.group(1) not in units:
            units.append(m.group(1))
    for (word, _), (after, flag) in zip(words, words[1:]):
        if word in ("多少", "几") and flag == "q" and after not in units and not any(u.endswith(after) for u in units):
            units.append(after)
    return tuple(units)


def _focus(words: tuple[tuple[str, str], ...], units: tuple[str, ...]) -> tuple[str, ...]:
    """Per question word, what is asked about it: the event after it (哪一年成立的 → 成立), else the
    attribute before it (森林覆盖率是多少 → 覆盖率). After 哪个/什么 the next noun is the class of
    the answer (哪家企业, 什么名字), not its focus, and is passed over."""
    found: list[str] = []
    for i, (word, _) in enumerate(words):
        if not _ASKING_WORDS.match(word):
            continue
        following = list(words[i + 1 :])
        if word not in ("多少", "几", "第几") and following and following[0][1].startswith("n"):
            following = following[1:]
        focus = _nearest(following, skip=set(units)) or _nearest(reversed(words[:i]))
        if focus and focus not in found:
            found.append(focus)
    return tuple(found)


def _nearest(words, skip: set[str] | frozenset[str] = frozenset()) -> str:  # type: ignore[no-untyped-def]
    """The first content word, past fillers and measure words; "" at punctuation or another question word."""
    for word, flag in words:
        if word in _FILLERS or word in skip or flag in ("q", "m", "uj", "ul", "u", "p", "c", "r", "d", "f"):
            if flag == "r" and _ASKING_WORDS.match(word):
                return ""
            continue
        if flag == "x" and word.strip() in ("“", "”", '"', "《", "》", "'", ""):
            continue  # quotes around the focus: 多少名“法律明白人”
        if flag == "x" or flag == "eng":
            return ""
        if flag.startswith(_CONTENT_TAGS) and len(word) > 1:
            return word
        return ""
    return ""
