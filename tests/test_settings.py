from pathlib import Path

import pytest

from healthqa import ConfigError, Settings


def test_defaults():
    settings = Settings()
    assert settings.index_dir == Path("index")
    assert settings.languages == ("en", "fr")
    assert settings.model == ""


def test_environment_then_overrides():
    environ = {"HEALTHQA_INDEX": "/tmp/x", "HEALTHQA_LANGUAGES": "fr, EN ,de", "HEALTHQA_K": "7"}
    settings = Settings.from_env(environ)
    assert settings.index_dir == Path("/tmp/x")
    assert settings.languages == ("fr", "en", "de")
    assert settings.k == 7
    overridden = Settings.from_env(environ, index_dir="elsewhere", k=None)
    assert overridden.index_dir == Path("elsewhere")
    assert overridden.k == 7  # None means "not given"


@pytest.mark.parametrize(
    "environ",
    [{"HEALTHQA_K": "many"}, {"HEALTHQA_PASSAGE_TOKENS": "0"}, {"HEALTHQA_LANGUAGES": " , "}],
)
def test_bad_values_are_reported(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)


def test_unknown_setting():
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings().with_(colour="blue")
