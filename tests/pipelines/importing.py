"""Helpers of the importers' tests: convert a sample file and fold its events into contacts the
way the stream does (``streams.contacts``), so a test asserts the KPIs' inputs (ASA, talk,
abandons) by hand computation without a broker."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pipelines.importers import importer_for
from pipelines.importers.framework import Rejection, run_import
from streams.canonical import canonicalise
from streams.contacts import add_event, fold_contact, is_contact_event, new_state
from tests.pii import TEST_PII_KEY

SHORT_ABANDON_MS = 5000  # the kpis.short_abandon_seconds default


def imported(
    format_name: str, *paths: Path, mapping: Path | None = None, tenant: str = "acme"
) -> tuple[list[dict[str, Any]], list[Rejection]]:
    """The events and rejections of an import of ``paths`` (through the framework's run, so
    every event was checked against the contract)."""
    events: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    run_import(importer_for(format_name, mapping), list(paths), tenant, events.append,
               rejections.append)  # fmt: skip
    return events, rejections


def contacts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stream's contact facts of the events, by contact id (every contact folded as
    ``closed`` or ``open``; the status is not what these tests check)."""
    states: dict[str, dict[str, Any]] = {}
    for event in events:
        canonical = canonicalise(event, TEST_PII_KEY)
        if not is_contact_event(canonical):
            continue
        state = states.setdefault(
            canonical["contact_id"], new_state(canonical["tenant"], canonical.get("channel"))
        )
        add_event(state, canonical)
    return {
        contact: fold_contact(contact, state, SHORT_ABANDON_MS, "closed")
        for contact, state in states.items()
    }


def seconds_between(later: str, earlier: str) -> float:
    from schemas.times import parse_rfc3339

    return parse_rfc3339(later) - parse_rfc3339(earlier)


def by_type(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["event_type"]].append(event)
    return grouped
