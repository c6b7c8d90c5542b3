"""Per-tenant settings ([tenants.NAME], docs/tenancy.md): validated at load with one clear
line, and a tenant's alert endpoints and recipients folded into [alerts] for its alerts only."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import SettingsError, load_settings
from schemas.settings_env import settings_env


def loaded(tmp_path: Path, toml: str):
    path = tmp_path / "omnicx.toml"
    path.write_text(toml)
    return load_settings(environ={}, config_file=path)


def loaded_empty(tmp_path: Path) -> Path:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return empty


FULL = """
[[alerts.webhooks]]
name = "crm"
url = "https://crm.example.com/hooks"
secret_env = "CRM_SECRET"

[tenants.acme]
display_name = "Acme Telecom"
time_zone = "Europe/Paris"
retention_days = 30
report_periods = ["week"]
report_hour = 6
alert_recipients = ["retention@acme.example"]
[tenants.acme.kpis]
service_level_voice_seconds = 30
[[tenants.acme.webhooks]]
name = "acme-crm"
url = "https://acme.example/hooks"
secret_env = "ACME_SECRET"
"""


def test_a_tenants_settings_are_read_and_its_alerts_go_to_its_own_endpoints(
    tmp_path: Path,
) -> None:
    settings = loaded(tmp_path, FULL)

    acme = settings.tenant("acme")
    assert acme.retention_days == 30
    assert acme.report_periods == ("week",)
    assert acme.report_hour == 6
    assert settings.tenant_kpis("acme").service_level_voice_seconds == 30.0
    assert settings.tenant_kpis("other").service_level_voice_seconds == 20.0
    hooks = {hook.name: hook.tenants for hook in settings.alerts.webhooks}
    assert hooks == {"crm": (), "acme-crm": ("acme",)}
    assert settings.alerts.email.recipients_for("acme") == ("retention@acme.example",)
    assert settings.alerts.email.recipients_for("other") == ()


def test_settings_handed_to_a_subprocess_load_the_same(tmp_path: Path) -> None:
    settings = loaded(tmp_path, FULL)

    again = load_settings(environ=settings_env(settings), config_file=loaded_empty(tmp_path))

    assert again.alerts == settings.alerts
    assert again.tenants == settings.tenants


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        (
            "[tenants.acme.kpis]\nrepeat_window_days = 3\n",
            "tenants.acme.kpis.repeat_window_days: not a knob a tenant can set",
        ),
        (
            "[tenants.acme.kpis]\nservice_level_voice_seconds = -1\n",
            "tenants.acme.kpis.service_level_voice_seconds: -1.0 is out of range",
        ),
        (
            "[tenants.acme]\nretention_days = -5\n",
            "tenants.acme.retention_days: -5 is out of range; it must be at least 0",
        ),
        (
            '[tenants.acme]\nreport_periods = ["month"]\n',
            "tenants.acme.report_periods: 'month' is not one of day, week",
        ),
        (
            "[tenants.acme]\nreport_hour = 24\n",
            "tenants.acme.report_hour: 24 is out of range; it must be between 0 and 23",
        ),
        (
            '[[tenants.acme.webhooks]]\nname = "x"\nurl = "ftp://x"\nsecret_env = "S"\n',
            "tenants.acme.webhooks[x].url: 'ftp://x' is not an http(s) URL",
        ),
        (
            '[[tenants.acme.webhooks]]\nname = "x"\nurl = "https://x"\nsecret_env = "S"\n'
            'tenants = ["other"]\n',
            "tenants.acme.webhooks[x].tenants: a tenant's webhook gets its alerts only",
        ),
        (
            '[tenants.acme]\nalert_recipients = ["nobody"]\n',
            "tenants.acme.alert_recipients: 'nobody' is not an e-mail address",
        ),
        (
            '[[alerts.webhooks]]\nname = "x"\nurl = "https://y"\nsecret_env = "S"\n'
            '[[tenants.acme.webhooks]]\nname = "x"\nurl = "https://x"\nsecret_env = "S"\n',
            "tenants.acme.webhooks[x].name: another webhook is named 'x'",
        ),
        ('[tenants."../etc"]\ntime_zone = "UTC"\n', "tenants: '../etc' is not a tenant name"),
    ],
)
def test_a_wrong_tenant_setting_is_one_clear_error(tmp_path: Path, toml: str, error: str) -> None:
    with pytest.raises(SettingsError) as refused:
        loaded(tmp_path, toml)
    assert error in str(refused.value)
    assert "\n" not in str(refused.value)
