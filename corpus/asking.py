"""What a question asks for: its content terms, and the kind of answer it wants.

Retrieval finds passages about the right thing; whether a passage *answers* depends on what
is asked. "上栗县花炮出口额是多少亿元" is about a passage on 花炮出口额, but only a passage that
gives an amount in 亿元 answers it. So a question is read for the figure, the unit or the year
it wants, and for the terms that say what it is about with the question words taken out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chuchu.corpus.terms import fold, terms

# Question words, and fillers that come with them: not what the question is about.
_INTERROGATIVE = re.compile(
    r"多少|什么|哪些|哪个|哪一|哪项|哪条|哪几|哪里|哪儿|哪|是否|如何|怎么|怎样|为什么|为何|何时|何地|谁|"
    r"具体|一共|总共|分别|请问|吗|呢|"
    r"\b(?:what|which|who|whom|whose|when|where|why|how|many|much|is|are|was|were|do|does|did|the|a|an|of|in|on)\b"
)
# Measure words that may follow 多少/几 and then also follow the figure in the answer.
_MEASURES = sorted(
    (
        "亿元 万元 千元 元 万亩 亩 公顷 万人次 人次 万人 人 万名 名 位 项 个 家 户 所 座 栋 间 条 处 套 件 台 辆 "
        "艘 架 支 只 头 类 种 款 批 届 场 次 期 年 月 天 日 岁 倍 公里 千米 米 平方米 平方公里 吨 万吨 千瓦 度 "
        "亿 万"
    ).split(),
    key=len,
    reverse=True,
)
_MEASURE = "|".join(map(re.escape, _MEASURES))
# 多少X / 几X, but not 十几X / 几十X (a round figure in the question, not a question) nor 哪几X (which ones).
_QUANTITY = re.compile(rf"(?:多少|(?<![十哪])几(?!十|百|千|万))({_MEASURE})?")
_PERCENT = re.compile(r"百分之几|百分比|比例|增长了?多少|增幅|percentage|percent|\bratio\b")
_YEAR = re.compile(r"哪一?年|几几年|什么时候|何时|\bwhat year\b|\bwhen\b")
_ENGLISH_QUANTITY = re.compile(r"\bhow (?:many|much)\b")
# A figure as the text writes it: Arabic or Chinese numerals, with magnitude words after it.
_FIGURE = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万]+)[余多近超]?[十百千万亿]*[余多]?"
_DIGIT = re.compile(r"\d")
_YEAR_IN_TEXT = re.compile(r"(?:19|20)\d\d年|[一二〇零]{4}年")


@dataclass(frozen=True)
class Asking:
    """A question read for what it asks."""

    question: str
    content: tuple[str, ...]  # lexical terms without the question words, in order, distinct
    wants: str  # "number", "percent", "year" or "" (a name, a place, a reason: not checked)
    units: tuple[str, ...] = ()  # measure words the figure comes with (多少亿元 → 亿元)
    numbers: tuple[str, ...] = ()  # figures the question itself names (2022, 27.86)

    def describe(self) -> str:
        """What is asked for, in words, for explanations."""
        if self.units:
            return "a figure in " + "/".join(self.units)
        return {"number": "a figure", "percent": "a percentage", "year": "a year"}.get(self.wants, "")


def read_question(question: str) -> Asking:
    """What the question asks for."""
    folded = fold(question)
    units: list[str] = []
    for m in _QUANTITY.finditer(folded):
        if m.group(1) and m.group(1) not in units:
            units.append(m.group(1))
    if _PERCENT.search(folded):
        wants = "percent"
    elif _YEAR.search(folded):
        wants = "year"
    elif _QUANTITY.search(folded) or _ENGLISH_QUANTITY.search(folded):
        wants = "number"
    else:
        wants = ""
    content = list(dict.fromkeys(terms(_INTERROGATIVE.sub(" ", folded))))
    numbers = tuple(t for t in content if t.replace(".", "", 1).isdigit())
    return Asking(question, tuple(content), wants, tuple(units) if wants == "number" else (), numbers)


def supplies(asking: Asking, text: str) -> bool:
    """Whether a text gives the kind of answer the question wants (always True when unchecked)."""
    folded = fold(text)
    if asking.wants == "percent":
        return "%" in folded or "百分之" in folded
    if asking.wants == "year":
        return bool(_YEAR_IN_TEXT.search(folded))
    if asking.wants == "number":
        if not asking.units:
            # Arabic digits only: Chinese numerals are also in names (二十大, 五个一流).
            return bool(_DIGIT.search(folded))
        return all(re.search(_FIGURE + r"[大小类种]?(?:" + _measure(u) + ")", folded) for u in asking.units)
    return True


# Counters a text may use for the same thing the question counts: 多少人 is answered by 3000名.
_ALIKE = ({"人", "名", "位", "人次"}, {"个", "家", "所", "座", "处"}, {"种", "类", "款"}, {"次", "场", "场次"})


def _measure(unit: str) -> str:
    """The measure without its magnitude (亿元 → 元, so 27.86亿元 and 2786万元 both count), or one alike."""
    core = unit.lstrip("万亿千") or unit
    for alike in _ALIKE:
        if core in alike:
            return "|".join(sorted(map(re.escape, alike), key=len, reverse=True))
    return re.escape(core)
