from pathlib import Path

import pytest

from chuchu.corpus.errors import BadInput
from chuchu.service.settings import Settings, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_environment_overrides_defaults_and_flags_override_the_environment():
    env = {"CHUCHU_PORT": "9001", "CHUCHU_MODEL": "/models/x", "CHUCHU_STORE": "/tmp/s"}
    settings = Settings.load(env, store=Path("/elsewhere"))
    assert (settings.port, settings.model, settings.store) == (9001, "/models/x", Path("/elsewhere"))
    assert Settings.load({}).port == 8000


def test_a_malformed_variable_is_a_clear_error():
    with pytest.raises(BadInput, match="CHUCHU_PORT='eighty'"):
        Settings.load({"CHUCHU_PORT": "eighty"})


def test_every_setting_has_help_and_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for variable, help_text in Settings.help().items():
        assert help_text.endswith("."), variable
        assert f"`{variable}`" in readme, f"{variable} is not documented in README.md"


def test_the_readme_settings_table_is_the_one_made_from_the_settings():
    readme = README.read_text(encoding="utf-8")
    start = readme.index("| variable | default | meaning |", readme.index("## Settings"))
    end = readme.index("\n\n", start)
    assert readme[start : end + 1] == markdown_table(), (
        "README.md's settings table differs from service/settings.py; "
        "paste the output of `python -m chuchu.service.settings` over it"
    )


def test_the_table_shows_a_machine_independent_default_and_escapes_pipes():
    table = markdown_table()
    assert "| `CHUCHU_CORPUS` | the seed documents |" in table
    assert "| `CHUCHU_ADMIN_TOKEN` | unset |" in table and "| `CHUCHU_RELOAD_SECONDS` | `2` |" in table
    assert all(line.count(" | ") == 2 for line in table.splitlines() if line.startswith("| `"))


def test_the_new_limits_are_settings_read_from_the_environment():
    settings = Settings.load(
        {
            "CHUCHU_MAX_BATCH": "4",
            "CHUCHU_MAX_BODY_BYTES": "2048",
            "CHUCHU_MAX_JSON_DEPTH": "8",
            "CHUCHU_REQUEST_BUDGET_SECONDS": "0.5",
            "CHUCHU_RATE_LIMIT": "5/minute",
            "CHUCHU_CORS_ORIGINS": "https://a.example,https://b.example",
        }
    )
    assert (settings.max_batch, settings.max_body_bytes, settings.max_json_depth) == (4, 2048, 8)
    assert settings.request_budget_seconds == 0.5 and settings.rate_limit == "5/minute"
    assert settings.cors_origins == "https://a.example,https://b.example"
    defaults = Settings.load({})
    assert defaults.rate_limit == "" and defaults.cors_origins == ""  # both off unless set
