"""The API against its own OpenAPI document: schemathesis generates requests from /openapi.json,
valid and invalid, sends them to the app (the fake embedder's index) and checks every response:
no 5xx, every status and body as the spec describes, invalid input refused, valid input accepted.
"""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import missing_required_header

from chuchu.index.build import build_index
from chuchu.index.live import LiveIndex
from chuchu.index.store import Store
from chuchu.service.app import create_app
from chuchu.service.settings import Settings
from tests import soak
from tests.fakes import HashingEmbedder

# Per operation and phase; derandomized, so a run is the same run every time. CHUCHU_FUZZ_EXAMPLES
# raises it for a soak, as it does for tests/unit/test_fuzz.py.
MAX_EXAMPLES = soak.FUZZ_EXAMPLES
pytestmark = pytest.mark.soak
TOKEN = "contract-token"


def _settings(store: Path) -> Settings:
    # An admin token, so that the reload endpoint is enabled and its 403 is the wrong token's.
    return Settings.load({}, store=store, admin_token=TOKEN)


def _document() -> dict:
    """The app's OpenAPI document; it depends on the settings only, so no index is needed."""
    app = create_app(_settings(Path("/nonexistent")), LiveIndex(Store(Path("/nonexistent")), HashingEmbedder))
    return app.test_client().get("/openapi.json").get_json()


# Loaded at import, for pytest to make one test per operation. (schemathesis.pytest.from_fixture
# would load it from a fixture, but does not run under pytest 9: it sets a node attribute that
# pytest no longer has.)
schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory):
    """The app over a small index built with the fake embedder."""
    corpus = tmp_path_factory.mktemp("contract-corpus")
    (corpus / "a.txt").write_text("甲镇报告\n甲镇今年种植一季稻12330亩，比去年增加了不少。\n", encoding="utf-8")
    (corpus / "b.txt").write_text("乙县引进了电子信息企业二十家，工业总产值增长百分之十二。\n", encoding="utf-8")
    embedder = HashingEmbedder()
    store = Store(tmp_path_factory.mktemp("contract-store"))
    build_index(corpus, store, embedder)
    return create_app(_settings(store.root), LiveIndex(store, lambda: embedder))


@pytest.fixture(scope="module")
def tally(request):
    """Counts the requests schemathesis sent, and prints the figures after the module."""
    seen: dict = {"requests": 0, "failed": 0, "operations": set()}
    yield seen
    if seen["requests"]:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(
                f"\nschemathesis: {seen['requests']} requests over {len(seen['operations'])} operations, "
                f"{seen['failed']} failed"
            )


@schema.parametrize()
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
def test_every_response_keeps_the_contract(case, contract_app, tally):
    # The admin endpoint answers a missing token with 403, as it always has; schemathesis wants
    # 401 for a missing Authorization header, which would change that endpoint's contract.
    excluded = [missing_required_header] if case.operation.path == "/api/admin/reload" else []
    tally["requests"] += 1
    try:
        case.call_and_validate(app=contract_app, excluded_checks=excluded)
    except Exception:
        tally["failed"] += 1  # hypothesis then shrinks it: each smaller try counts too
        raise
    tally["operations"].add(case.operation.label)


def test_the_document_has_every_endpoint_of_the_api(contract_app):
    routes = {
        f"{method} {rule.rule}"
        for rule in contract_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("api", "probes")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {f"{method.upper()} {path}" for path, item in _document()["paths"].items() for method in item}
    assert (
        routes
        == documented
        == {
            "GET /api/search",
            "POST /api/ask",
            "POST /api/admin/reload",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
        }
    )
