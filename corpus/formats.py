"""Formats: the text of the files users have (plain text, HTML, Word, PDF), read from their bytes.

The text returned is what gets split into passages and cited by offsets, so it is a pure
function of the bytes: the same file always gives the same text. Plain text is returned as
decoded; the other formats are rebuilt as one paragraph per line, with no blank lines, like
the corpus's own text files.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import docx
import lxml.html
import pypdf
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.table import Table
from lxml import etree

from chuchu.corpus.encoding import decode
from chuchu.corpus.errors import DocumentUnreadable

SUFFIXES = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")

# pypdf logs a warning for every defect it works around in a malformed file. What matters to a
# reader of the corpus surfaces as DocumentUnreadable or as a page warning in Extracted.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Extracted:
    """The text of one file, how it was read, and what the file itself says about itself."""

    text: str
    encoding: str  # how it was read: "utf-8", "utf-8-sig", "gb18030", "utf-16", "html/utf-8", "docx", "pdf"…
    format: str  # "text", "html", "docx", "pdf"
    title: str | None = None  # a title the file declares (HTML <title>, docx core properties)
    date: str | None = None  # an ISO date the file declares (HTML meta or <time>, docx created)
    warnings: tuple[str, ...] = ()


def extract(raw: bytes, file: str) -> Extracted:
    """The text of a file, by the suffix of its name; DocumentUnreadable names the file and the reason."""
    suffix = PurePosixPath(file).suffix.lower()
    if suffix in (".txt", ".md"):
        text, encoding = decode(raw, file)
        extracted = Extracted(text, encoding, "text")
    elif suffix in (".html", ".htm"):
        extracted = _html(raw, file)
    elif suffix == ".docx":
        extracted = _docx(raw, file)
    elif suffix == ".pdf":
        extracted = _pdf(raw, file)
    else:
        raise DocumentUnreadable(f"{file}: is not a format chuchu reads ({', '.join(SUFFIXES)}); convert it first.")
    if not extracted.text.strip():
        raise DocumentUnreadable(f"{file}: has no text; add some or remove the file from the corpus.")
    return extracted


# ---------------------------------------------------------------------------------------- HTML

# Elements that are never the document: code, styles and the page's furniture.
_INVISIBLE = ("script", "style", "noscript", "template")
_FURNITURE = ("nav", "header", "footer", "aside", "form")
# Furniture that CMSs (those behind most Chinese news and government sites among them) mark only
# with a class or id. Kept short because every word is a guess and a wrong guess deletes text;
# "nav" must start a word so that "canvas" is not a menu.
_FURNITURE_NAMES = re.compile(r"menu|breadcrumb|crumbs|share|login|comment|footer|(?:^|[\s_-])nav", re.IGNORECASE)
# Elements that end a line where they open and close; table cells are separated by a tab.
_BLOCKS = frozenset(
    "p div br hr h1 h2 h3 h4 h5 h6 ul ol li dl dt dd tr table section article main header blockquote "
    "figure figcaption pre address".split()
)
_CELLS = frozenset({"td", "th"})
# Meta names and properties that carry the publication date, most specific first.
_DATE_METAS = ("article:published_time", "pubdate", "publishdate", "datepublished", "dc.date.issued", "dc.date", "date")
# A line break between two Chinese characters or punctuation marks (“”…—) is no space, as CSS
# renders it; other whitespace runs are one space.
_CJK = "\u2010-\u206f\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t\r\f]*\n[ \t\r\n\f]*(?=[{_CJK}])")
_SPACES = re.compile(r"[ \t\r\n\f]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _html(raw: bytes, file: str) -> Extracted:
    # Browsers look for the meta charset in the first 1024 bytes; some pages put it later.
    declared = _META_CHARSET.search(raw[:4096])
    text, encoding = decode(raw, file, declared.group(1).decode("ascii") if declared else None)
    # huge_tree lifts libxml2's nesting limit of 256, past which it returns an empty document:
    # old CMS pages reach it with unclosed <font> tags. A new parser per call keeps its error log ours.
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        # lxml refuses str input that carries an XML encoding declaration: it is decoded already.
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text), parser=parser)
    except etree.ParserError:  # lxml's word for a document with no elements at all
        return Extracted("", f"html/{encoding}", "html")
    except ValueError as exc:
        raise DocumentUnreadable(f"{file}: is not readable HTML ({exc}); check the file.") from exc
    fatal = [error.message for error in parser.error_log if error.level_name == "FATAL"]
    if fatal:
        raise DocumentUnreadable(f"{file}: is not readable HTML ({fatal[0]}); check the file.")
    for node in root.xpath("//comment() | //processing-instruction()"):
        node.drop_tree()
    body = root.find("body")
    if body is None:
        body = root
    for element in list(body.iter(*_INVISIBLE)):
        element.drop_tree()
    total = _length(body)
    for element in list(body.iter(*_FURNITURE)):
        if element.tag == "header" and next(element.iterancestors("article", "main"), None) is not None:
            continue  # an article's own header holds its headline and byline
        if element.tag == "form" and _length(element) * 2 > total:
            continue  # ASP.NET WebForms pages, common on Chinese government sites, wrap the whole page in a form
        element.drop_tree()
    container, warnings_ = _container(body)
    size = _length(container)
    for element in list(container.iterdescendants()):
        names = f"{element.get('class', '')} {element.get('id', '')}"
        if _FURNITURE_NAMES.search(names) and _length(element) * 2 <= size:
            element.drop_tree()  # furniture is small: an element that holds most of the text is not furniture
    return Extracted(
        text=_html_text(container),
        encoding=f"html/{encoding}",
        format="html",
        title=_html_title(root),
        date=_html_date(root),
        warnings=warnings_,
    )


def _container(body: lxml.html.HtmlElement) -> tuple[lxml.html.HtmlElement, tuple[str, ...]]:
    """The longest <article>, else the longest <main>, else the whole body."""
    for tag in ("article", "main"):
        found = list(body.iter(tag))
        if found:
            warnings_ = (f"{len(found)} <{tag}> elements: read the longest only.",) if len(found) > 1 else ()
            return max(found, key=_length), warnings_
    return body, ()


def _html_text(container: lxml.html.HtmlElement) -> str:
    parts: list[str] = []
    in_pre = 0  # inside <pre>, whitespace is the text's own: kept as it is
    for event, element in etree.iterwalk(container, events=("start", "end")):
        if event == "start":
            in_pre += element.tag == "pre"
            parts.append("\n" if element.tag in _BLOCKS else "\t" if element.tag in _CELLS else "")
            parts.append((element.text or "") if in_pre else _flow(element.text))
        else:
            in_pre -= element.tag == "pre"
            parts.append("\n" if element.tag in _BLOCKS else "")
            if element is not container:
                parts.append((element.tail or "") if in_pre else _flow(element.tail))
    text = re.sub(r" *\t[ \t]*", "\t", re.sub(r" {2,}", " ", "".join(parts)))
    return _lines(text)


def _html_title(root: lxml.html.HtmlElement) -> str | None:
    title = root.findtext(".//title") or _meta(root, ("og:title",))
    if not title:
        h1 = root.find(".//h1")
        title = h1.text_content() if h1 is not None else None
    return _flow(title).strip() or None


def _html_date(root: lxml.html.HtmlElement) -> str | None:
    time = root.find(".//time[@datetime]")
    return _iso_date(_meta(root, _DATE_METAS) or (time.get("datetime") if time is not None else None))


def _meta(root: lxml.html.HtmlElement, keys: tuple[str, ...]) -> str | None:
    """The content of the first meta whose name, property or itemprop is one of keys, by key order."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        for attribute in ("name", "property", "itemprop"):
            key = (meta.get(attribute) or "").strip().lower()
            if key in keys and meta.get("content", "").strip():
                found.setdefault(key, meta.get("content").strip())
    return next((found[key] for key in keys if key in found), None)


