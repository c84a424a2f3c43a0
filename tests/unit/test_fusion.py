import numpy as np
import pytest

from chuchu.index.fusion import Fusion, han_share


def order(scores: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(-scores, kind="stable")]


def test_han_share_counts_words_and_leaves_numbers_neutral():
    assert han_share("上埠镇今年种了多少亩一季稻") == 1.0
    assert han_share("What does renters insurance cover?") == 0.0
    assert han_share("2022") == 1.0 and han_share("") == 1.0  # no words: nothing to say against the lexical leg
    assert 0.9 < han_share("萍乡市的GDP增长了多少") < 1.0
    assert 0.2 < han_share("How many 亩 of rice did 上埠镇 plant?") < 0.6


def test_the_weight_and_the_terms_given_are_those_worked_out():
    from chuchu.corpus.terms import terms

    dense, lexical = np.array([0.80, 0.82, 0.90, 0.70]), np.array([0.0, 9.0, 1.0, 0.0])
    for question in ("医疗保险费用由哪个计划支付", "How many 亩 of rice did 上埠镇 plant?", "2022", ""):
        assert han_share(question, terms(question)) == han_share(question)
        for fusion in (Fusion(), Fusion(method="weighted-minmax")):
            weight = fusion.lexical_weight(question, terms(question))
            assert weight == fusion.lexical_weight(question)
            assert np.array_equal(
                fusion.combine(dense, lexical, question, weight), fusion.combine(dense, lexical, question)
            )


def test_an_english_question_is_ranked_by_the_dense_leg_alone():
    dense = np.array([0.80, 0.82, 0.90, 0.70])
    lexical = np.array([0.0, 9.0, 0.0, 0.0])  # a stray English word in passage 1
    fused = Fusion().combine(dense, lexical, "Which plan covers Medicare costs?")
    assert order(fused) == order(dense) == [2, 1, 0, 3]
    # The same scores for a Chinese question: the lexical leg's clear winner comes first.
    assert order(Fusion().combine(dense, lexical, "医疗保险费用由哪个计划支付"))[0] == 1


def test_a_lexical_leg_that_matched_nothing_does_not_vote():
    dense = np.array([0.2, 0.9, 0.5])
    fused = Fusion().combine(dense, np.zeros(3), "一季稻种了多少亩")
    assert order(fused) == [1, 2, 0] and np.isfinite(fused).all()


def test_a_clear_dense_winner_beats_a_lexical_lead_within_the_crowd():
    # The dense leg's winner stands six spreads above the other candidates; the lexical leg's
    # best is two spreads above its crowd. Min-max gives both bests the full scale, and one far
    # outlier (a passage about something else) squeezes the dense leg's scale, so the lexical
    # lead won; standardised on the top candidates, each lead counts for what it is.
    rng = np.random.default_rng(7)
    dense = 0.80 + 0.01 * rng.standard_normal(300)
    dense[0], dense[299] = 0.86, -0.2
    lexical = np.clip(5.0 + rng.standard_normal(300), 0.0, 6.5)
    lexical[0], lexical[1] = 5.0, 7.0
    question = "家庭保险包括游泳池吗"
    assert order(Fusion().combine(dense, lexical, question))[0] == 0
    assert order(Fusion(dense_weight=0.45, method="weighted-minmax").combine(dense, lexical, question))[0] == 1


def test_a_peaked_lexical_leg_overturns_a_close_dense_call():
    rng = np.random.default_rng(3)
    dense = 0.80 + 0.01 * rng.standard_normal(300)
    dense[0], dense[1] = 0.86, 0.855  # dense barely prefers 0
    lexical = np.abs(rng.standard_normal(300))
    lexical[1] = 25.0  # one passage has the question's rare terms
    assert order(Fusion().combine(dense, lexical, "员工人身保险是否可以扣除"))[0] == 1


