"""Imported events through the stream's own pure stages, without Kafka: the contract check of
``run_import``, ``canonicalise`` and the contact fold, then the contact KPIs computed from the
folded records as docs/kpis.md defines them (inbound contacts; handle = talk + hold + ACW)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.importers.framework import Importer, ImportSummary, Rejection, run_import
from schemas.records import ContactFacts
from schemas.times import parse_rfc3339
from streams.canonical import canonicalise
from streams.contacts import ContactFold, is_contact_event
from tests.pii import TEST_PII_KEY

SHORT_ABANDON_SECONDS = 5.0
IDLE_TIMEOUT_SECONDS = 4 * 3600


@dataclass
class Imported:
    events: list[dict[str, Any]]
    rejections: list[Rejection]
    summary: ImportSummary


def import_files(importer: Importer, paths: list[Path], tenant: str = "acme") -> Imported:
    """Run the import as ``omnicx import`` does (contract check included), into lists."""
    events: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    summary = run_import(importer, paths, tenant, events.append, rejections.append)
    return Imported(events, rejections, summary)


def fold_contacts(events: list[dict[str, Any]]) -> dict[str, ContactFacts]:
    """The final record of every contact the events make, folded by the stream's code (fed in
    the order given, then every open contact timed out as at the end of a replay)."""
    fold = ContactFold(
        {}, short_abandon_seconds=SHORT_ABANDON_SECONDS, idle_timeout_seconds=IDLE_TIMEOUT_SECONDS
    )
    canonical = [canonicalise(event, TEST_PII_KEY) for event in events]
    records = fold.apply([event for event in canonical if is_contact_event(event)], -math.inf)
    records += fold.sweep(math.inf)
    latest: dict[str, ContactFacts] = {}
    for record in records:
        latest[record.facts.contact_id] = record.facts
    return latest


def handle_seconds(facts: ContactFacts) -> float:
    return (facts.talk_seconds or 0) + facts.hold_seconds + (facts.acw_seconds or 0)


def contact_kpis(contacts: list[ContactFacts]) -> dict[str, float | int | None]:
    """ASA, AHT, abandon rate and their counts over the inbound contacts (docs/kpis.md)."""
    inbound = [c for c in contacts if c.direction != "outbound"]
    queued = [c for c in inbound if c.first_queued_at is not None]
    offered = [c for c in queued if not c.short_abandon]
    answered = [c for c in queued if c.answered_at is not None]
    abandoned = [c for c in offered if c.abandoned]
    handled = [c for c in inbound if c.answered_at is not None and c.ended_at is not None]
    waits = [parse_rfc3339(c.answered_at) - parse_rfc3339(c.first_queued_at) for c in answered]
    handle = sum(handle_seconds(c) for c in handled)
    return {
        "offered": len(offered),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandons": sum(c.short_abandon for c in queued),
        "handled": len(handled),
        "handle_seconds_sum": round(handle, 3),
        "asa": round(sum(waits) / len(waits), 3) if waits else None,
        "aht": round(handle / len(handled), 3) if handled else None,
        "abandon_rate": len(abandoned) / len(offered) if offered else None,
    }
