"""Sending to the outside world, shared by the alert channels and the report e-mails: the error
of one failed attempt, and one e-mail over SMTP with the ``[alerts.email]`` settings."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from schemas.settings import EmailSettings, secret_from_env


class DeliveryError(Exception):
    """One attempt failed. ``summary`` names the failure without personal data (it is published
    to the warehouse); ``retryable`` says whether another attempt may succeed."""

    def __init__(self, summary: str, *, retryable: bool) -> None:
        super().__init__(summary)
        self.summary = summary
        self.retryable = retryable


def smtp_password(mail: EmailSettings) -> str | None:
    """The SMTP password from the variable ``password_env`` names, when a username is set (a
    SettingsError naming the variable when it is unset)."""
    return secret_from_env(mail.password_env, "alerts.email") if mail.username else None


def send_email(
    mail: EmailSettings,
    password: str | None,
    timeout_seconds: float,
    message: EmailMessage,
    recipients: Sequence[str],
) -> None:
    """One attempt at sending ``message`` to ``recipients`` through the server of ``mail``:
    STARTTLS first when configured (a server without it is refused), then the login when a
    username is set. Raises DeliveryError; 4xx answers and network errors are retryable."""
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=timeout_seconds) as smtp:
            if mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, password or "")
            smtp.send_message(message, to_addrs=list(recipients))
    except smtplib.SMTPRecipientsRefused:
        # The server's answer names the addresses: keep them out of the summary.
        raise DeliveryError("SMTP: every recipient refused", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        # 4xx is the server's "try again later"; 5xx a refusal.
        summary = f"SMTP {exc.smtp_code} ({type(exc).__name__})"
        raise DeliveryError(summary, retryable=exc.smtp_code < 500) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("SMTP: the server offers no STARTTLS", retryable=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}", retryable=True) from None
