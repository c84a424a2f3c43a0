"""The ONNX Runtime backend: the torch model's vectors and fingerprint, exported once; int8 kept apart."""

import json

import numpy as np
import pytest

from chuchu.corpus.errors import ModelError
from chuchu.index.default_model import ensure_default_model
from chuchu.index.embedder import load_embedder
from chuchu.index.onnx_backend import EXPORT, onnx_folder
from tests.conftest import DEV_QUESTIONS, MODEL_CACHE

pytestmark = pytest.mark.integration

PASSAGES = [
    "今年,上埠镇坚决扛稳粮食安全责任,完成一季稻种植12330亩。",
    "短句。",
    "国家发改委印发《湘赣边区域合作示范区建设总体方案》,萍乡全域纳入示范区范围。" * 4,
]


@pytest.fixture(scope="module")
def torch_model():
    return load_embedder("default", MODEL_CACHE, "torch")


def test_onnx_makes_the_torch_vectors_with_the_same_fingerprint(embedder, torch_model):
    questions = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()][:8]
    onnx = load_embedder("default", MODEL_CACHE, "onnx")
    assert (onnx.name, onnx.fingerprint, onnx.dimension) == (torch_model.name, torch_model.fingerprint, 384)
    for a, b in (
        (onnx.embed_queries(questions), torch_model.embed_queries(questions)),
        (onnx.embed_passages(PASSAGES, batch_size=2), torch_model.embed_passages(PASSAGES)),
    ):
        assert a.dtype == np.float32 and a.shape == b.shape
        assert (a * b).sum(axis=1).min() > 0.9999
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)


def test_the_export_is_made_once_and_int8_is_another_model(torch_model):
    load_embedder("default", MODEL_CACHE, "onnx")
    folder = onnx_folder(ensure_default_model(MODEL_CACHE), MODEL_CACHE)
    stamp = (folder / EXPORT).stat().st_mtime_ns
    int8 = load_embedder("default", MODEL_CACHE, "onnx-int8")
    assert (folder / EXPORT).stat().st_mtime_ns == stamp  # not exported again
    assert int8.fingerprint != torch_model.fingerprint  # its vectors never mix with the model's
    cosines = (int8.embed_passages(PASSAGES) * torch_model.embed_passages(PASSAGES)).sum(axis=1)
    assert cosines.min() > 0.99


def test_passages_of_many_lengths_in_many_calls_keep_their_rows(torch_model):
    onnx = load_embedder("default", MODEL_CACHE, "onnx")
    # Texts of many lengths, cut into length-sorted calls: each vector must land on its own text.
    texts = [PASSAGES[i % 3][: 5 + 7 * i] for i in range(40)]
    together = onnx.embed_passages(texts, batch_size=2)
    one_by_one = np.concatenate([onnx.embed_passages([t]) for t in texts])
    assert (together * one_by_one).sum(axis=1).min() > 0.99999
    assert (together * torch_model.embed_passages(texts)).sum(axis=1).min() > 0.9999


def test_a_spinning_session_makes_the_same_vectors_and_a_server_of_one_worker_spins(embedder):
    from chuchu.service.app import live_index
    from chuchu.service.settings import Settings

    def spins(model) -> str:
        return model._session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")

    spinning, sleeping = (load_embedder("default", MODEL_CACHE, "onnx", spinning=s) for s in (True, False))
    assert (spins(spinning), spins(sleeping)) == ("1", "0")
    assert np.array_equal(spinning.embed_queries(PASSAGES), sleeping.embed_queries(PASSAGES))
    for workers, expected in ((1, "1"), (2, "0")):
        settings = Settings.load(env={}, workers=workers, model_cache=MODEL_CACHE)
        assert spins(live_index(settings)._load_embedder()) == expected, workers


def test_an_unknown_backend_is_refused():
    with pytest.raises(ModelError, match="onnx-int8"):
        load_embedder("default", MODEL_CACHE, "tensorrt")
