"""Hot reload with the fake embedder: LiveIndex picking up builds, surviving bad ones, and the admin endpoint."""

import logging
import threading

import pytest

import chuchu.index.live as live_module
from chuchu.corpus.errors import IndexCorrupt
from chuchu.index.build import build_index
from chuchu.index.live import LiveIndex
from chuchu.index.snapshot import VECTORS
from chuchu.service.app import create_app
from chuchu.service.cli import main
from chuchu.service.settings import Settings

TOKEN = "s3cret-token"


def _build(small_corpus, store, embedder) -> str:
    return build_index(small_corpus, store, embedder).build_id


def _damaged_build(small_corpus, store, embedder) -> str:
    """A published build whose vector file is garbage: what a disk error or a bad copy leaves."""
    build_id = _build(small_corpus, store, embedder)
    (store.builds / build_id / VECTORS).write_bytes(b"not a faiss index")
    return build_id


def test_a_new_build_is_picked_up_after_check_every(fake_store, small_corpus, fake_embedder, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(live_module.time, "monotonic", lambda: clock[0])
    live = LiveIndex(fake_store, lambda: fake_embedder, check_every=2)
    old = live.searcher().snapshot.build_id
    new = _build(small_corpus, fake_store, fake_embedder)
    clock[0] += 1
    assert live.searcher().snapshot.build_id == old, "not looked at before check_every"
    clock[0] += 1.5
    assert live.searcher().snapshot.build_id == new == live.build_id


def test_a_build_that_cannot_be_loaded_leaves_the_old_one_serving(
    fake_store, small_corpus, fake_embedder, caplog, monkeypatch
):
    live = LiveIndex(fake_store, lambda: fake_embedder, check_every=0)
    old = live.searcher().snapshot.build_id
    bad = _damaged_build(small_corpus, fake_store, fake_embedder)
    loads = []
    real = live_module.read_snapshot
    monkeypatch.setattr(live_module, "read_snapshot", lambda path: loads.append(path.name) or real(path))
    with caplog.at_level(logging.ERROR, logger="chuchu.index.live"):
        assert live.searcher().snapshot.build_id == old
        assert live.searcher().snapshot.build_id == old
    assert live.unloadable == bad  # for /readyz
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, "logged once, not on every request"
    assert f"cannot load build {bad}, still serving build {old}" in errors[0] and VECTORS in errors[0]
    assert loads == [bad], "not tried again until the pointer changes"

    with pytest.raises(IndexCorrupt, match=f"{VECTORS}.*Still serving build {old}"):
        live.reload()
    assert loads == [bad, bad], "reload tries again"

    fixed = _build(small_corpus, fake_store, fake_embedder)
    assert live.searcher().snapshot.build_id == fixed and live.unloadable is None


def test_a_vanished_pointer_or_build_leaves_the_old_one_serving(fake_store, fake_embedder, caplog):
    live = LiveIndex(fake_store, lambda: fake_embedder, check_every=0)
    old = live.searcher().snapshot.build_id
    (fake_store.root / "CURRENT").write_text("20990101T000000-abcdef\n")
    with caplog.at_level(logging.ERROR, logger="chuchu.index.live"):
        assert live.searcher().snapshot.build_id == old
    assert "20990101T000000-abcdef" in caplog.text
    (fake_store.root / "CURRENT").unlink()
    assert live.searcher().snapshot.build_id == old


def test_without_a_build_loaded_the_error_is_still_raised(tmp_path, fake_embedder):
    from chuchu.corpus.errors import IndexMissing
    from chuchu.index.store import Store

    with pytest.raises(IndexMissing, match="chuchu build"):
        LiveIndex(Store(tmp_path), lambda: fake_embedder).searcher()


def test_other_threads_answer_from_the_old_build_while_one_loads_the_new(
    fake_store, small_corpus, fake_embedder, monkeypatch
):
    live = LiveIndex(fake_store, lambda: fake_embedder, check_every=0)
    old = live.searcher().snapshot.build_id
    new = _build(small_corpus, fake_store, fake_embedder)
    loading, release = threading.Event(), threading.Event()
    real = live_module.read_snapshot

    def slow(path):
        loading.set()
        assert release.wait(10)
        return real(path)

    monkeypatch.setattr(live_module, "read_snapshot", slow)
    got = []
    loader = threading.Thread(target=lambda: got.append(live.searcher().snapshot.build_id))
    loader.start()
    try:
        assert loading.wait(10)
        assert live.searcher().snapshot.build_id == old, "not kept waiting for the load"
    finally:
        release.set()
        loader.join(10)
    assert got == [new] and live.searcher().snapshot.build_id == new


# The admin endpoint.


@pytest.fixture()
def admin(fake_store, fake_embedder):
    """A client whose service looks at the pointer only once an hour, so only a forced reload sees a build."""
    settings = Settings.load(store=fake_store.root, admin_token=TOKEN)
    live = LiveIndex(fake_store, lambda: fake_embedder, check_every=3600)
    return create_app(settings, live).test_client()


def _assert_forbidden(response, words):
    assert response.status_code == 403
    body = response.get_json()
    assert body == {"error": {"status": 403, "code": "forbidden", "message": body["error"]["message"]}}
    assert words in body["error"]["message"]


def test_the_admin_reload_is_disabled_without_a_token(fake_client):
    _assert_forbidden(fake_client.post("/api/admin/reload"), "disabled; set CHUCHU_ADMIN_TOKEN")


def test_the_admin_reload_wants_the_token(admin):
    _assert_forbidden(admin.post("/api/admin/reload"), "missing or wrong")
    _assert_forbidden(admin.post("/api/admin/reload", headers={"Authorization": "Bearer nope"}), "missing or wrong")
    _assert_forbidden(admin.post("/api/admin/reload", headers={"Authorization": TOKEN}), "Authorization: Bearer")
    assert admin.get("/api/admin/reload").status_code == 405


def test_the_admin_reload_loads_a_new_build_at_once(admin, fake_store, small_corpus, fake_embedder):
    old = admin.get("/healthz").get_json()["build"]["id"]
    new = _build(small_corpus, fake_store, fake_embedder)
    assert admin.get("/api/search", query_string={"q": "甲镇"}).get_json()["build"]["id"] == old
    response = admin.post("/api/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["reloaded"] is True and body["build"]["id"] == new and body["previous"] == old
    assert isinstance(body["worker"], int)
    assert admin.get("/api/search", query_string={"q": "甲镇"}).get_json()["build"]["id"] == new
    again = admin.post("/api/admin/reload", headers={"Authorization": f"bearer {TOKEN}"}).get_json()
    assert again["reloaded"] is False and again["build"]["id"] == new


def test_the_admin_reload_of_a_damaged_build_says_what_still_serves(admin, fake_store, small_corpus, fake_embedder):
    old = admin.get("/healthz").get_json()["build"]["id"]
    _damaged_build(small_corpus, fake_store, fake_embedder)
    response = admin.post("/api/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "index_corrupt" and error["message"].endswith(f"Still serving build {old}.")
    assert admin.get("/api/search", query_string={"q": "甲镇"}).get_json()["build"]["id"] == old


def test_the_admin_token_is_not_shown(capsys, monkeypatch):
    monkeypatch.setenv("CHUCHU_ADMIN_TOKEN", TOKEN)
    settings = Settings.load()
    assert settings.admin_token == TOKEN and TOKEN not in repr(settings)
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out and "CHUCHU_ADMIN_TOKEN=(set)" in out and "CHUCHU_KEEP_BUILDS=3" in out
