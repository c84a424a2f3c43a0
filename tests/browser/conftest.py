"""The browser tier: pytest-playwright's fixtures on Debian's chromium, the service on a free port.

Playwright never downloads a browser here: ``browser_type_launch_args`` points it at the system
chromium (the Makefile installs it from Debian's packages). Screenshots go to
``test-output/screenshots/`` (git-ignored), not to pytest-playwright's ``test-results/``, which
it empties at the start of every pytest session, a unit-test run included.
"""

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these flags Chromium tries to reach Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The two widths the page is designed for: a phone and a laptop.
WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def base_url(built_store, live):
    """The service over the real corpus and model (session-scoped: pytest-playwright's context uses it)."""
    from chuchu.service.app import create_app
    from chuchu.service.settings import Settings
    from tests.conftest import MODEL_CACHE

    yield from _serve(create_app(Settings.load(store=built_store.root, model_cache=MODEL_CACHE), live))


# A corpus document that carries markup as its text, the way a scraped page pasted into a .txt
# does: it must show as text, and nothing in it may run.
INJECTED = (
    "页面注入测试\n\n"
    '<script>window.__pwned = "script"</script>'
    "<img src=x onerror=\"window.__pwned = 'img'\">"
    "花炮产业是上栗县的传统产业，今年出口交货值增长明显。\n"
)


@pytest.fixture(scope="session")
def injected_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second service over a one-document corpus with markup in its text (the fake embedder: cheap)."""
    from chuchu.index.build import build_index
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store
    from chuchu.service.app import create_app
    from chuchu.service.settings import Settings
    from tests.fakes import HashingEmbedder

    root = tmp_path_factory.mktemp("injected")
    (root / "corpus").mkdir()
    (root / "corpus" / "inject.txt").write_text(INJECTED, encoding="utf-8")
    embedder = HashingEmbedder()
    store = Store(root / "store")
    build_index(root / "corpus", store, embedder)
    yield from _serve(create_app(Settings.load(store=store.root), LiveIndex(store, lambda: embedder)))


@pytest.fixture(scope="session")
def empty_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service with no index built yet."""
    from chuchu.index.live import LiveIndex
    from chuchu.index.store import Store
    from chuchu.service.app import create_app
    from chuchu.service.settings import Settings
    from tests.fakes import HashingEmbedder

    root = tmp_path_factory.mktemp("empty")
    embedder = HashingEmbedder()
    yield from _serve(create_app(Settings.load(store=root), LiveIndex(Store(root), lambda: embedder)))


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the screenshots go: test-output/screenshots/ at the top of the repository."""
    from tests.conftest import ROOT

    folder = ROOT / "test-output" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def axe_violations() -> Callable:
    """Run axe-core inside a page; its serious and critical violations, as readable lines.

    The script is evaluated by Playwright in a context made with ``bypass_csp=True``: the page's
    own policy allows no script but ours, and must not be loosened for a test.
    """
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def run(page) -> list[str]:
        results = axe.run(page, options={"resultTypes": ["violations"]})
        found = []
        for v in results.response["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = ", ".join(str(n["target"]) for n in v["nodes"][:5])
                found.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
        return found

    return run
