"""Bad corpus input: each bad file named, none stopping the build, nothing outside the corpus read.

Empty, binary, invalid UTF-8 and damaged files, links leading out of the corpus, nowhere or in
a loop, a file removed or swapped for a link while the build runs, and one 50 MB line. The fake
embedder keeps it fast; the long line runs in child processes, so their peak memory is its own.

CHUCHU_SOAK_LINE_MB sets the size of the long line (default 6; `make soak` runs 50).
"""

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import chuchu.index.build as build_module
from chuchu.index.build import build_index
from chuchu.index.corpus_check import check_corpus, format_report
from chuchu.index.search import Searcher
from chuchu.index.snapshot import DOCUMENTS, PASSAGES, read_snapshot
from chuchu.index.store import Store
from chuchu.service.cli import main
from tests import soak
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
SECRET = "机密口令七七四九"  # in files outside the corpus only: found in any output, it was read
GOOD = {
    "a.txt": "甲镇今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进，群众收入明显提高。\n",
    "sub/b.txt": "乙县引进了电子信息企业二十家，工业总产值增长百分之十二，新增就业岗位三千多个。\n",
}
# Each bad file, and words its report must hold.
BAD = {
    "empty.txt": "has no text",
    "blank.md": "has no text",
    "binary.txt": "looks binary",
    "control.txt": "looks binary",
    "invalid-utf8.txt": "is not UTF-8 (invalid continuation byte at byte offset",
    "broken.docx": "is not a readable .docx file",
    "broken.pdf": "is not a PDF",
    "cut.pdf": "is truncated",
    "escape.txt": "is a symbolic link to",  # ... outside the corpus directory; it is not followed
    "outside-dir": "outside the corpus directory",
    "dangling.txt": "which does not exist",
    "loop.txt": "loops",
}
SOAK_LINE_MB = soak.LINE_MB
pytestmark = pytest.mark.soak


