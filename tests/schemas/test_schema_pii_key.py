"""The personal-data key: configured, else generated once under $OMNICX_HOME, never built in."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from schemas.identifiers import hash_identifier
from schemas.settings import (
    PII_KEY_FILE,
    Settings,
    SettingsError,
    load_settings,
    with_overrides,
    with_pii_key,
)


def at_home(home: Path, **environ: str) -> Settings:
    return with_overrides(load_settings(environ=environ, config_file=None), home=home)


def test_there_is_no_built_in_key() -> None:
    assert Settings().pii_key == ""
    assert load_settings(environ={}, config_file=None).pii_key == ""
    with pytest.raises(ValueError, match="no personal-data key"):
        hash_identifier("phone", "+33612345678", "")


def test_a_configured_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    messages: list[str] = []
    settings = with_pii_key(at_home(tmp_path, OMNICX_PII_KEY="from-env"), messages.append)
    assert settings.pii_key == "from-env"
    path = tmp_path / "omnicx.toml"
    path.write_text('pii_key = "from-file"\nenvironment = "production"\n')
    from_file = with_overrides(load_settings(environ={}, config_file=path), home=tmp_path)
    assert with_pii_key(from_file, messages.append).pii_key == "from-file"
    assert messages == [] and not (tmp_path / PII_KEY_FILE).exists()


def test_without_a_key_one_is_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    home = tmp_path / "home"  # not created yet: the first start creates it
    messages: list[str] = []
    first = with_pii_key(at_home(home), messages.append)
    path = home / PII_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.pii_key) == 64 and first.pii_key == path.read_text().strip()
    assert len(messages) == 1 and str(path) in messages[0]
    again = with_pii_key(at_home(home), messages.append)
    assert again.pii_key == first.pii_key and len(messages) == 1
    other = with_pii_key(at_home(tmp_path / "elsewhere"), messages.append)
    assert other.pii_key != first.pii_key
    assert sorted(p.name for p in home.iterdir()) == [PII_KEY_FILE]  # no temporary file left


def test_production_without_a_key_is_an_error_and_generates_nothing(tmp_path: Path) -> None:
    settings = at_home(tmp_path, OMNICX_ENVIRONMENT="production")
    with pytest.raises(SettingsError, match="OMNICX_PII_KEY") as raised:
        with_pii_key(settings)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / PII_KEY_FILE).exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    (tmp_path / PII_KEY_FILE).write_text("k" * 64)
    (tmp_path / PII_KEY_FILE).chmod(0o644)
    with pytest.raises(SettingsError, match="readable by others"):
        with_pii_key(at_home(tmp_path))


def test_an_unknown_environment_is_an_error() -> None:
    with pytest.raises(SettingsError, match="environment: expected one of"):
        load_settings(environ={"OMNICX_ENVIRONMENT": "prod"}, config_file=None)
