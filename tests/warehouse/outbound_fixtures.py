"""Hand-made outbound layers: dialer attempts, opt-outs and outbound contacts for the outbound
marts (tests/warehouse/test_kpi_outbound.py) and the opt-out violation alerts
(tests/orchestration/test_opt_out_alerts.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from tests.warehouse.kpi_fixtures import DAY, build_int_layer, contact, settings, utc
from warehouse.kpi_marts import refresh_marts


def attempt(
    event_id: str,
    contact_id: str,
    at: str,
    *,
    result: str,
    campaign: str | None = "renewals",
    dialer: str = "predictive",
    tenant: str = "acme",
    **extra: Any,
) -> dict[str, Any]:
    """An ``outbound.attempted`` event (no identifiers of its own: the contact's start event
    names the customer)."""
    attributes = {"dialer": dialer, "result": result, **extra}
    if campaign is not None:
        attributes["campaign"] = campaign
    return {
        "event_id": event_id,
        "event_type": "outbound.attempted",
        "occurred_at": utc(at),
        "tenant": tenant,
        "channel": "voice",
        "contact_id": contact_id,
        "customer_ids": [],
        "attributes": attributes,
    }


def opted_out(
    event_id: str, customer: str, at: str, scope: str | None, tenant: str = "acme"
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "customer.opted_out",
        "occurred_at": utc(at),
        "tenant": tenant,
        "channel": "voice",
        "contact_id": None,
        "customer_ids": [f"phone:{customer}"],
        "attributes": {} if scope is None else {"scope": scope},
    }


def outbound(contact_id: str, start: str, customer: str = "alice", **timeline: Any):
    """An outbound call's facts: no queue; times in seconds after the dial."""
    return contact(
        contact_id, start, direction="outbound", queued=None, customer=customer, **timeline
    )


def warehouse(
    contacts: list, events: list[dict], knobs=None, extra_keys=(), day_to: date = DAY
) -> duckdb.DuckDBPyConnection:
    """The hand layer (plus ``extra_keys``: (identifier, customer key) of tenant acme), refreshed."""
    con = duckdb.connect()
    build_int_layer(con, contacts, events=events)
    for identifier, key in extra_keys:
        con.execute("insert into int_customer_keys values ('acme', ?, ?)", [identifier, key])
    refresh_marts(con, DAY, day_to, knobs or settings())
    return con


def violations_day() -> tuple[list, list[dict]]:
    contacts = [
        outbound("o1", "2026-01-05T08:00:00", "alice", ended=20),  # before alice's opt-out
        outbound("o2", "2026-01-05T10:00:00", "alice", ended=20),  # after it: violation
        outbound("o3", "2026-01-05T10:00:00", "bob", ended=20),  # another campaign: allowed
        outbound("o4", "2026-01-05T11:00:00", "bob", ended=20),  # bob's campaign: violation
        outbound("o5", "2026-01-05T09:00:00", "carol", ended=20),  # the very instant: allowed
        outbound("o6", "2026-01-05T12:00:00", "dave", ended=20),  # no scope = all: violation
        outbound("o7", "2026-01-05T12:00:00", "erin", ended=20),  # stitched: violation
        outbound("o8", "2026-01-05T12:00:00", "frank", ended=20),  # another tenant's opt-out
    ]
    events = [
        opted_out("x1", "alice", "2026-01-05T09:00:00", "all"),
        opted_out("x1b", "alice", "2026-01-05T09:30:00", "renewals"),
        opted_out("x2", "bob", "2026-01-05T09:00:00", "renewals"),
        opted_out("x3", "carol", "2026-01-05T09:00:00", "all"),
        opted_out("x4", "dave", "2026-01-05T09:00:00", None),
        # erin opted out by e-mail; identity stitching links it to her phone's customer
        {**opted_out("x5", "erin", "2026-01-05T09:00:00", "all"), "customer_ids": ["email:e"]},
        opted_out("x6", "frank", "2026-01-05T09:00:00", "all", tenant="other"),
        attempt("a1", "o1", "2026-01-05T08:00:00", result="no_answer"),
        attempt("a2", "o2", "2026-01-05T10:00:00", result="no_answer"),
        attempt("a3", "o3", "2026-01-05T10:00:00", result="busy", campaign="winback"),
        attempt("a4", "o4", "2026-01-05T11:00:00", result="connected", dialer="preview"),
        attempt("a5", "o5", "2026-01-05T09:00:00", result="no_answer"),
        attempt("a6", "o6", "2026-01-05T12:00:00", result="voicemail"),
        attempt("a7", "o7", "2026-01-05T12:00:00", result="no_answer"),
        attempt("a8", "o8", "2026-01-05T12:00:00", result="no_answer"),
    ]
    return contacts, events


def with_a_violation(centre: dict[str, Any]) -> dict[str, Any]:
    """``small_centre()`` (tests/warehouse/kpi_fixtures.py) plus a dialer's attempt to ben an
    hour after his opt-out, so that the outbound marts have rows too."""
    dial = attempt("dial-1", "o1", "2026-01-06T13:00:00", result="no_answer")
    centre["events"] = [*centre["events"], {**dial, "customer_ids": ["phone:ben"]}]
    return centre
