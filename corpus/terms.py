"""Terms for Chinese lexical search: folded text cut into characters, bigrams, words and numbers.

Characters and bigrams rather than dictionary words: a reworded question uses other compounds
than the text, so a word segmenter finds no common token where single characters and bigrams
still overlap; and a bigram never misses a name or a policy term the dictionary does not know.
Numbers are kept whole with their unit as written (22554万元, 27.86亿元, 99%), and also bare,
because a figure is what many questions are after.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The units a number takes as one term (12330亩), longest first; TOKEN cuts a folded text into
# numbers with their unit, Han runs and Latin words. Public: index.question.sentence scans texts
# the same way to find terms without cutting whole sentences.
UNITS = sorted(
    "万元 亿元 千元 元 万亩 亩 万人次 人次 万人 人 名 万名 项 个 家 次 场次 场 栋 间 所 座 条 "
    "年 月 日 天 岁 万平方米 平方米 公里 千米 米 吨 万吨 亿 万 千 百 余 多 倍 户 村 % ‰".split(),
    key=len,
    reverse=True,
)
TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)(?P<unit>" + "|".join(map(re.escape, UNITS)) + r")?"
    r"|(?P<cjk>[\u3400-\u9fff\uf900-\ufaff]+)"
    r"|(?P<word>[a-z]+)"
)
# Characters that carry no meaning of their own in a question or a passage.
STOP_CHARS = frozenset("的了是在和与及或也都就把被对为于以之其这那有个吗呢吧啊么")


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, lower case."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).lower()


def terms(text: str) -> list[str]:
    """The lexical terms of a text, in order, with repeats."""
    out: list[str] = []
    for m in TOKEN.finditer(fold(text)):
        if m.group("num"):
            out.append(m.group("num"))
            if m.group("unit"):
                out.append(m.group(0))
        elif m.group("cjk"):
            run = m.group("cjk")
            out.extend(c for c in run if c not in STOP_CHARS)
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out.append(m.group("word"))
    return out
