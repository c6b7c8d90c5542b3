"""Opt-out violation alerts (docs/outbound.md, Alerts): every violating outbound attempt the
marts found, once, to the channels of ``[alerts]`` (signed webhooks, e-mail).

Trigger: each refresh of the marts. The asset ``opt_out_violation_alerts``
(``orchestration.planning_assets``), downstream of ``mart_opt_out_violations`` in the refresh
job that the hourly schedule, the daily close and the new-data sensor run, reads the violations
of the run's days and sends those never sent. A violation stays one for good (its opt-out came
before it), so its alert id derives from the attempt alone: ``ov-`` and the first 24 hex digits
of ``sha256(tenant|attempt event id|contact id)``. A later refresh of the same days, under
another knob set or after a replay, never sends it again.

Delivery reuses the churn alerts' channels and rules: the same webhooks (Standard Webhooks
signatures, ``webhook-id`` = the alert id, tenant routing), the same SMTP server and recipients
(a message of its own), retries with the ``[alerts]`` backoff up to ``max_attempts`` for the
failures worth retrying. Outcomes go to a delivery log of their own,
``compliance.sqlite3`` beside ``[alerts] delivery_log``: an alert final on a channel, delivered
or failed, is never sent there again (a failure is counted in the asset's metadata and kept in
the log with its error).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from orchestration.alerts.channels import Channel, EmailChannel, configured_channels
from orchestration.alerts.log import DELIVERED, FAILED, FINAL, DeliveryLog
from orchestration.alerts.record import parse_time, rfc3339
from orchestration.sending import DeliveryError
from schemas.settings import Settings
from warehouse.outbound import Violation

KIND = "opt_out_violation"
LOG_NAME = "compliance.sqlite3"


def compliance_log_path(settings: Settings) -> Path:
    return settings.alert_delivery_log.with_name(LOG_NAME)


def violation_alert_id(violation: Violation) -> str:
    text = f"{violation.tenant}|{violation.event_id}|{violation.contact_id}"
    return "ov-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def violation_payload(violation: Violation, created_at: datetime) -> dict[str, Any]:
    """The alert a channel receives: hashed customer key only, no business key or phone."""
    return {
        "alert_id": violation_alert_id(violation),
        "kind": KIND,
        "tenant": violation.tenant,
        "customer_key": violation.customer_key,
        "contact_id": violation.contact_id,
        "attempt_event_id": violation.event_id,
        "campaign": violation.campaign,
        "dialer": violation.dialer,
        "result": violation.result,
        "attempted_at": rfc3339(_aware(violation.attempted_at)),
        "opt_out_event_id": violation.opt_out_event_id,
        "opted_out_at": rfc3339(_aware(violation.opted_out_at)),
        "opt_out_scope": violation.opt_out_scope,
        "opt_outs_before": violation.opt_outs_before,
        "day": violation.day.isoformat(),
        "created_at": rfc3339(created_at),
    }


def _aware(moment: datetime) -> datetime:
    """The marts' TIMESTAMPs are UTC without a zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def violation_email(
    payload: dict[str, Any], sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    """One plain-text message per violation; Message-ID the alert id on every attempt."""
    campaign = payload["campaign"] or "(no campaign sent)"
    message = EmailMessage()
    message["Subject"] = f"[omnicx] opt-out violation: {payload['tenant']}, campaign {campaign}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = f"<{payload['alert_id']}@omnicx.alerts>"
    scope = "all contact" if payload["opt_out_scope"] == "all" else f"campaign {campaign}"
    message.set_content(
        "\n".join(
            [
                f"An outbound attempt reached a customer who had opted out of {scope}.",
                "",
                f"tenant:        {payload['tenant']}",
                f"campaign:      {campaign} ({payload['dialer'] or 'dialer mode not sent'})",
                f"attempt:       {payload['attempted_at']} (result {payload['result']}, "
                f"contact {payload['contact_id']})",
                f"opted out:     {payload['opted_out_at']} (event {payload['opt_out_event_id']};"
                f" {payload['opt_outs_before']} request(s) before the attempt)",
                f"customer key:  {payload['customer_key']}",
                f"alert:         {payload['alert_id']}",
                "",
                "Check the dialer's do-not-call list sync (docs/outbound.md).",
            ]
        )
    )
    return message


def compliance_channels(settings: Settings, session: aiohttp.ClientSession) -> list[Channel]:
    """The channels of ``[alerts]``, the e-mail one writing a violation's message."""
    return [
        replace(c, compose=violation_email) if isinstance(c, EmailChannel) else c
        for c in configured_channels(settings, session)
    ]


def has_channels(settings: Settings) -> bool:
    mail = settings.alerts.email
    return bool(settings.alerts.webhooks) or bool(mail.host and mail.has_recipients)


@dataclass
class SentCounts:
    violations: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # (alert, channel) pairs already final in the log


def deliver_violation_alerts(
    settings: Settings, violations: list[Violation], now: datetime | None = None
) -> SentCounts:
    """Send every violation not yet final on a channel to that channel; the counts. Nothing
    happens (and no log is written) when ``[alerts]`` configures no channel."""
    counts = SentCounts(violations=len(violations))
    if not violations or not has_channels(settings):
        return counts
    created = now or datetime.now(UTC)
    payloads = [violation_payload(v, created) for v in violations]
    asyncio.run(_deliver(settings, payloads, counts))
    return counts


async def _deliver(settings: Settings, payloads: list[dict[str, Any]], counts: SentCounts) -> None:
    log = DeliveryLog(compliance_log_path(settings))
    try:
        async with aiohttp.ClientSession() as session:
            channels = compliance_channels(settings, session)
            for payload in payloads:
                log.keep_alert(payload, payload["created_at"])
                for channel in channels:
                    if not channel.accepts(payload):
                        continue
                    done = log.delivery(payload["alert_id"], channel.name)
                    if done is not None and done.status in FINAL:
                        counts.skipped += 1
                        continue
                    status = await _send(settings, log, channel, payload)
                    counts.delivered += status == DELIVERED
                    counts.failed += status == FAILED
    finally:
        log.close()


async def _send(
    settings: Settings, log: DeliveryLog, channel: Channel, payload: dict[str, Any]
) -> str:
    """Try one channel until delivered or failed (``[alerts]`` backoff and attempts)."""
    alerts = settings.alerts
    alert_id, name = payload["alert_id"], channel.name
    retrying = AsyncRetrying(
        stop=stop_after_attempt(alerts.max_attempts),
        wait=wait_exponential(
            multiplier=alerts.backoff_initial_seconds, max=alerts.backoff_max_seconds
        ),
        retry=retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
        reraise=True,
    )
    status, error = DELIVERED, None
    try:
        async for attempt in retrying:
            with attempt:
                log.attempt(alert_id, name, payload["tenant"], rfc3339(datetime.now(UTC)))
                try:
                    await channel.send(payload)
                except DeliveryError as exc:
                    log.attempt_failed(alert_id, name, exc.summary)
                    raise
    except DeliveryError as exc:
        status, error = FAILED, exc.summary
    finished = datetime.now(UTC)
    latency = (finished - parse_time(payload["created_at"])).total_seconds()
    log.finish(alert_id, name, status, error, rfc3339(finished), latency)
    return status
