"""Settings: defaults, the TOML file, environment overrides and the errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import (
    Settings,
    SettingsError,
    TenantSettings,
    load_settings,
    with_overrides,
)
from schemas.settings_env import settings_env


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "omnicx.toml"
    path.write_text(text)
    return path


def test_without_file_or_environment_the_defaults_apply(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./omnicx.toml here
    assert load_settings(environ={}) == Settings()


def test_the_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'home = "/var/omnicx"\n[kafka]\nport = 19092\n[stream]\nkeep_message_text = true\n'
        "[kpis]\nrepeat_window_days = 3\n",
    )
    settings = load_settings(environ={}, config_file=path)
    assert settings.home == Path("/var/omnicx")
    assert settings.kafka.port == 19092
    assert settings.kafka.controller == 19093
    assert settings.stream.keep_message_text is True
    assert settings.kpis.repeat_window_days == 3.0
    assert settings.topics.partitions == 4


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[kafka]\nport = 19092\nhost = "10.0.0.1"\n')
    env = {"OMNICX_KAFKA_PORT": "29092", "OMNICX_STREAM_KEEP_MESSAGE_TEXT": "yes"}
    env |= {"OMNICX_PII_KEY": "secret", "OMNICX_KPIS_SHORT_ABANDON_SECONDS": "2.5"}
    settings = load_settings(environ=env, config_file=path)
    assert (settings.kafka.port, settings.kafka.host) == (29092, "10.0.0.1")
    assert settings.stream.keep_message_text is True
    assert settings.pii_key == "secret"
    assert settings.kpis.short_abandon_seconds == 2.5


def test_the_file_is_found_through_omnicx_config(tmp_path: Path) -> None:
    path = write(tmp_path, "[topics]\npartitions = 8\n")
    assert load_settings(environ={"OMNICX_CONFIG": str(path)}).topics.partitions == 8


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    # unset ("") goes through the environment as it is (subprocesses get the settings so)
    assert load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": ""}).orchestration == (
        Settings().orchestration
    )
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(environ={"OMNICX_CONFIG": str(tmp_path / "missing.toml")})


def test_a_file_that_is_not_toml_is_an_error(tmp_path: Path) -> None:
    # unset ("") goes through the environment as it is (subprocesses get the settings so)
    assert load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": ""}).orchestration == (
        Settings().orchestration
    )
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(environ={}, config_file=write(tmp_path, "[kafka\n"))


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("", {"OMNICX_KAFKA_PORT": "ninety"}, "OMNICX_KAFKA_PORT: expected int, got 'ninety'"),
        ("", {"OMNICX_STREAM_KEEP_MESSAGE_TEXT": "maybe"}, "expected bool, got 'maybe'"),
        ("", {"OMNICX_KPIS_REPEAT_WINDOW_DAYS": "a week"}, "expected float, got 'a week'"),
        ('[kafka]\nport = "ninety"\n', {}, "kafka.port: expected int, got 'ninety'"),
        ("[kafka]\nport = 9092.7\n", {}, "kafka.port: expected int, got 9092.7"),
        ("[stream]\nlateness_seconds = true\n", {}, "stream.lateness_seconds: expected int"),
        ("kafka = 5\n", {}, "kafka: expected a \\[kafka\\] table, got 5"),
        (
            "",
            {"OMNICX_KPIS_ABANDON_TREATMENT": "bogus"},
            "OMNICX_KPIS_ABANDON_TREATMENT: 'bogus' is not one of negative, ignore, positive",
        ),
        ('[kpis]\nabandon_treatment = "Ignore"\n', {}, "kpis.abandon_treatment: 'Ignore' is not"),
        (
            "",
            {"OMNICX_KAFKA_PORT": "0"},
            "OMNICX_KAFKA_PORT: 0 is out of range; it must be between",
        ),
        ("[kafka]\nport = 65536\n", {}, "kafka.port: 65536 is out of range; it must be between 1"),
        ("[topics]\npartitions = 0\n", {}, "topics.partitions: 0 is out of range; it must be at"),
        ("", {"OMNICX_CHECKS_DEAD_LETTER_MAX_SHARE": "1.5"}, "MAX_SHARE: 1.5 is out of range"),
        ("[kpis]\nshort_abandon_seconds = -1\n", {}, "short_abandon_seconds: -1.0 is out of"),
        (
            "[stream]\nmax_message_bytes = 2000000\n",
            {},
            "stream.max_message_bytes: 2000000 is out of range; it must be between 1 and 716800",
        ),
        ("", {"OMNICX_STREAM_MAX_NESTING_DEPTH": "300"}, "DEPTH: 300 is out of range; it must be"),
        ("", {"OMNICX_STREAM_MAX_FUTURE_SECONDS": "-1"}, "SECONDS: -1 is out of range; it must be"),
        ("", {"OMNICX_STREAM_CONTACT_RETENTION_DAYS": "0"}, "RETENTION_DAYS: 0.0 is out of range"),
        ("[stream]\nbroker_lost_seconds = -1.0\n", {}, "stream.broker_lost_seconds: -1.0 is out"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_setting(
    text: str, env: dict, message: str, tmp_path: Path
) -> None:
    # unset ("") goes through the environment as it is (subprocesses get the settings so)
    assert load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": ""}).orchestration == (
        Settings().orchestration
    )
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env, config_file=write(tmp_path, text))


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"OMNICX_KPIS_ABANDON_TREATMENT": "positive"}, "abandon_treatment", "positive"),
        ({"OMNICX_KPIS_SHORT_ABANDON_SECONDS": "0"}, "short_abandon_seconds", 0.0),
        ({"OMNICX_CHECKS_DEAD_LETTER_MAX_SHARE": "1"}, "dead_letter_max_share", 1.0),
    ],
)
def test_values_at_the_edge_of_what_is_allowed_are_kept(
    env: dict, field: str, value, tmp_path: Path
) -> None:
    settings = load_settings(environ=env, config_file=write(tmp_path, ""))
    section = settings.kpis if hasattr(settings.kpis, field) else settings.checks
    assert getattr(section, field) == value


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("colour = 1\n", "top level"),
        ("[kafka]\nprot = 1\n", "kafka"),
        ("[extra]\na = 1\n", "top level"),
    ],
)
def test_an_unknown_key_is_an_error(text: str, where: str, tmp_path: Path) -> None:
    # unset ("") goes through the environment as it is (subprocesses get the settings so)
    assert load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": ""}).orchestration == (
        Settings().orchestration
    )
    with pytest.raises(SettingsError, match=f"unknown setting\\(s\\) in \\[{where}\\]"):
        load_settings(environ={}, config_file=write(tmp_path, text))


def test_settings_are_read_when_loaded_not_when_imported(tmp_path: Path) -> None:
    first = load_settings(environ={"OMNICX_TOPICS_PREFIX": "a."}, config_file=write(tmp_path, ""))
    second = load_settings(environ={"OMNICX_TOPICS_PREFIX": "b."}, config_file=write(tmp_path, ""))
    assert (first.topics.prefix, second.topics.prefix) == ("a.", "b.")


def test_overrides_replace_some_fields_and_keep_the_rest() -> None:
    settings = with_overrides(Settings(), kafka={"port": 1234}, home=Path("/x"))
    assert (settings.kafka.port, settings.kafka.host, settings.home) == (
        1234,
        "127.0.0.1",
        Path("/x"),
    )
    assert Settings().kafka.port == 9092


def test_the_partitions_start_is_a_date_of_the_file_or_the_environment(tmp_path: Path) -> None:
    config = write(tmp_path, "[orchestration]\npartitions_start = 2021-01-04\n")
    assert load_settings(environ={}, config_file=config).orchestration.partitions_start == (
        "2021-01-04"
    )
    env = {"OMNICX_ORCHESTRATION_PARTITIONS_START": "2020-12-01"}
    assert load_settings(environ=env, config_file=config).orchestration.partitions_start == (
        "2020-12-01"
    )
    assert load_settings(environ={}, config_file=write(tmp_path, "")).orchestration == (
        Settings().orchestration
    )
    # unset ("") goes through the environment as it is (subprocesses get the settings so)
    assert load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": ""}).orchestration == (
        Settings().orchestration
    )
    with pytest.raises(
        SettingsError, match=r"PARTITIONS_START: 'monday' is not a day \(YYYY-MM-DD\)"
    ):
        load_settings(environ={"OMNICX_ORCHESTRATION_PARTITIONS_START": "monday"})


def test_each_tenant_has_its_own_table_and_the_others_the_defaults(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[tenants.brand-a]\ndisplay_name = "Brand A"\ntime_zone = "Europe/Paris"\n'
        'report_recipients = ["ceo@brand-a.example"]\n',
    )
    settings = load_settings(environ={}, config_file=config)
    assert settings.tenant("brand-a") == TenantSettings(
        display_name="Brand A", time_zone="Europe/Paris", report_recipients=("ceo@brand-a.example",)
    )
    assert settings.tenant("brand-b").time_zone == "UTC"
    # subprocesses get the tenants' tables through the environment, unchanged
    assert load_settings(environ=settings_env(settings), config_file=None) == settings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tenants.b]\ntime_zone = "Paris"', "tenants.b.time_zone: 'Paris' is not an IANA"),
        ('[tenants.b]\nreport_recipients = ["ceo"]', "tenants.b.report_recipients: 'ceo' is"),
        ("[tenants.b]\ncolour = 1", r"unknown setting\(s\) in \[tenants.b\]: \['colour'\]"),
        ("tenants = 3", "tenants: expected a table, got 3"),
    ],
)
def test_a_bad_tenant_table_is_an_error_naming_the_tenant(
    text: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={}, config_file=write(tmp_path, text))