def _flow(text: str | None) -> str:
    """HTML text as a browser flows it: whitespace runs are one space."""
    return _SPACES.sub(" ", _CJK_BREAK.sub("", text)) if text else ""


def _length(element: lxml.html.HtmlElement) -> int:
    """Characters of visible text, whitespace not counted."""
    return len(_SPACES.sub("", element.text_content()))


# ---------------------------------------------------------------------------------------- docx


def _docx(raw: bytes, file: str) -> Extracted:
    try:
        # Library warnings about a file's oddities are not the reader's business. (catch_warnings
        # is process-wide: fine for builds, which read files in one thread.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = docx.Document(io.BytesIO(raw))
            lines = []
            for block in document.iter_inner_content():  # paragraphs and tables in body order
                lines.extend(_rows(block) if isinstance(block, Table) else [block.text])
            title, created = _core_properties(document)
    except Exception as exc:  # a damaged file makes zipfile, lxml or python-docx raise nearly anything
        raise DocumentUnreadable(
            f"{file}: is not a readable .docx file ({_reason(exc)}); save it again from Word."
        ) from exc
    return Extracted(
        text=_lines("\n".join(lines)),
        encoding="docx",
        format="docx",
        title=(title or "").strip() or None,
        date=created.date().isoformat() if created else None,
    )


