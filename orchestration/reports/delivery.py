"""E-mailing a written report (docs/alerts.md, "Report e-mails").

``send_report`` sends one e-mail, a plain-text body (and an HTML alternative) with the report's
files attached, to the report recipients of a tenant (``[tenants.NAME] report_recipients``) or,
for the overall report (tenant None), to ``[reports] recipients``, through the SMTP server of
``[alerts.email]`` (host, port, STARTTLS, login, sender). Temporary failures (SMTP 4xx, a
refused connection, a timeout) are tried again with the alerts' backoff (tenacity, ``[alerts]
max_attempts``, ``backoff_initial_seconds``, ``backoff_max_seconds``); the same Message-ID on
every attempt, so a mail system drops a copy sent again. Everything else fails at once with a
one-line ``ReportEmailError``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from orchestration.sending import DeliveryError, send_email, smtp_password
from schemas.settings import Settings, SettingsError


class ReportEmailError(RuntimeError):
    """The report could not be e-mailed; the message is one line saying why."""


def report_recipients(settings: Settings, tenant: str | None) -> tuple[str, ...]:
    """Who receives ``tenant``'s report (None: the overall report)."""
    if tenant is None:
        return settings.reports.recipients
    return settings.tenant(tenant).report_recipients


def send_report(
    settings: Settings,
    tenant: str | None,
    subject: str,
    text: str,
    html: str | None,
    attachments: Sequence[Path],
) -> tuple[str, ...]:
    """E-mail a report to its recipients, with ``attachments`` (a PDF, the HTML file ...);
    returns the recipients it was sent to, () when the report has none (nothing is sent).

    Raises ReportEmailError when it has recipients but no SMTP server is configured, the SMTP
    password's variable is unset, an attachment cannot be read, or the server refuses it."""
    recipients = report_recipients(settings, tenant)
    if not recipients:
        return ()
    whose = f"the report of {tenant}" if tenant else "the overall report"
    mail = settings.alerts.email
    if not mail.host:
        raise ReportEmailError(
            f"cannot e-mail {whose} to its {_count(recipients)}: no SMTP server "
            "([alerts.email] host, OMNICX_ALERTS_EMAIL_HOST)"
        )
    try:
        password = smtp_password(mail)
        message = report_email(mail.sender, recipients, subject, text, html, attachments)
    except (SettingsError, OSError) as exc:
        raise ReportEmailError(f"cannot e-mail {whose}: {exc}") from None
    alerts = settings.alerts
    retrying = Retrying(
        stop=stop_after_attempt(alerts.max_attempts),
        wait=wait_exponential(
            multiplier=alerts.backoff_initial_seconds, max=alerts.backoff_max_seconds
        ),
        retry=retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                send_email(mail, password, alerts.request_timeout_seconds, message, recipients)
    except DeliveryError as exc:
        tries = retrying.statistics.get("attempt_number", 1)
        raise ReportEmailError(
            f"cannot e-mail {whose} to its {_count(recipients)} through {mail.host}:{mail.port}: "
            f"{exc.summary} ({tries} attempt{'s' if tries > 1 else ''})"
        ) from None
    return recipients


def report_email(
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    attachments: Sequence[Path],
) -> EmailMessage:
    """The message: ``text`` (and ``html`` as its alternative), each file attached under its
    name with the MIME type of its suffix (application/pdf, text/html ...)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(domain="omnicx.reports")
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        # Bytes for every type: an HTML report arrives byte-for-byte, not re-encoded as text.
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return message


def _count(recipients: Sequence[str]) -> str:
    return f"{len(recipients)} recipient{'s' if len(recipients) > 1 else ''}"
