"""Alert e-mails against a real SMTP server on loopback (aiosmtpd): recipients per tenant,
subject, the reasons in the plain-text and HTML parts, authentication, and STARTTLS enforced."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from orchestration.alerts.channels import DeliveryError, EmailChannel
from orchestration.alerts.record import with_business_keys
from schemas.settings import EmailSettings
from tests.orchestration.alert_fixtures import alert_record


@dataclass
class Mailbox:
    messages: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, _server, _session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(self, _server, _session, _envelope, _mechanism, data) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"s3cret-smtp"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 on failure


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(box: Mailbox | None = None) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback (password s3cret-smtp) delivering into ``box``."""
    box = box or Mailbox()
    port = _free_port()
    server = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,  # loopback only: the test has no certificate
    )
    server.start()
    try:
        yield box, port
    finally:
        server.stop()


def _channel(port: int, **changes) -> EmailChannel:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "sender": "alerts@omnicx.test",
        "recipients": ("retention@omnicx.test",),
        "tenant_recipients": {"brand-b": ("brand-b-team@omnicx.test",)},
    }
    mail = EmailSettings(**{**settings, **changes})
    return EmailChannel(mail, "s3cret-smtp" if mail.username else None, 5.0)


def test_an_alert_email_lists_the_reasons_to_the_tenants_recipients() -> None:
    alert = alert_record("brand-b", 1)
    opt_out = {"signal": "opted_out", "weight": 10,
               "evidence": [{"contact_id": None, "at": "2026-01-05T08:00:00Z"}]}  # fmt: skip
    alert = {**alert, "score": 80, "signals": [*alert["signals"], opt_out]}
    payload = with_business_keys(alert, {alert["customer_key"]: "C-4242"})
    with smtp_server() as (box, port):
        channel = _channel(port, username="omnicx", password_env="SMTP_PASSWORD")
        assert channel.accepts(alert)
        asyncio.run(channel.send(payload))

    [(recipients, message)] = box.messages
    assert recipients == ["retention@omnicx.test", "brand-b-team@omnicx.test"]
    assert box.logins == ["omnicx"]
    assert message["Subject"] == (
        "[omnicx] churn risk 80 for a brand-b customer (became at risk): "
        "cancellation_intent, nps_detractor, opted_out"
    )
    assert message["Message-ID"] == f"<{alert['alert_id']}@omnicx.alerts>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert "- cancellation_intent (+40)\n    contact ct-1-2 at 2026-01-05 09:20:00 UTC" in text
    assert "- nps_detractor (+30)\n    contact ct-1-1 at 2026-01-05 09:12:00 UTC" in text
    assert "Customer: customer_id C-4242" in text
    assert "- opted_out (+10)\n    no contact (an opt-out) at 2026-01-05 08:00:00 UTC" in text
    assert "Score: 80 (threshold 50, previously 40)" in text
    assert "<b>nps_detractor</b> (+30)" in html and "<code>ct-1-1</code>" in html
    assert text.index("cancellation_intent") < text.index("nps_detractor")  # heaviest first


def test_a_tenant_without_recipients_gets_no_email_channel() -> None:
    channel = _channel(25, recipients=())
    assert not channel.accepts(alert_record("brand-a", 1))
    assert channel.accepts(alert_record("brand-b", 1))


def test_starttls_is_required_when_configured_and_a_wrong_password_is_refused() -> None:
    alert = with_business_keys(alert_record("brand-a", 2), {})
    with smtp_server() as (box, port):
        with pytest.raises(DeliveryError) as no_tls:
            asyncio.run(_channel(port, starttls=True).send(alert))
        wrong = _channel(port, username="omnicx", password_env="SMTP_PASSWORD")
        wrong.password = "not-it"
        with pytest.raises(DeliveryError) as refused:
            asyncio.run(wrong.send(alert))
    assert (no_tls.value.summary, no_tls.value.retryable) == (
        "SMTP: the server offers no STARTTLS",
        False,
    )
    assert (refused.value.summary, refused.value.retryable) == (
        "SMTP 535 (SMTPAuthenticationError)",
        False,
    )
    assert box.messages == []
