"""Serving the app with gunicorn, a production WSGI server."""

from __future__ import annotations

import re
from typing import Any

import gunicorn.http.message
from gunicorn.app.base import BaseApplication

from chuchu.service.app import create_app
from chuchu.service.settings import Settings

# RFC 9112 wants non-ASCII bytes in a URL percent-encoded, and gunicorn rejects the request
# otherwise. Browsers encode; curl and scripts send a Chinese question as raw UTF-8, which is
# this service's main use. So bytes 0x80-0xFF (seen here as latin-1) are let through in the
# request target; spaces and control characters stay invalid. tests/integration/test_serve.py
# sends such a request, so a gunicorn that parses differently fails the suite, not users.
gunicorn.http.message.RFC9112_TARGET_INVALID = re.compile(r"[^\x21-\x7e\x80-\xff]")


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        config = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": self.settings.workers,
            "threads": self.settings.threads,
            "worker_class": "gthread",
            # Loading the model takes seconds; the default 30 s timeout is kept for requests.
            "timeout": 120,
            "loglevel": self.settings.log_level.lower(),
            "accesslog": "-",
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Each worker builds its own app and loads the model and index before taking requests,
        # so the first question is as fast as the rest.
        app = create_app(self.settings)
        live = app.extensions["chuchu"]
        live.warm_up()
        return app


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until interrupted."""
    _Gunicorn(settings).run()
