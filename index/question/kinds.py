"""Whether a text gives the kind of answer a question wants.

Figures, dates, percentages, ranks and reasons are read from the text's own notation (digits and
Chinese numerals with their measure words, 年/月/日, %, 第N, 因为/由于…). Names are read with
jieba's part-of-speech tags: a person (nr, two or three characters, a common surname first,
because jieba also tags 卡塔尔 or 年富力强 nr) or a role held by someone (书记, 主任); an
organisation (nt, or a word ending in 公司/集团/中心…, or a place followed by a name, the way
Chinese firms are called: 西安电瓷); a place (ns). A name the question itself holds answers nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from chuchu.corpus.terms import fold
from chuchu.index.question.reading import Asking, tag

# A figure as the text writes it: Arabic or Chinese numerals, with magnitude words after it.
_FIGURE = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万]+)[余多近超]?[十百千万亿]*[余多]?"
_DIGIT = re.compile(r"\d")
_YEAR_OR_DATE = re.compile(r"(?:19|20)\d\d年|[一二〇零]{4}年|\d{1,2}月(?:\d{1,2}[日号])?|(?:19|20)\d\d[-/.]\d{1,2}")
_PERCENT = re.compile(r"%|百分之|[一二三四五六七八九\d]成(?!为|立|功|果|本|员)|个百分点")
_RANK = re.compile(
    r"第[一二三四五六七八九十百\d]+(?!次|届|期|批|年|天|条|章|节|部|个|项)|首位|榜首|居首|之首|冠军|排名|位居|位列|前[一二三四五六七八九十\d]+名?"
)
_REASON = re.compile(r"因为|由于|因此|所以|为了|源于|得名|取自|寓意|意为|意思是|之所以|原因|是因|以便|旨在|缘于")
_ROLE = re.compile(
    r"书记|县长|市长|区长|镇长|乡长|村长|主任|局长|厅长|部长|经理|董事长|总裁|主席|院长|校长|社长|站长|队长|所长|"
    r"指挥长|创始人|负责人|法人代表|记者|通讯员|摄影"
)
ORGANISATION = re.compile(  # how an organisation's name ends
    r"(?:公司|集团|企业|工厂|厂|银行|协会|学会|委员会|政府|中心|局|院|学校|大学|学院|医院|合作社|研究所|基金会|商会|"
    r"联合会|事务所|总队|支队|办公室|党委|部门)$"
)
# The commonest Chinese surnames (over 85% of people): a person-tagged word must start with one.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤易常温"
    "康施文牛樊葛邢安齐伍庞颜倪聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜"
    "冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)


def gives(asking: Asking, text: str, folded: str | None = None) -> bool:
    """Whether the text gives the kind of answer the question wants (True when the kind is not
    checked); ``folded``: fold(text), when the caller has it."""
    if folded is None:
        folded = fold(text)
    kind = asking.kind
    if kind in ("number", "money"):
        if asking.units:
            return all(_figure_in(u).search(folded) for u in asking.units)
        # Arabic digits only: Chinese numerals are also in names (二十大, 五个一流).
        return bool(_DIGIT.search(folded))
    if kind == "percent":
        return bool(_PERCENT.search(folded))
    if kind == "date":
        return bool(_YEAR_OR_DATE.search(folded))
    if kind == "rank":
        return bool(_RANK.search(folded))
    if kind == "reason":
        return bool(_REASON.search(folded))
    if kind in ("person", "organisation", "place"):
        asked = fold(asking.question)
        return any(word not in asked for word in _names(kind, folded))
    return True


def _names(kind: str, folded: str) -> list[str]:
    """The names of one kind in a text."""
    words = tag(folded)
    if kind == "person":
        people = [w for w, f in words if f == "nr" and 2 <= len(w) <= 3 and w[0] in _SURNAMES]
        return people + _ROLE.findall(folded)
    if kind == "place":
        return [w for w, f in words if f == "ns"]
    names = [w for w, f in words if f == "nt" or (len(w) > 1 and ORGANISATION.search(w))]
    for (word, flag), (after, after_flag) in zip(words, words[1:]):
        if flag == "ns" and after_flag in ("n", "nz", "nr", "nrt") and len(after) > 1:
            names.append(word + after)
    return names


# Counters a text may use for the same thing the question counts: 多少人 is answered by 3000名.
_ALIKE = ({"人", "名", "位", "人次"}, {"个", "家", "所", "座", "处"}, {"种", "类", "款"}, {"次", "场", "场次"})


def alike(unit: str) -> frozenset[str]:
    """The measure without its magnitude (亿元 → 元, so 27.86亿元 and 2786万元 both count), and the
    counters that count the same thing (名 → 人, 名, 位, 人次)."""
    core = unit.lstrip("万亿千") or unit
    return next((frozenset(group) for group in _ALIKE if core in group), frozenset({core}))


@lru_cache(maxsize=256)  # a few dozen measure words; compiled once rather than per sentence
def _figure_in(unit: str) -> re.Pattern[str]:
    """A figure followed by the unit or a counter alike (alike)."""
    return re.compile(_FIGURE + r"[大小类种]?(?:" + _measure(unit) + ")")


def _measure(unit: str) -> str:
    return "|".join(sorted(map(re.escape, alike(unit)), key=len, reverse=True))
