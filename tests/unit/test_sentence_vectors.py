"""Sentence vectors made at build time, the answering sentence picked from them, and the faster
term matching of the answering sentence, with the fake embedder."""

import json
import random
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chuchu.corpus.documents import read_corpus
from chuchu.corpus.errors import IndexCorrupt
from chuchu.corpus.splitting import split_document
from chuchu.corpus.terms import fold, terms
from chuchu.index import sentence_vectors
from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.question.reading import read_question
from chuchu.index.question.sentence import passage_sentences, shared_terms
from chuchu.index.search import Searcher
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store
from tests.fakes import CountingEmbedder, HashingEmbedder

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
# Questions sharing no term with the Chinese passages: their answering sentences are picked by meaning.
ENGLISH = [
    "How many mu of single-season rice did Shangbu town plant this year?",
    "Which villages were named as demonstration villages?",
    "What are the main industries of the town?",
    "When was the new bridge opened to traffic?",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("sentences")
    model = CountingEmbedder()
    with EmbeddingCache(root / "cache", model.fingerprint, model.dimension) as cache:
        summary = build_index(CORPUS, Store(root / "store"), model, cache=cache)
    return root, summary, model


def _expected_sentences() -> list[list[str]]:
    out = []
    for document in read_corpus(CORPUS).documents:
        for passage in split_document(document):
            out.append(sentence_vectors.sentence_texts(document.text, passage))
    return out


def test_a_build_stores_the_vectors_of_the_sentences_of_passages_of_several(built):
    _, summary, _ = built
    expected = _expected_sentences()
    assert any(len(s) > 1 for s in expected) and all(len(s) != 1 for s in expected)
    manifest = json.loads((summary.path / "manifest.json").read_text(encoding="utf-8"))
    count = sum(len(s) for s in expected)
    assert manifest["settings"]["sentences"] == {"count": count, "dtype": "float16"}
    assert {sentence_vectors.VECTORS, sentence_vectors.OFFSETS} <= set(manifest["files"])
    assert not (summary.path / sentence_vectors.SPOOL).exists(), "the spool is not part of a published build"
    snapshot = read_snapshot(summary.path)
    stored = sentence_vectors.load(summary.path, manifest["settings"]["sentences"], len(snapshot.passages), 64)
    assert stored is not None and stored.vectors.dtype == np.float16
    for i, texts in enumerate(expected):
        vectors = stored.of(i)
        assert len(vectors) == len(texts)
        if texts:
            assert np.allclose(vectors, HashingEmbedder().embed_passages(texts), atol=1e-3)


def test_an_unchanged_rebuild_takes_the_sentence_vectors_from_the_cache(built):
    root, _, _ = built
    model = CountingEmbedder()
    with EmbeddingCache(root / "cache", model.fingerprint, model.dimension) as cache:
        again = build_index(CORPUS, Store(root / "store"), model, cache=cache)
    assert model.texts == [], "nothing embedded: passages and sentences all came from the cache"
    assert again.embedded == 0


def test_the_answering_sentence_by_meaning_is_the_same_from_stored_vectors_as_embedded_now(built):
    _, summary, _ = built
    model = CountingEmbedder()
    searcher = Searcher(read_snapshot(summary.path), model)
    stored = [[h.answer for h in searcher.run(q, 10).hits] for q in ENGLISH]
    assert model.texts == [], "the stored vectors were used: nothing embedded at question time"
    searcher._sentences = None  # as a build made before sentence vectors: embedded at question time
    embedded = [[h.answer for h in searcher.run(q, 10).hits] for q in ENGLISH]
    assert model.texts, "without stored vectors the sentences are embedded at question time"
    assert stored == embedded


def test_a_build_without_sentence_vectors_is_still_answered(built):
    _, summary, _ = built
    snapshot = read_snapshot(summary.path)
    settings = {k: v for k, v in snapshot.manifest.settings.items() if k != "sentences"}
    older = replace(snapshot, manifest=replace(snapshot.manifest, settings=settings))
    model = CountingEmbedder()
    hits = Searcher(older, model).run(ENGLISH[0], 5).hits
    assert all(h.answer is not None for h in hits) and model.texts


def test_sentence_vectors_that_do_not_match_the_build_are_refused(built, tmp_path):
    _, summary, _ = built
    record = json.loads((summary.path / "manifest.json").read_text(encoding="utf-8"))["settings"]["sentences"]
    passages = len(read_snapshot(summary.path).passages)
    for name in (sentence_vectors.VECTORS, sentence_vectors.OFFSETS):
        (tmp_path / name).write_bytes((summary.path / name).read_bytes())
    with pytest.raises(IndexCorrupt, match="do not match"):
        sentence_vectors.load(tmp_path, record, passages + 1, 64)
    with pytest.raises(IndexCorrupt, match="do not match"):
        sentence_vectors.load(tmp_path, {**record, "count": record["count"] + 1}, passages, 64)
    (tmp_path / sentence_vectors.VECTORS).write_bytes(b"not numpy")
    with pytest.raises(IndexCorrupt, match="cannot be read"):
        sentence_vectors.load(tmp_path, record, passages, 64)
    assert sentence_vectors.load(tmp_path, None, passages, 64) is None


def test_a_corpus_of_passages_of_one_sentence_stores_no_sentence_vectors(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    lines = [
        "甲镇今年新建桥梁三座，投入资金三百万元，方便了两岸群众的日常出行",
        "乙镇今年新建公园两座，周边群众休闲健身更方便了，受到普遍的欢迎",
    ]
    (corpus / "a.txt").write_text("\n\n".join(line + "。" for line in lines) + "\n", encoding="utf-8")
    summary = build_index(corpus, Store(tmp_path / "store"), HashingEmbedder())
    snapshot = read_snapshot(summary.path)
    assert snapshot.manifest.settings["sentences"]["count"] == 0
    hits = Searcher(snapshot, HashingEmbedder()).run(ENGLISH[0], 2).hits
    assert [h.answer for h in hits] == [passage_sentences(h.document.text, h.passage)[0] for h in hits]


def test_shared_terms_finds_exactly_the_terms_the_whole_cut_would():
    rng = random.Random(0)
    sentences = [s for texts in _expected_sentences() for s in texts][:400]
    sentences += ["完成一季稻种植12330亩、晚稻3802.87亩", "GDP增长5.2%，5G基站300个", "乾隆年间的石桥①号"]
    vocabulary = sorted({t for s in sentences for t in terms(s)} | {"亩", "12330", "gdp", "5g", "的", "zz"})
    for sentence in sentences:
        cut = set(terms(sentence))
        for _ in range(5):
            wanted = set(rng.sample(vocabulary, 12)) | set(rng.sample(sorted(cut or {"x"}), min(3, len(cut))))
            assert shared_terms(wanted, fold(sentence)) == wanted & cut, sentence


def test_shared_han_terms_alone_are_those_of_the_whole_cut():
    # Han terms only (a Chinese question without figures): the runs are cut out in one call.
    rng = random.Random(1)
    sentences = [s for texts in _expected_sentences() for s in texts][:400]
    sentences += ["完成一季稻种植12330亩、晚稻3802.87亩地", "第3年度GDP增长5.2%", "a1亩b 1.2.3万元年 ①号桥x亩"]
    han = sorted(
        {t for s in sentences for t in terms(s) if "\u3400" <= t[0] <= "\u9fff"} | {"亩", "亩地", "元年", "的"}
    )
    for sentence in sentences:
        cut = set(terms(sentence))
        for _ in range(5):
            wanted = set(rng.sample(han, 12)) | {
                t for t in rng.sample(sorted(cut or {"x"}), min(3, len(cut))) if t in han
            }
            assert shared_terms(wanted, fold(sentence)) == wanted & cut, sentence


def test_the_faster_answering_sentence_is_the_one_the_whole_cut_picks():
    from chuchu.index.question.kinds import gives
    from chuchu.index.question.sentence import _SUPPLY_BONUS, best_sentence

    def by_whole_cut(asking, text, passage, idf):  # the answering sentence as it was first written
        wanted, best, best_score = set(asking.content), None, 0.0
        for span in passage_sentences(text, passage):
            sentence = text[span.start : span.end]
            score = sum(idf(t) for t in wanted.intersection(terms(sentence)))
            if score > 0 and asking.kind and gives(asking, sentence):
                score *= 1 + _SUPPLY_BONUS
            if score > best_score:
                best, best_score = span, score
        return best

    documents = read_corpus(CORPUS).documents
    pairs = [(d, p) for d in documents for p in split_document(d)]
    # Weights in quarters: their sums are exact in any order, so ties stay ties whichever order
    # the terms are added in (the whole cut added them in a set's order, the faster way sorted).
    idf = {t: 1.0 + zlib.crc32(t.encode()) % 7 / 4 for d, p in pairs for t in terms(p.text)}.get
    questions = ["上埠镇今年种了多少亩一季稻", "萍乡市的森林覆盖率是多少", "余江区哪两个卫生院建设完成了", *ENGLISH]
    for question in questions:
        asking = read_question(question)
        for document, passage in pairs:
            found = best_sentence(asking, document.text, passage, lambda t: idf(t, 0.0))
            assert found == by_whole_cut(asking, document.text, passage, lambda t: idf(t, 0.0))
