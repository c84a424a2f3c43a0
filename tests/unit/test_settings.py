from pathlib import Path

import pytest

from chuchu.corpus.errors import BadInput
from chuchu.service.settings import Settings

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