@pytest.fixture()
def bad_corpus(tmp_path) -> Path:
    """A corpus of two good files and every kind of bad one, beside a folder it must not read."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_text(
        f"{SECRET}，这一行绝不能出现在索引里，也不能出现在任何报告里。\n", encoding="utf-8"
    )
    (outside / "folder" / "more.txt").write_text(f"{SECRET}，文件夹里的第二份机密材料同样不能读。\n", encoding="utf-8")
    root = tmp_path / "corpus"
    for name, text in GOOD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.md").write_text(" \n\u3000\n\t\n", encoding="utf-8")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (root / "control.txt").write_bytes(bytes(range(1, 9)) * 200 + "有几个汉字".encode())
    text = ("上埠镇今年种植一季稻一万多亩，比去年增加了不少。" * 20).encode()
    (root / "invalid-utf8.txt").write_bytes(text[:100] + b"\xff" + text[100:])
    (root / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip file")
    (root / "broken.pdf").write_bytes(b"this is no pdf at all")
    (root / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n")
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "outside-dir").symlink_to(outside / "folder", target_is_directory=True)
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    (root / "alias.txt").symlink_to(root / "a.txt")  # a link inside the corpus is read
    (root / "inside-dir").symlink_to(root / "sub", target_is_directory=True)  # its files are read as sub/
    return root


@pytest.fixture()
def opened(monkeypatch):
    """Every path the process opens while the test runs (Python's audit hook "open")."""
    paths: list[str] = []
    _OPENED.append(paths)
    yield paths
    _OPENED.remove(paths)


_OPENED: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _OPENED and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED[-1].append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed; this one records only while a test asks


def _assert_named(reports: list[str]) -> None:
    for name, words in BAD.items():
        found = [r for r in reports if r.startswith(f"{name}:")]
        assert len(found) == 1 and words in found[0], (name, reports)
    assert len(reports) == len(BAD), reports


def _assert_nothing_outside_read(opened: list[str], root: Path) -> None:
    outside = (str(root.parent / "outside"), str((root.parent / "outside").resolve()))
    assert opened, "the audit hook saw no file opened at all"
    assert not [p for p in opened if p.startswith(outside)], "a file outside the corpus was opened"


def test_the_corpus_check_names_every_bad_file_and_reads_nothing_outside(bad_corpus, opened, capsys):
    report = check_corpus(bad_corpus)
    assert sorted(d.file for d in report.documents) == ["a.txt", "alias.txt", "sub/b.txt"]
    _assert_named(list(report.unreadable))
    _assert_nothing_outside_read(opened, bad_corpus)

    assert main(["corpus", "check", "--corpus", str(bad_corpus)]) == 0
    out = capsys.readouterr().out
    for name in BAD:
        assert f"UNREADABLE {name}: " in out
    assert f"3 documents, 3 passages, {len(BAD)} unreadable" in out and SECRET not in out
    assert main(["corpus", "check", "--corpus", str(bad_corpus), "--strict"]) == 2
    assert format_report(report) in capsys.readouterr().out


def test_a_build_skips_every_bad_file_by_name_and_indexes_the_rest(bad_corpus, tmp_path, opened):
    store = Store(tmp_path / "store")
    summary = build_index(bad_corpus, store, HashingEmbedder())
    _assert_named(list(summary.failures))
    _assert_nothing_outside_read(opened, bad_corpus)
    snapshot = read_snapshot(store.live_path())
    assert sorted(d.file for d in snapshot.documents.values()) == ["a.txt", "alias.txt", "sub/b.txt"]
    for name in (PASSAGES, DOCUMENTS):
        assert SECRET not in (store.live_path() / name).read_text(encoding="utf-8")
    [hit, *_] = Searcher(snapshot, HashingEmbedder()).search("一季稻种植12330亩", 3)
    assert hit.passage.file in ("a.txt", "alias.txt") and "12330亩" in hit.passage.text


def test_chuchu_build_reports_each_bad_file_and_strict_stops_without_publishing(
    bad_corpus, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("chuchu.service.cli._embedder", lambda settings: HashingEmbedder())
    monkeypatch.setenv("CHUCHU_EMBEDDING_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "store"
    args = ["build", "--corpus", str(bad_corpus), "--store", str(store)]
    assert main(args) == 0
    captured = capsys.readouterr()
    skipped = [line.removeprefix("chuchu: skipped ") for line in captured.err.splitlines() if "chuchu: skipped" in line]
    _assert_named(skipped)
    assert f"{len(BAD)} files unreadable, skipped" in captured.out and "Traceback" not in captured.err
    live = Store(store).live_id()

    assert main([*args, "--strict"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"chuchu: [\w.-]+: .*--strict stops at the first unreadable file", err), err
    assert Store(store).live_id() == live and not list(Store(store).builds.glob("*.partial"))


def test_a_file_removed_or_swapped_for_a_link_while_the_build_runs_is_named(bad_corpus, tmp_path, monkeypatch):
    """The build lists the corpus, then reads it file by file: files change in between."""
    for name in BAD:  # only the good files, and two more to lose
        (bad_corpus / name).unlink()
    (bad_corpus / "c.txt").write_text(
        "丙村修通了水泥路，村民出行更加方便，农产品也能及时运出去销售。\n", encoding="utf-8"
    )
    (bad_corpus / "d.txt").write_text(
        "丁乡建成了光伏电站，年发电量可达五十万千瓦时，集体经济明显壮大。\n", encoding="utf-8"
    )
    real_split = build_module.split_document
    done = []

    def split_then_change(document, options):
        if not done:  # once the first document is read, the build has listed all the others
            (bad_corpus / "c.txt").unlink()
            (bad_corpus / "d.txt").unlink()
            (bad_corpus / "d.txt").symlink_to(tmp_path / "outside" / "secret.txt")
            done.append(document.file)
        return real_split(document, options)

    monkeypatch.setattr(build_module, "split_document", split_then_change)
    store = Store(tmp_path / "store")
    summary = build_index(bad_corpus, store, HashingEmbedder())
    assert done == ["a.txt"]
    assert [f.split(":")[0] for f in summary.failures] == ["c.txt", "d.txt"]
    assert "c.txt: no longer exists (it was removed while the corpus was read)" in summary.failures[0]
    assert "outside the corpus directory; it is not followed" in summary.failures[1]
    assert summary.documents == 3 and store.live_id() == summary.build_id
    assert SECRET not in (store.live_path() / DOCUMENTS).read_text(encoding="utf-8")


def test_a_catalog_linked_from_outside_the_corpus_is_refused(bad_corpus, tmp_path):
    from chuchu.corpus.errors import CorpusError

    catalog = tmp_path / "outside" / "catalog.json"
    catalog.write_text(json.dumps({"a.txt": {"title": SECRET}}), encoding="utf-8")
    (bad_corpus / "catalog.json").symlink_to(catalog)
    with pytest.raises(CorpusError, match="catalog.*outside the corpus directory, and is not followed"):
        check_corpus(bad_corpus)


# One 50 MB line ---------------------------------------------------------------------------------

# Run in a child process: read and split the corpus directories named on the command line, the
# long line's first, and print per directory the seconds, passages, characters covered and the
# peak resident memory so far; and the peak before reading anything. (Linux: /proc.)
_MEASURE = r"""
import json, re, sys, time
from pathlib import Path
from chuchu.corpus.documents import scan_corpus
from chuchu.corpus.splitting import SplitOptions, split_document
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec.
status = Path("/proc/self/status")
rss = lambda: int(re.search(r"VmHWM:\s*(\d+)", status.read_text()).group(1)) / 1024
out = {"base_mb": rss()}
for directory in sys.argv[1:]:
    began, passages, covered = time.perf_counter(), 0, 0
    for document in scan_corpus(Path(directory)):
        for passage in split_document(document, SplitOptions()):
            passages += 1
            covered += sum(end - start for start, end in passage.pieces or [(passage.start, passage.end)])
    out[directory] = {"seconds": time.perf_counter() - began, "passages": passages, "covered": covered,
                      "peak_mb": rss(), "chars": len(document.text)}
print(json.dumps(out))
"""


def _long_text(megabytes: float, seed: int = 0) -> str:
    """Sentences of two to four clauses drawn at random from the corpus: reads like it, but no passage repeats.

    Repeating the corpus itself would not do: thousands of copies of each passage make the
    near-duplicate finder, not the reader, the cost (see tests/synthetic.py).
    """
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    clauses = [c for c in re.split(r"[，。！？；\s]+", text) if len(c) >= 4]
    rng, size, parts = random.Random(seed), int(megabytes * 2**20), []
    while size > 0:
        sentence = "，".join(rng.choice(clauses) for _ in range(rng.randint(2, 4))) + "。"
        parts.append(sentence)
        size -= len(sentence.encode())
    return "".join(parts)


def test_one_huge_line_is_read_in_linear_time_and_bounded_memory(tmp_path, capsys):
    text = _long_text(SOAK_LINE_MB)
    line, paragraphs = tmp_path / "line", tmp_path / "paragraphs"
    line.mkdir(), paragraphs.mkdir()
    (line / "huge.txt").write_text(text, encoding="utf-8")
    # The same text in paragraphs of eight sentences: what a reader's time for it should be.
    sentences = text.split("。")
    (paragraphs / "huge.txt").write_text(
        "\n".join("。".join(sentences[i : i + 8]) + "。" for i in range(0, len(sentences), 8)), encoding="utf-8"
    )
    size_mb = (line / "huge.txt").stat().st_size / 2**20
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(line), str(paragraphs)],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    one, many = figures[str(line)], figures[str(paragraphs)]
    grown = one["peak_mb"] - figures["base_mb"]
    with capsys.disabled():
        print(
            f"\none {size_mb:.1f} MB line ({one['chars']:,} characters): read and split in {one['seconds']:.1f} s "
            f"into {one['passages']:,} passages, peak RSS {one['peak_mb']:.0f} MB ({grown:.0f} MB over the "
            f"{figures['base_mb']:.0f} MB interpreter); the same text in paragraphs {many['seconds']:.1f} s"
        )
    # Every character of it ends up in a passage: not dropped as a menu or a counter.
    assert one["covered"] >= 0.99 * one["chars"] and one["passages"] >= one["chars"] / 400
    # Memory: the file held a few times over (bytes, text, lines), never one object per character
    # (len(findall) over it once took 16 times the file on top). Measured: about 9 times at 8 MB.
    assert grown <= 16 * size_mb, figures
    # Time: no slower than the same text in paragraphs, give or take a shared machine (a copy of
    # the rest of the line at every sentence end made it 6 times slower at 8 MB, 50 at 50 MB).
    assert one["seconds"] <= 3 * many["seconds"] + 1, figures


def test_a_long_paragraph_that_mentions_a_forum_or_a_post_time_is_text_not_chrome():
    """Chrome is short: a paragraph holding its words once (or a whole file on one line) is text."""
    from chuchu.corpus.layout import read_layout

    paragraph = (
        "记者在萍乡论坛 » 城事民生版块看到，这篇帖子发表于 2021-9-4 06:28:35，很快引来众多网友讨论，"
        + "大家纷纷表示建设东路东延以后，芦溪到市区的通勤时间将明显缩短，沿线的产业布局也会随之调整。" * 4
    )
    text = f"{paragraph}\n发表于 2021-9-4 06:28:35 | 显示全部楼层\n"
    layout = read_layout(text)
    assert [b.kind for b in layout.blocks] == ["body", "boilerplate"]
    assert layout.blocks[0].text(text) == paragraph and layout.blocks[1].note == "post time"
