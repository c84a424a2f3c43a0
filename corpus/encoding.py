"""Decoding the bytes of a file into text, for the encodings Chinese files use."""

from __future__ import annotations

from corpus.errors import DocumentUnreadable

# Order matters: UTF-8 is strict enough that GB18030 text almost never decodes as UTF-8 by
# accident, while GB18030 decodes nearly any byte string, so it can only be the last resort.
_CANDIDATES = ("utf-8", "gb18030")


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Decode raw bytes; return the text and the encoding that read it."""
    if raw.startswith(b"\xef\xbb\xbf"):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DocumentUnreadable(f"{name}: has a UTF-8 byte-order mark but is not UTF-8 ({exc}).") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DocumentUnreadable(f"{name}: has a UTF-16 byte-order mark but is not UTF-16 ({exc}).") from exc
    if b"\x00" in raw:
        raise DocumentUnreadable(f"{name}: looks binary (it contains NUL bytes); only text files are read.")
    for encoding in _CANDIDATES:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and not _plausible_chinese(text):
            break
        return text, encoding
    raise DocumentUnreadable(f"{name}: is neither UTF-8 nor GB18030/GBK text; convert it to UTF-8.")


def _plausible_chinese(text: str) -> bool:
    """GB18030 accepts almost anything: require that most non-ASCII characters are CJK."""
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return True
    cjk = sum(1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    return cjk / len(wide) > 0.8
