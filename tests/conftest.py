"""Shared fixtures: the real model loaded once per session, one real index built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DEV_QUESTIONS = Path(__file__).parent / "data" / "dev.jsonl"
# 12 unanswerable questions of realistic shapes and 12 answerable ones of the same shapes.
DEV_ABSTAIN = Path(__file__).parent / "data" / "dev_abstain.jsonl"
# The default model is converted once into the project's cache and reused by later runs.
MODEL_CACHE = ROOT / "var" / "models"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the CHUCHU_* settings of the shell that runs it."""
    for name in list(os.environ):
        if name.startswith("CHUCHU_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedder():
    """The real default model, loaded once."""
    from chuchu.index.embedder import load_embedder

    return load_embedder("default", MODEL_CACHE)


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory, embedder):
    """A real index of the real corpus, built once into a temporary store."""
    from chuchu.index.build import build_index
    from chuchu.index.store import Store

    store = Store(tmp_path_factory.mktemp("store"))
    build_index(CORPUS, store, embedder)
    return store


@pytest.fixture(scope="session")
def live(built_store, embedder):
    """The live index over the session's build, sharing the loaded model."""
    from chuchu.index.live import LiveIndex

    return LiveIndex(built_store, lambda: embedder)


@pytest.fixture()
def settings(built_store):
    from chuchu.service.settings import Settings

    return Settings.load(store=built_store.root, model_cache=MODEL_CACHE)


@pytest.fixture()
def app(settings, live):
    from chuchu.service.app import create_app

    return create_app(settings, live)


@pytest.fixture()
def client(app):
    return app.test_client()
