"""Where an alert goes: the channels of ``[alerts]`` (signed webhooks, e-mail).

A channel sends one payload (the alert with its business keys) once, within the request
timeout, or raises DeliveryError saying whether trying again may help; retries, the log and
concurrency are the worker's (``orchestration.alerts.worker``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import aiohttp
import orjson
from standardwebhooks.webhooks import Webhook

from orchestration.alerts.email import alert_email
from orchestration.sending import DeliveryError, send_email, smtp_password
from schemas.settings import (
    EmailSettings,
    Settings,
    SettingsError,
    WebhookSettings,
    secret_from_env,
)

# Receivers answer these when trying again later may succeed (Standard Webhooks retries them).
_RETRYABLE_HTTP = {408, 425, 429}


class Channel(Protocol):
    name: str

    def accepts(self, alert: dict[str, Any]) -> bool: ...

    async def send(self, payload: dict[str, Any]) -> None: ...


def signed_headers(webhook: Webhook, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: the signature covers id.timestamp.body."""
    signature = webhook.sign(msg_id=message_id, timestamp=at, data=body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "omnicx-alerts",
    }


@dataclass
class WebhookChannel:
    """POSTs the payload as JSON to one endpoint, signed with its secret; 2xx is delivered."""

    hook: WebhookSettings
    webhook: Webhook
    session: aiohttp.ClientSession
    timeout_seconds: float

    @property
    def name(self) -> str:
        return f"webhook:{self.hook.name}"

    def accepts(self, alert: dict[str, Any]) -> bool:
        return not self.hook.tenants or alert["tenant"] in self.hook.tenants

    async def send(self, payload: dict[str, Any]) -> None:
        await post_signed(self.session, self.hook.url, self.webhook, payload, self.timeout_seconds)


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    webhook: Webhook,
    payload: dict[str, Any],
    timeout_seconds: float,
) -> int:
    """One signed POST of ``payload`` (webhook-id: its alert_id); the HTTP status when 2xx."""
    body = orjson.dumps(payload)
    headers = signed_headers(webhook, payload["alert_id"], body, datetime.now(UTC))
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            allow_redirects=False,
        ) as response:
            status = response.status
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout_seconds:g} s", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if 200 <= status < 300:
        return status
    retryable = status >= 500 or status in _RETRYABLE_HTTP
    raise DeliveryError(f"HTTP {status}", retryable=retryable)


# Writes the e-mail of one payload: (payload, sender, recipients) -> message.
Compose = Callable[[dict[str, Any], str, tuple[str, ...]], EmailMessage]


@dataclass
class EmailChannel:
    """One multipart e-mail per alert to the recipients of its tenant, over SMTP; ``compose``
    writes it (a churn-risk alert's by default)."""

    mail: EmailSettings
    password: str | None
    timeout_seconds: float
    name: str = "email"
    compose: Compose = alert_email

    def accepts(self, alert: dict[str, Any]) -> bool:
        return bool(self.mail.recipients_for(alert["tenant"]))

    async def send(self, payload: dict[str, Any]) -> None:
        recipients = self.mail.recipients_for(payload["tenant"])
        message = self.compose(payload, self.mail.sender, recipients)
        await asyncio.to_thread(self._send, message, recipients)

    def _send(self, message: EmailMessage, recipients: tuple[str, ...]) -> None:
        send_email(self.mail, self.password, self.timeout_seconds, message, recipients)


def configured_channels(settings: Settings, session: aiohttp.ClientSession) -> list[Channel]:
    """The channels of ``[alerts]``, with their secrets read from the environment (a
    SettingsError naming the variable when one is missing)."""
    alerts = settings.alerts
    timeout = alerts.request_timeout_seconds
    channels: list[Channel] = []
    for hook in alerts.webhooks:
        secret = secret_from_env(hook.secret_env, f"alerts.webhooks[{hook.name}]")
        channels.append(WebhookChannel(hook, webhook_signer(secret, hook.name), session, timeout))
    mail = alerts.email
    if mail.host and mail.has_recipients:  # a host may serve only the reports' e-mails
        channels.append(EmailChannel(mail, smtp_password(mail), timeout))
    return channels


def webhook_signer(secret: str, name: str) -> Webhook:
    try:
        return Webhook(secret)
    except Exception as exc:  # binascii.Error, EmptyWebhookSecretError: not a usable secret
        raise SettingsError(
            f"webhook {name}: the secret is not whsec_<base64> ({type(exc).__name__})"
        ) from None
