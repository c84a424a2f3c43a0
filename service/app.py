"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from chuchu.index.embedder import load_embedder
from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.settings import Settings


def create_app(settings: Settings | None = None, live: LiveIndex | None = None) -> Flask:
    """Build the app; `live` lets tests share one loaded model between apps."""
    settings = settings or Settings.load()

    from chuchu.service import access_log, api, errors, i18n, limits, metrics, openapi, pages, probes

    app = openapi.make_app(__name__)
    # No path of this site has an empty segment. Werkzeug would answer /static//etc/passwd with a
    # redirect to /static/etc/passwd, built on the Host header the client sent: a 404 says plainly
    # that there is nothing there.
    app.url_map.merge_slashes = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["chuchu"] = live or live_index(settings)
    app.extensions["chuchu.settings"] = settings

    # The request hooks run in the order installed: the access log first, so that its clock
    # starts before anything else and its line is the last thing written.
    access_log.install(app)
    metrics.install(app)
    app.register_api(api.blueprint(settings))
    app.register_api(probes.blueprint())
    app.register_blueprint(pages.bp)
    i18n.init_i18n(app)
    openapi.install(app)
    limits.install(app, settings)  # after the views: the rate limit names the ones it counts
    if settings.cors_origins:
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        CORS(app, resources={r"/api/*": {"origins": origins}}, expose_headers=[access_log.REQUEST_ID])
    errors.register(app)
    return app


def live_index(settings: Settings) -> LiveIndex:
    """The live index the settings describe; the model loads on first use. Its threads spin within
    a call when this process is the server's only worker (index.onnx_backend)."""
    return LiveIndex(
        Store(settings.store),
        lambda: load_embedder(
            settings.model, settings.model_cache, settings.embedding_backend, spinning=settings.workers == 1
        ),
        check_every=settings.reload_seconds,
    )
