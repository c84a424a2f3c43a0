"""Decoding the bytes of a file into text, for the encodings Chinese files use."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from chuchu.corpus.errors import DocumentUnreadable

# The legacy encodings Chinese text comes in. The detector is restricted to them: left free,
# charset-normalizer calls short GBK lines (a heading, one sentence) cp949 Korean about one time
# in twenty, while choosing among these it picked right on every line of our corpus. gb18030 is
# a superset of GBK and GB2312, so it stands for the whole GB family.
_CHINESE = ("gb18030", "big5", "cp950", "big5hkscs")
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030"})
# Code points that Chinese text is made of besides ASCII: middle dot; general punctuation
# (“”‘’—…) through arrows, circled numbers and shapes; CJK symbols; ideographs (extension A,
# unified, compatibility); full-width forms; ideographs beyond the BMP.
_CHINESE_CHAR = re.compile(
    "[\u00b7\u2010-\u27bf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)
_WIDE_CHAR = re.compile("[^\x00-\x7f]")
# C0 controls other than tab, line feed, vertical tab, form feed, carriage return and the DOS
# end-of-file mark (0x1a): text has almost none of them, binary data is full of them.
_CONTROL_CHAR = re.compile("[\x00-\x08\x0e-\x19\x1b-\x1f\x7f]")


def decode(raw: bytes, name: str, declared: str | None = None) -> tuple[str, str]:
    """Decode raw bytes; return the text and the encoding that read it.

    In order of trust: a byte-order mark; strict UTF-8 (legacy Chinese bytes are practically
    never valid UTF-8, so this also overrides a stale declaration); the charset the file
    declares (``declared``, e.g. an HTML meta charset); detection among Chinese encodings.
    """
    found: tuple[str, str] | None
    if raw.startswith(b"\xef\xbb\xbf"):
        found = _decode_bom(raw[3:], "utf-8", "utf-8-sig", name)
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        found = _decode_bom(raw, "utf-16", "utf-16", name)
    elif b"\x00" in raw:
        raise DocumentUnreadable(f"{name}: looks binary (it contains NUL bytes); only text files are read.")
    else:
        found = _utf8(raw) or _declared(raw, declared) or _detected(raw)
    if found is None:
        raise DocumentUnreadable(
            f"{name}: is not UTF-8 ({_utf8_error(raw)}), nor GB18030/GBK or Big5 Chinese text; convert it to UTF-8."
        )
    text, encoding = found
    if _looks_binary(text):
        raise DocumentUnreadable(f"{name}: looks binary (it is full of control characters); only text files are read.")
    return text, encoding


def _decode_bom(raw: bytes, codec: str, label: str, name: str) -> tuple[str, str]:
    try:
        return raw.decode(codec), label
    except UnicodeDecodeError as exc:
        raise DocumentUnreadable(
            f"{name}: has a {codec.upper()} byte-order mark but is not {codec.upper()} ({exc})."
        ) from exc


def _utf8(raw: bytes) -> tuple[str, str] | None:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return None


def _utf8_error(raw: bytes) -> str:
    """Where UTF-8 decoding fails, for the message: a file that is UTF-8 but for one damaged byte says so."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{exc.reason} at byte offset {exc.start:,}, 0x{raw[exc.start]:02x}"
    return "valid UTF-8, but not text"  # not reached: valid UTF-8 is read as such


def _declared(raw: bytes, declared: str | None) -> tuple[str, str] | None:
    """The declared charset, if Python knows it and it reads the bytes."""
    try:
        codec = codecs.lookup(declared).name if declared else None
    except LookupError:
        return None
    # A document that declares UTF-16/32 in ASCII bytes is lying (HTML says to ignore it).
    if codec is None or codec.startswith(("utf-16", "utf-32")):
        return None
    codec = "gb18030" if codec in _GB_FAMILY else codec
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError:
        return None


def _detected(raw: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess among the Chinese encodings, if it reads as Chinese."""
    best = charset_normalizer.from_bytes(raw, cp_isolation=list(_CHINESE)).best()
    if best is None:
        return None
    encoding = best.encoding
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if encoding in _GB_FAMILY and encoding != "gb18030":
        try:
            encoding = "gb18030" if raw.decode("gb18030") == text else encoding
        except UnicodeDecodeError:
            pass
    return (text, encoding) if _plausible_chinese(text) else None


def _plausible_chinese(text: str) -> bool:
    """Legacy multi-byte codecs accept a lot: require that most non-ASCII characters are Chinese."""
    # Counted with subn, not len(findall): a list of one string per character of a 50 MB file
    # would take gigabytes.
    wide = _WIDE_CHAR.subn("", text)[1]
    return wide == 0 or _CHINESE_CHAR.subn("", text)[1] / wide > 0.8


def _looks_binary(text: str) -> bool:
    """More than one character in a hundred is a control character."""
    return _CONTROL_CHAR.subn("", text)[1] * 100 > len(text)
