"""The alert e-mail: a plain-text and an HTML part (multipart/alternative) saying who, how much
and why, signal by signal with the contacts behind each."""

from __future__ import annotations

import html
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from orchestration.alerts.record import parse_time

_REASONS = {"flagged": "became at risk", "rose": "rose while at risk"}


def _when(text: str | None) -> str:
    moment = parse_time(text or "")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else str(text)


def _contact(evidence: dict[str, Any], html_code: bool = False) -> str:
    """The contact behind a signal; an opt-out has none."""
    contact_id = evidence.get("contact_id")
    if contact_id is None:
        return "no contact (an opt-out)"
    return (
        f"contact <code>{html.escape(contact_id)}</code>" if html_code else f"contact {contact_id}"
    )


def subject(alert: dict[str, Any]) -> str:
    reason = _REASONS.get(alert.get("reason", ""), alert.get("reason", "flagged"))
    return (
        f"[omnicx] churn risk {alert['score']} for a {alert['tenant']} customer ({reason}): "
        f"{', '.join(s['signal'] for s in alert['signals'][:3])}"
    )


def _facts(alert: dict[str, Any]) -> list[tuple[str, str]]:
    keys = alert.get("business_keys", {})
    business = "; ".join(f"{kind} {', '.join(values)}" for kind, values in keys.items() if values)
    previous = alert.get("previous_score")
    score = f"{alert['score']} (threshold {alert.get('threshold')}"
    score += f", previously {previous})" if previous is not None else ")"
    return [
        ("Alert", alert["alert_id"]),
        ("Tenant", alert["tenant"]),
        ("Customer", business or "no business key known"),
        ("Customer key", alert["customer_key"]),
        ("Score", score),
        ("Triggered by", f"event {alert.get('trigger_event_id')} at "
                         f"{_when(alert.get('trigger_occurred_at'))}"),
        ("Scored at", _when(alert.get("created_at"))),
    ]  # fmt: skip


def plain_text(alert: dict[str, Any]) -> str:
    lines = [f"A {alert['tenant']} customer is at risk of churning.", ""]
    lines += [f"{label}: {value}" for label, value in _facts(alert)]
    lines += ["", "Why (each signal, its weight, and the contacts that raised it):"]
    for signal in alert["signals"]:
        lines.append(f"- {signal['signal']} (+{signal['weight']})")
        for evidence in signal.get("evidence", []):
            lines.append(f"    {_contact(evidence)} at {_when(evidence.get('at'))}")
    lines += ["", f"Details: omnicx alerts show {alert['alert_id']}"]
    return "\n".join(lines) + "\n"


def html_text(alert: dict[str, Any]) -> str:
    e = html.escape
    facts = "".join(
        f"<tr><th align='left'>{e(label)}</th><td>{e(str(value))}</td></tr>"
        for label, value in _facts(alert)
    )
    reasons = []
    for signal in alert["signals"]:
        contacts = "".join(
            f"<li>{_contact(ev, html_code=True)} at {e(_when(ev.get('at')))}</li>"
            for ev in signal.get("evidence", [])
        )
        reasons.append(
            f"<li><b>{e(signal['signal'])}</b> (+{e(str(signal['weight']))})<ul>{contacts}</ul></li>"
        )
    return (
        "<html><body>"
        f"<p>A {e(alert['tenant'])} customer is at risk of churning.</p>"
        f"<table>{facts}</table>"
        "<p>Why (each signal, its weight, and the contacts that raised it):</p>"
        f"<ul>{''.join(reasons)}</ul>"
        f"<p>Details: <code>omnicx alerts show {e(alert['alert_id'])}</code></p>"
        "</body></html>"
    )


def alert_email(alert: dict[str, Any], sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(alert)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # The same id on every attempt: mail systems drop a copy resent after a crash.
    message["Message-ID"] = f"<{alert['alert_id']}@omnicx.alerts>"
    message.set_content(plain_text(alert))
    message.add_alternative(html_text(alert), subtype="html")
    return message
