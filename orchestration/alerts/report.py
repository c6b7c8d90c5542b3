"""The alert log as ``omnicx alerts list``, ``show`` and ``summary`` read it: the warehouse's
``int_alerts`` with each alert's outcome per channel (``int_alert_deliveries``) and the contacts
behind each signal (``int_contacts``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import orjson

from orchestration.alerts.record import parse_time

_DURATION = re.compile(r"(\d+)\s*([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

LIST_COLUMNS = ["alert_id", "created_at", "tenant", "score", "reason", "signals", "deliveries"]


def since_time(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from now (``30m``, ``6h``, ``7d``) or a day or time (UTC)."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        return now - timedelta(**{_UNITS[duration[2]]: int(duration[1])})
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_alerts(
    con: duckdb.DuckDBPyConnection, since: datetime | None, tenant: str | None
) -> list[dict[str, Any]]:
    """Alerts newest first, each with its signals' names and its outcome per channel."""
    rows = con.execute(
        """
        with deliveries as (
            select alert_id, string_agg(channel || ' ' || status, ', ' order by channel) as done
            from int_alert_deliveries group by alert_id
        )
        select a.alert_id, a.created_at, a.tenant, a.score, a.reason,
               array_to_string(a.signal_names, ', '), coalesce(d.done, '')
        from int_alerts as a left join deliveries as d using (alert_id)
        where ($since is null or a.created_at >= $since) and ($tenant is null or a.tenant = $tenant)
        order by a.created_at desc, a.alert_id
        """,
        {"since": since.replace(tzinfo=None) if since else None, "tenant": tenant},
    ).fetchall()
    return [dict(zip(LIST_COLUMNS, row, strict=True)) for row in rows]


def alert_details(con: duckdb.DuckDBPyConnection, alert_id: str) -> dict[str, Any] | None:
    """One alert with its signals (each evidence contact joined to int_contacts) and
    deliveries; None when the warehouse has no such alert."""
    cursor = con.execute("select * from int_alerts where alert_id = ?", [alert_id])
    row = cursor.fetchone()
    if row is None:
        return None
    alert = dict(zip([d[0] for d in cursor.description], row, strict=True))
    alert["signals"] = orjson.loads(alert["signals"] or "[]")
    ids = [
        e["contact_id"] for s in alert["signals"] for e in s.get("evidence", []) if e["contact_id"]
    ]
    contacts = con.execute(
        "select contact_id, channel, first_queue, reason, started_at, abandoned, status "
        "from int_contacts where contact_id in (select unnest($ids)) and tenant = $tenant",
        {"ids": ids, "tenant": alert["tenant"]},
    ).fetchall()
    known = {c[0]: dict(zip(["contact_id", "channel", "queue", "contact_reason",
                             "started_at", "abandoned", "status"], c, strict=True))
             for c in contacts}  # fmt: skip
    for signal in alert["signals"]:
        for evidence in signal.get("evidence", []):
            evidence["contact"] = known.get(evidence["contact_id"])
    cursor = con.execute(
        "select channel, status, attempts, last_error, finished_at, latency_seconds "
        "from int_alert_deliveries where alert_id = ? order by channel",
        [alert_id],
    )
    names = [d[0] for d in cursor.description]
    alert["deliveries"] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return alert


