"""The [alerts] settings: webhooks and e-mail from the TOML file or the environment, checked
when read, secrets only from the environment, and the delivery worker in `omnicx up` when a
channel is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.services import planned_services
from schemas.settings import SettingsError, load_settings, secret_from_env
from schemas.settings_env import settings_env

CONFIG = """
[[alerts.webhooks]]
name = "crm"
url = "https://crm.example.com/hooks/omnicx"
secret_env = "CRM_WEBHOOK_SECRET"

[[alerts.webhooks]]
name = "brand-b-crm"
url = "https://b.example.com/omnicx"
secret_env = "BRAND_B_SECRET"
tenants = ["brand-b"]

[alerts.email]
host = "smtp.example.com"
username = "omnicx"
password_env = "SMTP_PASSWORD"
recipients = ["retention@example.com"]
tenant_recipients = { brand-b = ["b-team@example.com"] }
"""


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "omnicx.toml"
    path.write_text(text)
    return load_settings(environ=environ or {}, config_file=path)


def test_webhooks_and_email_are_read_from_the_file_and_survive_the_environment(
    tmp_path: Path,
) -> None:
    settings = _load(tmp_path, CONFIG)
    crm, brand_b = settings.alerts.webhooks
    assert (crm.name, crm.tenants, brand_b.tenants) == ("crm", (), ("brand-b",))
    assert settings.alerts.email.recipients_for("brand-b") == (
        "retention@example.com",
        "b-team@example.com",
    )
    assert settings.alerts.email.recipients_for("brand-a") == ("retention@example.com",)
    # What `omnicx up` hands its services: the same settings, through the environment.
    assert load_settings(environ=settings_env(settings), config_file=None) == settings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[alerts.webhooks]]\nname = "crm"\nurl = "ftp://x"\nsecret_env = "S"',
         "alerts.webhooks[crm].url: 'ftp://x' is not an http(s) URL"),
        ('[[alerts.webhooks]]\nname = "crm"\nurl = "https://x"',
         "alerts.webhooks[crm].secret_env: '' must name the environment variable"),
        ('[[alerts.webhooks]]\nname = "Bad Name"\nurl = "https://x"\nsecret_env = "S"',
         "alerts.webhooks[Bad Name].name: 'Bad Name' must match"),
        ('[[alerts.webhooks]]\nname = "a"\nurl = "https://x"\nsecret_env = "S"\n'
         '[[alerts.webhooks]]\nname = "a"\nurl = "https://y"\nsecret_env = "S"',
         "two webhooks are named 'a'"),
        ('[[alerts.webhooks]]\nname = "a"\nurl = "https://x"\nsecret = "whsec_abc"',
         "unknown setting(s) in [alerts.webhooks[0]]: ['secret']"),
        ('[alerts.email]\nhost = "smtp.example.com"', "a host is set but no recipients"),
        ('[alerts.email]\nhost = "h"\nrecipients = ["nobody"]', "'nobody' is not an e-mail"),
        ('[alerts.email]\nhost = "h"\nrecipients = ["a@b.c"]\nusername = "u"',
         "alerts.email.password_env: '' must name the environment variable"),
        ("[alerts]\nwebhooks = 3", "alerts.webhooks: expected a list, got 3"),
        ("[alerts]\nmax_attempts = 0", "alerts.max_attempts: 0 is out of range"),
    ],
)  # fmt: skip
def test_a_wrong_alert_setting_is_refused_naming_it(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, text)
    assert message in str(refused.value)


def test_webhooks_can_come_from_the_environment_as_json(tmp_path: Path) -> None:
    hooks = '[{"name": "crm", "url": "https://crm.example.com/h", "secret_env": "S"}]'
    settings = _load(tmp_path, "", {"OMNICX_ALERTS_WEBHOOKS": hooks})
    assert [hook.url for hook in settings.alerts.webhooks] == ["https://crm.example.com/h"]
    with pytest.raises(SettingsError, match="OMNICX_ALERTS_WEBHOOKS: expected JSON"):
        _load(tmp_path, "", {"OMNICX_ALERTS_WEBHOOKS": "https://crm.example.com/h"})


def test_a_secret_comes_from_its_environment_variable_only() -> None:
    assert secret_from_env("CRM_SECRET", "webhook crm", {"CRM_SECRET": "whsec_x"}) == "whsec_x"
    with pytest.raises(SettingsError, match="webhook crm: environment variable CRM_SECRET is not"):
        secret_from_env("CRM_SECRET", "webhook crm", {})


def test_up_runs_the_delivery_worker_only_when_a_channel_is_configured(tmp_path: Path) -> None:
    without = [s.name for s in planned_services(_load(tmp_path, ""), dagster=False)]
    assert without == ["stream-1", "sink", "wallboard"]
    services = {s.name: s for s in planned_services(_load(tmp_path, CONFIG), dagster=False)}
    assert list(services) == ["stream-1", "sink", "wallboard", "alerts-deliver"]
    assert services["alerts-deliver"].command[-2:] == ["alerts", "deliver"]