def _core_properties(document: docx.document.Document) -> tuple[str | None, dt.datetime | None]:
    """Title and creation time, if the file has core properties at all.

    Asked for properties a file does not have, python-docx makes up defaults, "Word Document"
    for the title: those are not the file's.
    """
    try:
        document.part.package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        return None, None
    properties = document.core_properties
    return properties.title, properties.created


def _rows(table: Table) -> list[str]:
    """One line per row, cells joined by a tab; a cell spanning columns is read once."""
    rows = []
    for row in table.rows:
        cells = dict.fromkeys(row.cells)  # a spanning cell is the same object once per column
        rows.append("\t".join(" ".join(p.text.strip() for p in cell.paragraphs if p.text.strip()) for cell in cells))
    return rows


# ----------------------------------------------------------------------------------------- PDF


def _pdf(raw: bytes, file: str) -> Extracted:
    if b"%PDF-" not in raw[:1024]:
        raise DocumentUnreadable(f"{file}: is not a PDF (it has no %PDF- header); check the file.")
    # pypdf reads around a missing end by scanning for objects, which would index half a
    # document without a word: a file cut short in a download or copy is refused instead.
    if b"%%EOF" not in raw[-2048:]:
        raise DocumentUnreadable(f"{file}: is truncated (it has no %%EOF end marker); copy or download it again.")
    pages, warnings_ = [], []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentUnreadable(
                    f"{file}: is protected by a password; save a copy without the password and add that instead."
                )
            for number, page in enumerate(reader.pages, 1):
                try:
                    text = _lines(page.extract_text())
                except Exception as exc:  # one broken content stream costs one page, not the document
                    text, reason = "", f"page {number} cannot be read ({_reason(exc)})."
                else:
                    reason = f"page {number} has no text layer."
                if not text:
                    warnings_.append(reason)
                pages.append(text)
    except DocumentUnreadable:
        raise
    except pypdf.errors.DependencyError as exc:
        raise DocumentUnreadable(f"{file}: is encrypted with AES ({exc}); install pypdf[crypto].") from exc
    except Exception as exc:  # pypdf raises its PdfReadError family, but also KeyError, ValueError… on damaged files
        raise DocumentUnreadable(f"{file}: is a damaged PDF ({_reason(exc)}); export or download it again.") from exc
    if not any(pages):
        raise DocumentUnreadable(f"{file}: has no text layer (a scanned image?); OCR it first.")
    return Extracted(text="\n".join(p for p in pages if p), encoding="pdf", format="pdf", warnings=tuple(warnings_))


# -------------------------------------------------------------------------------------- shared


def _lines(text: str) -> str:
    """Each line stripped, blank lines dropped: one paragraph per line."""
    return "\n".join(line for line in (line.strip() for line in text.splitlines()) if line)


def _iso_date(value: str | None) -> str | None:
    """YYYY-MM-DD from the dates pages declare (2022-11-20T08:00, 2022/11/20, 2022年11月20日), else None."""
    match = re.search(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})", value or "")
    if match is None:
        return None
    try:
        return dt.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
