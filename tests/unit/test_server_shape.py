"""The shape of `chuchu serve`: one worker of many threads by default, what the master preloads."""

import gc
import sys

from chuchu.service import server
from chuchu.service.settings import Settings


def test_the_default_server_is_one_worker_of_sixteen_threads():
    settings = Settings.load(env={})
    assert (settings.workers, settings.threads) == (1, 16)
    app = server._Gunicorn(settings)
    assert (app.cfg.workers, app.cfg.threads, app.cfg.worker_class_str) == (1, 16, "gthread")
    assert not app.cfg.preload_app, "the app (and its ONNX Runtime session) is made in the worker, after the fork"
    assert app.cfg.pre_fork is not None


def test_the_settings_still_choose_the_shape():
    settings = Settings.load(env={"CHUCHU_WORKERS": "2", "CHUCHU_THREADS": "4"})
    app = server._Gunicorn(settings)
    assert (app.cfg.workers, app.cfg.threads) == (2, 4)


def test_the_master_preloads_only_what_forks_safely(tmp_path, monkeypatch):
    # No model prepared in this cache: nothing of the model is loaded (the first worker prepares it),
    # and above all no ONNX Runtime session is made in the master.
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    server.preload_shared(Settings.load(env={}, model_cache=tmp_path / "models"))
    assert "onnxruntime" not in sys.modules
    from chuchu.index.question import reading

    assert reading._posseg.cache_info().currsize == 1, "jieba's dictionary is loaded, to be shared"


def test_freezing_before_a_fork_is_harmless():
    try:
        server._before_fork(None, None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