def describe(alert: dict[str, Any]) -> str:
    """``omnicx alerts show``: why the customer was flagged, signal by signal."""
    reason = {"flagged": "became at risk", "rose": "rose while at risk"}.get(
        alert["reason"], alert["reason"]
    )
    previous = alert.get("previous_score")
    lines = [
        f"alert {alert['alert_id']} ({alert['tenant']}), scored at {_at(alert['created_at'])}",
        f"customer key  {alert['customer_key']}",
        f"score         {alert['score']} (threshold {alert['threshold']}"
        + (f", previously {previous}" if previous is not None else "")
        + f"): {reason}",
        f"triggered by  event {alert['trigger_event_id']} at {_at(alert['trigger_occurred_at'])}",
        f"knob set      {alert['knob_set']}",
        "",
        "why, signal by signal (weight, then the contacts that raised it):",
    ]
    for signal in alert["signals"]:
        lines.append(f"  {signal['signal']:<28} +{signal['weight']}")
        for evidence in signal.get("evidence", []):
            contact = evidence.get("contact")
            about = "not in the warehouse (yet)" if evidence["contact_id"] else "an opt-out"
            if contact:
                about = ", ".join(
                    str(part)
                    for part in (
                        contact["channel"],
                        contact["queue"] and f"queue {contact['queue']}",
                        contact["contact_reason"] and f"reason {contact['contact_reason']}",
                        contact["abandoned"] and "abandoned",
                        contact["status"],
                    )
                    if part
                )
            contact_id = evidence["contact_id"] or "-"
            lines.append(f"    {contact_id}  {_at(evidence.get('at'))}  {about}")
    total = sum(s["weight"] for s in alert["signals"])
    lines += [f"  {'total':<28} {total}", "", "deliveries:"]
    for d in alert["deliveries"] or []:
        attempts = f"{d['attempts']} attempt{'' if d['attempts'] == 1 else 's'}"
        latency = "" if d["latency_seconds"] is None else f", {d['latency_seconds']:.1f} s after"
        error = f": {d['last_error']}" if d["status"] != "delivered" and d["last_error"] else ""
        lines.append(f"  {d['channel']:<20} {d['status']} ({attempts}{latency}){error}")
    if not alert["deliveries"]:
        lines.append("  none recorded (no channel took it, or delivery is still under way)")
    return "\n".join(lines)


def _at(value: Any) -> str:
    """A time of the warehouse (naive, UTC) or of the record's JSON (RFC 3339 text)."""
    moment = value if isinstance(value, datetime) else parse_time(str(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else str(value)


def summarise_alerts(
    con: duckdb.DuckDBPyConnection, first: date, last: date, top: int = 3
) -> dict[str, Any]:
    """The alerts whose triggering event fell on the days ``first`` to ``last``: how many (by
    tenant and reason), the signals they name most often, and one example (the highest score,
    then the smallest id, so the same run shows the same one)."""
    days = {"first": first, "last": last}
    window = "cast(trigger_occurred_at as date) between $first and $last"
    by_tenant = con.execute(
        f"select tenant, count(*) from int_alerts where {window} group by all order by tenant",
        days,
    ).fetchall()
    by_reason = con.execute(
        f"select reason, count(*) from int_alerts where {window} group by all order by 2 desc, 1",
        days,
    ).fetchall()
    signals = con.execute(
        f"""
        select signal, count(*) from (
            select unnest(signal_names) as signal from int_alerts where {window}
        ) group by all order by 2 desc, 1 limit {int(top)}
        """,
        days,
    ).fetchall()
    example = con.execute(
        f"select alert_id, tenant, score, threshold, signals from int_alerts where {window} "
        "order by score desc, alert_id limit 1",
        days,
    ).fetchone()
    return {
        "alerts": sum(count for _, count in by_tenant),
        "by_tenant": dict(by_tenant),
        "by_reason": dict(by_reason),
        "top_signals": dict(signals),
        "example": None
        if example is None
        else {
            "alert_id": example[0],
            "tenant": example[1],
            "score": example[2],
            "threshold": example[3],
            "signals": [
                {"signal": s["signal"], "weight": s["weight"]}
                for s in orjson.loads(example[4] or "[]")
            ],
        },
    }


def describe_summary(summary: dict[str, Any]) -> str:
    """``omnicx alerts summary``: counts, the top reasons and one example, without any
    identifier of the customer (``omnicx alerts show ID`` has the rest)."""

    def counts(mapping: dict[str, int]) -> str:
        return ", ".join(f"{name} {count:,}" for name, count in mapping.items())

    lines = [f"alerts fired:   {summary['alerts']:,}"]
    if not summary["alerts"]:
        return "\n".join(lines)
    lines[0] += f"  ({counts(summary['by_tenant'])}; {counts(summary['by_reason'])})"
    lines.append(f"top reasons:    {counts(summary['top_signals'])}  (alerts naming each signal)")
    example = summary["example"]
    why = ", ".join(f"{s['signal']} +{s['weight']}" for s in example["signals"])
    lines.append(
        f"example:        {example['alert_id']}  {example['tenant']}  "
        f"score {example['score']} (threshold {example['threshold']}): {why}"
    )
    return "\n".join(lines)
