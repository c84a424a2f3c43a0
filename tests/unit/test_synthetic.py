"""Synthetic corpora: copies of the real corpus that keep its layout but hold distinct passages."""

from pathlib import Path

import pytest

from chuchu.corpus.documents import read_corpus
from tests.synthetic import corpus_size, is_body_line, make_corpus

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "corpus"
STEMS = sorted(p.stem for p in SOURCE.glob("*.txt"))


@pytest.fixture(scope="module")
def triple(tmp_path_factory):
    return make_corpus(SOURCE, tmp_path_factory.mktemp("triple"), 3, seed=7)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path, triple):
    again = make_corpus(SOURCE, tmp_path / "again", 3, seed=7)
    other = make_corpus(SOURCE, tmp_path / "other", 3, seed=8)
    names = sorted(p.name for p in triple.glob("*.txt"))
    assert names == sorted(p.name for p in again.glob("*.txt"))
    assert all((triple / n).read_bytes() == (again / n).read_bytes() for n in names)
    assert any((triple / n).read_bytes() != (other / n).read_bytes() for n in names)


def test_factor_3_writes_three_copies_of_each_document_and_no_catalog(triple):
    assert len(STEMS) == 5
    assert sorted(p.name for p in triple.iterdir()) == [f"{s}-c{c:03d}.txt" for s in STEMS for c in range(3)]


def test_factor_3_is_about_three_times_the_source(triple):
    assert 0.75 * 3 <= corpus_size(triple) / corpus_size(SOURCE) <= 1.25 * 3


def test_copy_0_is_the_source_verbatim(triple):
    for stem in STEMS:
        assert (triple / f"{stem}-c000.txt").read_bytes() == (SOURCE / f"{stem}.txt").read_bytes()


def test_later_copies_keep_the_layout_but_draw_new_body_lines(triple):
    for stem in STEMS:
        source = _lines(SOURCE / f"{stem}.txt")
        first, second = (_lines(triple / f"{stem}-c{c:03d}.txt") for c in (1, 2))
        assert len(first) == len(second) == len(source)
        body = [i for i, line in enumerate(source) if is_body_line(line)]
        assert body, stem
        # Everything but the body lines is unchanged: blank lines, headings, captions, chrome.
        assert [line for i, line in enumerate(first) if i not in body] == [
            line for i, line in enumerate(source) if i not in body
        ]
        # A one-sentence line may draw itself by chance; nearly all must be new, and differ between copies.
        assert sum(first[i] != source[i] for i in body) >= 0.9 * len(body)
        assert sum(first[i] != second[i] for i in body) >= 0.9 * len(body)


def test_every_file_of_a_synthetic_corpus_is_readable(triple):
    corpus = read_corpus(triple)
    assert corpus.failures == ()
    assert len(corpus.documents) == 15


def test_passages_of_a_synthetic_corpus_are_mostly_not_near_duplicates(tmp_path):
    from chuchu.corpus.splitting import split_document
    from chuchu.index.duplicates import duplicate_groups

    corpus = read_corpus(make_corpus(SOURCE, tmp_path / "ten", 10))
    texts = [p.text for d in corpus.documents for p in split_document(d)]
    groups = duplicate_groups(texts)
    repeated = sum(int(g) != i for i, g in enumerate(groups))
    # Headings, captions and short lines repeat in every copy by design; body passages must not.
    assert repeated < 0.3 * len(texts), (repeated, len(texts))
