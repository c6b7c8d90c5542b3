"""Report e-mails (orchestration.reports.delivery) against a real SMTP server on loopback
(aiosmtpd): the PDF and HTML attached byte for byte, the recipients of each tenant and of the
overall report, a temporary refusal tried again, and one-line errors when SMTP is not configured
or the server refuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.reports.delivery import ReportEmailError, send_report
from schemas.settings import (
    AlertSettings,
    EmailSettings,
    ReportSettings,
    Settings,
    SettingsError,
    TenantSettings,
    load_settings,
)
from tests.orchestration.test_alerts_email import Mailbox, smtp_server

# A PDF's header with the binary comment line PDF writers add, CR LF, NUL and high bytes: any
# re-encoding in transit would change them.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\n<< /Type /Catalog >>\nendobj\n\x00\xff\xfe\n%%EOF\n"
HTML = "<!doctype html><html><body><h1>Semaine 48 – Réclamations</h1>\r\n</body></html>\n"


@dataclass
class Refusing(Mailbox):
    """Answers the DATA of the first attempts with ``answers`` (then accepts), noting the
    Message-ID of every attempt."""

    answers: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.attempts.append(_message_id(envelope.content))
        if self.answers:
            return self.answers.pop(0)
        return await super().handle_DATA(server, session, envelope)


def _message_id(content: bytes) -> str:
    line = next(x for x in content.splitlines() if x.lower().startswith(b"message-id:"))
    return line.split(b":", 1)[1].strip().decode()


def settings(port: int, **email) -> Settings:
    mail = {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "reports@omnicx.test"}
    return Settings(
        alerts=AlertSettings(
            email=EmailSettings(**{**mail, **email}),
            max_attempts=3,
            backoff_initial_seconds=0.001,
            backoff_max_seconds=0.001,
        ),
        tenants={
            "brand-b": TenantSettings(report_recipients=("ceo@brand-b.test", "cx@brand-b.test")),
            "brand-c": TenantSettings(time_zone="Europe/Paris"),
        },
        reports=ReportSettings(recipients=("board@bpo.test",)),
    )


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    pdf, html = tmp_path / "brand-b-week-48.pdf", tmp_path / "brand-b-week-48.html"
    pdf.write_bytes(PDF)
    html.write_bytes(HTML.encode())
    return [pdf, html]


def test_a_tenants_report_reaches_its_recipients_with_the_pdf_byte_for_byte(files, monkeypatch):
    monkeypatch.setenv("OMNICX_SMTP_PASSWORD", "s3cret-smtp")
    with smtp_server() as (box, port):
        config = settings(port, username="omnicx", password_env="OMNICX_SMTP_PASSWORD")
        sent = send_report(
            config,
            "brand-b",
            "brand-b: KPI report, week 48",
            "Attached.",
            "<p>Attached.</p>",
            files,
        )
    assert sent == ("ceo@brand-b.test", "cx@brand-b.test")
    [(envelope, message)] = box.messages
    assert envelope == ["ceo@brand-b.test", "cx@brand-b.test"]
    assert box.logins == ["omnicx"]
    assert message["Subject"] == "brand-b: KPI report, week 48"
    assert (message["From"], message["To"]) == (
        "reports@omnicx.test",
        "ceo@brand-b.test, cx@brand-b.test",
    )
    assert message.get_body(("plain",)).get_content().strip() == "Attached."
    assert message.get_body(("html",)).get_content().strip() == "<p>Attached.</p>"
    attached = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }
    assert attached == {
        "brand-b-week-48.pdf": ("application/pdf", PDF),
        "brand-b-week-48.html": ("text/html", HTML.encode()),
    }


def test_the_overall_report_goes_to_the_reports_recipients_and_a_tenant_without_none(files):
    with smtp_server() as (box, port):
        overall = send_report(
            settings(port), None, "All brands, week 48", "Attached.", None, files[:1]
        )
        nobody = send_report(
            settings(port), "brand-c", "brand-c, week 48", "Attached.", None, files
        )
    assert (overall, nobody) == (("board@bpo.test",), ())
    [(envelope, message)] = box.messages
    assert envelope == ["board@bpo.test"]
    assert message["Subject"] == "All brands, week 48"
    assert message.get_body(("html", "plain")).get_content_type() == "text/plain"
    [pdf] = message.iter_attachments()
    assert (pdf.get_filename(), pdf.get_payload(decode=True)) == ("brand-b-week-48.pdf", PDF)


def test_a_temporary_refusal_is_tried_again_with_the_same_message_id(files):
    box = Refusing(answers=["451 4.3.0 try again later"])
    with smtp_server(box) as (_, port):
        sent = send_report(settings(port), "brand-b", "week 48", "Attached.", None, files)
    assert sent == ("ceo@brand-b.test", "cx@brand-b.test")
    assert len(box.attempts) == 2 and box.attempts[0] == box.attempts[1]
    [(_, message)] = box.messages
    assert message["Message-ID"] == box.attempts[0]


def test_a_refusal_is_one_line_after_one_attempt(files):
    box = Refusing(answers=["554 5.7.1 message refused"])
    with smtp_server(box) as (_, port), pytest.raises(ReportEmailError) as refused:
        send_report(settings(port), "brand-b", "week 48", "Attached.", None, files)
    assert str(refused.value) == (
        f"cannot e-mail the report of brand-b to its 2 recipients through 127.0.0.1:{port}: "
        "SMTP 554 (SMTPDataError) (1 attempt)"
    )
    assert (len(box.attempts), box.messages) == (1, [])


def test_a_server_that_keeps_answering_4xx_fails_after_max_attempts(files):
    box = Refusing(answers=["421 4.3.2 shutting down"] * 5)
    with smtp_server(box) as (_, port), pytest.raises(ReportEmailError) as refused:
        send_report(settings(port), None, "week 48", "Attached.", None, files)
    assert str(refused.value).endswith(": SMTP 421 (SMTPDataError) (3 attempts)")
    assert len(box.attempts) == 3


def test_without_an_smtp_host_or_its_password_the_error_is_one_line(files, monkeypatch):
    with pytest.raises(ReportEmailError) as no_host:
        send_report(settings(25, host=""), "brand-b", "week 48", "Attached.", None, files)
    assert str(no_host.value) == (
        "cannot e-mail the report of brand-b to its 2 recipients: no SMTP server "
        "([alerts.email] host, OMNICX_ALERTS_EMAIL_HOST)"
    )
    monkeypatch.delenv("OMNICX_SMTP_PASSWORD", raising=False)
    config = settings(25, username="omnicx", password_env="OMNICX_SMTP_PASSWORD")
    with pytest.raises(ReportEmailError) as no_password:
        send_report(config, None, "week 48", "Attached.", None, files)
    assert str(no_password.value) == (
        "cannot e-mail the overall report: alerts.email: environment variable "
        "OMNICX_SMTP_PASSWORD is not set (its secret)"
    )
    # no recipients, no server: nothing to send, no error (e-mail is optional)
    assert send_report(settings(25, host=""), "brand-c", "week 48", "x", None, files) == ()


def test_an_smtp_host_may_serve_only_the_reports(tmp_path):
    config = tmp_path / "omnicx.toml"
    config.write_text(
        '[alerts.email]\nhost = "smtp.example.com"\n'
        '[tenants.brand-a]\nreport_recipients = ["cx@brand-a.test"]\n'
    )
    loaded = load_settings({}, config)
    assert loaded.tenant("brand-a").report_recipients == ("cx@brand-a.test",)
    assert not loaded.alerts.channels_configured  # no alert goes to e-mail: no alert worker
    config.write_text('[alerts.email]\nhost = "smtp.example.com"\n[reports]\nrecipients = ["x"]\n')
    with pytest.raises(SettingsError) as refused:
        load_settings({}, config)
    assert str(refused.value) == "reports.recipients: 'x' is not an e-mail address"
    config.write_text('[alerts.email]\nhost = "smtp.example.com"\n')
    with pytest.raises(SettingsError) as nobody:
        load_settings({}, config)
    assert str(nobody.value) == "alerts.email: a host is set but no recipients"
