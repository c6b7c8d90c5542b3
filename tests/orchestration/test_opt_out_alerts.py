"""Opt-out violation alerts through the alerts' channels: a real HTTP receiver on loopback
(signatures checked by the standardwebhooks verifier) and a real SMTP server (aiosmtpd), from the
violations the mart finds in a hand-made day (tests/warehouse/outbound_fixtures.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestration.alerts.compliance import (
    compliance_log_path,
    deliver_violation_alerts,
    violation_alert_id,
)
from orchestration.alerts.log import DeliveryLog
from schemas.settings import AlertSettings, EmailSettings, Settings, WebhookSettings
from tests.orchestration.alert_fixtures import SECRET, SECRET_ENV, receiver
from tests.orchestration.test_alerts_email import smtp_server
from tests.warehouse.kpi_fixtures import DAY, settings
from tests.warehouse.outbound_fixtures import violations_day, warehouse
from warehouse.outbound import opt_out_violations

NOW = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


@pytest.fixture
def violations():
    contacts, events = violations_day()
    con = warehouse(contacts, events, extra_keys=[("email:e", "erin")])
    return opt_out_violations(con, DAY, DAY, settings())


def alert_settings(home, url: str, smtp_port: int, **alerts) -> Settings:
    return Settings(
        home=home,
        alerts=AlertSettings(
            webhooks=(WebhookSettings(name="crm", url=url, secret_env=SECRET_ENV),),
            email=EmailSettings(
                host="127.0.0.1",
                port=smtp_port,
                starttls=False,
                sender="alerts@omnicx.test",
                tenant_recipients={"acme": ("compliance@acme.test",)},
            ),
            max_attempts=3,
            backoff_initial_seconds=0.01,
            backoff_max_seconds=0.01,
            **alerts,
        ),
    )


def test_each_violation_reaches_the_webhook_and_the_mailbox_once(
    violations, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with receiver() as hook, smtp_server() as (box, port):
        current = alert_settings(tmp_path, hook.url("/crm"), port)
        counts = deliver_violation_alerts(current, violations, NOW)
        assert (counts.violations, counts.delivered, counts.failed) == (4, 8, 0)
        received = {r.webhook_id: r.verified() for r in hook.on("/crm")}
        assert sorted(received) == sorted(violation_alert_id(v) for v in violations)
        alice = received[violation_alert_id(violations[0])]
        assert alice["kind"] == "opt_out_violation"
        assert (alice["tenant"], alice["campaign"], alice["contact_id"]) == (
            "acme",
            "renewals",
            "o2",
        )
        assert (alice["attempted_at"], alice["opted_out_at"]) == (
            "2026-01-05T10:00:00.000Z",
            "2026-01-05T09:00:00.000Z",
        )
        assert (alice["opt_out_scope"], alice["opt_outs_before"]) == ("all", 2)
        assert alice["customer_key"] == "alice"  # a hashed key in production: no phone, no name
        subjects = [message["Subject"] for _, message in box.messages]
        assert subjects == ["[omnicx] opt-out violation: acme, campaign renewals"] * 4
        assert {tuple(to) for to, _ in box.messages} == {("compliance@acme.test",)}

        # the next refresh of the same day finds the same violations: nothing is sent again
        again = deliver_violation_alerts(current, violations, NOW)
        assert (again.delivered, again.skipped) == (0, 8)
        assert len(hook.on("/crm")) == 4
        assert len(box.messages) == 4


def test_a_receiver_error_is_retried_and_a_refusal_fails_once(
    violations, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    first, second = violations[0], violations[1]
    answers = {violation_alert_id(first): [503, 200], violation_alert_id(second): [410]}

    def behaviour(request, before: int) -> int:
        return answers.get(request.webhook_id, [200])[min(before, 1)]

    with receiver({"/crm": behaviour}) as hook, smtp_server() as (_, port):
        current = alert_settings(tmp_path, hook.url("/crm"), port)
        counts = deliver_violation_alerts(current, [first, second], NOW)
        assert (counts.delivered, counts.failed) == (3, 1)  # both e-mails, one webhook
        ids = [r.webhook_id for r in hook.on("/crm")]
        assert ids.count(violation_alert_id(first)) == 2  # 503, then delivered
        assert ids.count(violation_alert_id(second)) == 1  # 410: not tried again
        log = DeliveryLog(compliance_log_path(current))
        try:
            refused = log.delivery(violation_alert_id(second), "webhook:crm")
            assert (refused.status, refused.attempts, refused.last_error) == (
                "failed",
                1,
                "HTTP 410",
            )
        finally:
            log.close()
        # a later refresh does not send the refused one again either
        assert deliver_violation_alerts(current, [second], NOW).skipped == 2
        assert len(hook.on("/crm")) == 3


def test_without_a_channel_nothing_is_sent_and_no_log_is_written(violations, tmp_path) -> None:
    counts = deliver_violation_alerts(Settings(home=tmp_path), violations, NOW)
    assert (counts.violations, counts.delivered, counts.skipped) == (4, 0, 0)
    assert not compliance_log_path(Settings(home=tmp_path)).exists()