def test_scores_far_below_the_top_do_not_change_the_fused_scores_of_the_top():
    rng = np.random.default_rng(11)
    dense, lexical = rng.uniform(0.5, 0.9, 150), rng.uniform(1.0, 8.0, 150)
    more_dense = np.concatenate([dense, rng.uniform(0.0, 0.1, 1000)])
    more_lexical = np.concatenate([lexical, np.zeros(1000)])
    fusion, question = Fusion(top=100), "财政总收入"
    small = fusion.combine(dense, lexical, question)
    large = fusion.combine(more_dense, more_lexical, question)
    assert np.allclose(small, large[:150])


def test_constant_and_empty_legs_give_finite_scores():
    fusion = Fusion()
    assert np.array_equal(fusion.combine(np.full(5, 0.5), np.full(5, 2.0), "税"), np.zeros(5))
    assert fusion.combine(np.zeros(0), np.zeros(0), "税").shape == (0,)


def test_the_record_names_the_method_and_loads_back():
    record = Fusion().record()
    assert record == {
        "dense_weight": 0.6,
        "context_weight": 0.3,
        "short_penalty": 0.02,
        "top": 100,
        "method": "weighted-z",
    }
    assert Fusion(**record) == Fusion()


def test_a_build_recorded_with_min_max_is_searched_as_before():
    old = Fusion(**{"dense_weight": 0.45, "context_weight": 0.3, "short_penalty": 0.02, "method": "weighted-minmax"})
    dense, lexical = np.array([0.2, 0.9, 0.5]), np.array([3.0, 0.0, 0.0])
    fused = old.combine(dense, lexical, "How many?")  # min-max had no script weighting
    assert fused == pytest.approx([0.55, 0.45, 0.45 * 0.3 / 0.7])
    assert old.combine(dense, np.zeros(3), "税") == pytest.approx([0.0, 1.0, 0.3 / 0.7])


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="weighted-z"):
        Fusion(method="rrf")


def test_the_searcher_hands_the_question_to_the_fusion(tmp_path, fake_embedder):
    from chuchu.index.build import build_index
    from chuchu.index.search import Searcher
    from chuchu.index.snapshot import read_snapshot
    from chuchu.index.store import Store

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "乙县的GDP增长了百分之十二，工业总产值创下新高，电子信息企业落户二十家。\n\n"
        "甲镇今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进。\n\n"
        "甲镇新建了三座桥梁，方便了群众出行，道路交通条件明显改善。\n",
        encoding="utf-8",
    )
    store = Store(tmp_path / "store")
    build_index(corpus, store, fake_embedder)
    searcher = Searcher(read_snapshot(store.live_path()), fake_embedder)
    assert searcher.snapshot.manifest.settings["fusion"] == Fusion().record()
    question = "What was the gdp growth?"  # shares only the stray "GDP" of the first passage
    dense = [h.passage.number for h in searcher.search(question, 3, "dense")]
    assert searcher.search(question, 1, "lexical")[0].passage.number == 1 != dense[0]
    assert [h.passage.number for h in searcher.search(question, 3, "hybrid")] == dense


def test_standardising_gives_numpy_s_own_mean_and_deviation_exactly():
    def by_numpy(x: np.ndarray, top: int = 100) -> np.ndarray:  # as it was first written
        n = min(top, len(x))
        best = np.partition(x, len(x) - n)[len(x) - n :] if n else x
        spread = float(best.std()) if n else 0.0
        return (x - float(best.mean())) / spread if spread > 0 else np.zeros_like(x)

    rng = np.random.default_rng(0)
    for i in range(600):
        n = int(rng.integers(0, 300))
        x = [rng.random(n), rng.standard_normal(n) * 30, np.where(rng.random(n) < 0.8, 0, rng.random(n) * 50)][i % 3]
        for scores in (x.astype(np.float32), x):
            got, expected = Fusion()._standardise(scores), by_numpy(scores)
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
