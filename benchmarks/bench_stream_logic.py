"""Micro-benchmark of the pure stream logic: canonicalise, de-duplicate and fold contacts.

Synthetic voice and chat contacts (about ten events each, some duplicated, locally shuffled as
sources do) go through the same functions the Faust agents call, in batches, without a broker.
Prints events/s per stage and for the whole chain on one core, then the rates of the two
downstream stages on their own inputs: identity links (events with identifiers) and
journeys (emitted contact records, filed in a store that keeps its values as JSON, as the
stream's tables do). ``--customers``: how many customers share the contacts (fewer customers,
longer histories); ``--days``: the contacts spread over that many days at random (default: two
seconds apart, a single journey per customer).

    .venv/bin/python benchmarks/bench_stream_logic.py [--contacts 20000] [--batch 1000]
        [--customers 5000] [--days DAYS]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from schemas.settings import load_settings, with_pii_key
from schemas.times import format_utc
from streams.canonical import canonicalise
from streams.clock import EventClock
from streams.contacts import ContactFold
from streams.dedup import Deduplicator
from streams.identity import IdentityGraph
from streams.journeys import JourneyBook

T0 = 1767603600.0  # 2026-01-05T09:00:00Z


def synthetic_events(
    contacts: int, customers: int = 5000, days: float | None = None, seed: int = 7
) -> list[dict]:
    """``days``: contacts start at random gaps over that many days (default: 2 s apart)."""
    rng = random.Random(seed)
    events: list[dict] = []
    mean_gap = 2.0 if days is None else days * 86400 / contacts
    start = T0
    for n in range(contacts):
        contact_id = f"c{n}"
        start += mean_gap if days is None else rng.expovariate(1 / mean_gap)
        chat = n % 3 == 0
        customer = {"phone": f"06{rng.randrange(10**8):08d}", "customer_id": f"C{n % customers}"}
        steps = [
            ("contact.started", 0, {"direction": "inbound", "customer": customer}),
            ("contact.queued", 3, {"queue": "billing"}),
            ("contact.answered", 25, {"agent_id": f"a{n % 80}"}),
        ]
        if chat:
            steps += [
                ("message.received", 30 + i * 20, {"attributes": {"text": text}})
                for i, text in enumerate(("Hello", "I want to cancel my plan", "thanks"))
            ]
        else:
            steps += [("contact.hold_started", 60, {}), ("contact.hold_ended", 90, {})]
        steps += [
            ("contact.ended", 240, {}),
            ("contact.wrapped_up", 270, {"attributes": {"disposition": "resolved"}}),
        ]
        for i, (event_type, offset, extra) in enumerate(steps):
            event = {
                "event_id": f"{contact_id}-{i}",
                "event_type": event_type,
                "schema_version": 1,
                "occurred_at": format_utc(start + offset),
                "tenant": "acme",
                "channel": "chat" if chat else "voice",
                "contact_id": contact_id,
                **extra,
            }
            events.append(event)
            if rng.random() < 0.02:  # a producer retry
                events.append(dict(event))
    # Local disorder: each event moves up to ~50 places.
    keyed = sorted(enumerate(events), key=lambda p: p[0] + rng.uniform(0, 50))
    return [e for _, e in keyed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=float, default=None)
    args = parser.parse_args()
    settings = with_pii_key(load_settings(environ={}))
    raw = synthetic_events(args.contacts, args.customers, args.days)
    batches = [raw[i : i + args.batch] for i in range(0, len(raw), args.batch)]

    started = time.perf_counter()
    canonical_batches = [[canonicalise(e, settings.pii_key) for e in b] for b in batches]
    canonical_seconds = time.perf_counter() - started

    dedup = Deduplicator({}, settings.stream.lateness_seconds)
    clock = EventClock(settings.stream.lateness_seconds)
    fold = ContactFold(
        {},
        short_abandon_seconds=settings.kpis.short_abandon_seconds,
        idle_timeout_seconds=settings.stream.idle_timeout_seconds,
    )
    records = []
    started = time.perf_counter()
    new_batches = [dedup.filter_new(b) for b in canonical_batches]
    dedup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for batch in new_batches:
        clock.observe_all(batch)
        records += fold.apply(batch, clock.watermark)
        records += fold.sweep(clock.watermark)
    fold_seconds = time.perf_counter() - started

    total = canonical_seconds + dedup_seconds + fold_seconds
    print(
        f"{len(raw)} events ({len(raw) - sum(map(len, new_batches))} duplicates), "
        f"{args.contacts} contacts, batches of {args.batch}, {len(records)} records emitted"
    )
    for stage, seconds in (
        ("canonicalise", canonical_seconds),
        ("dedup", dedup_seconds),
        ("fold contacts", fold_seconds),
        ("all three", total),
    ):
        print(f"{stage:>14}: {len(raw) / seconds:>10,.0f} events/s")

    graph = IdentityGraph({}, settings.stream.identity_max_accounts)
    linking = [e for b in new_batches for e in b if len(e["customer_ids"]) > 1]
    started = time.perf_counter()
    for event in linking:
        graph.link(event)
    link_seconds = time.perf_counter() - started
    print(f"{'identity link':>14}: {len(linking) / link_seconds:>10,.0f} events/s")

    book = JourneyBook(JsonValues(), graph.customer_key, settings.kpis.repeat_window_days * 86400.0)
    facts = [r.facts for r in records]
    started = time.process_time()
    for i in range(0, len(facts), args.batch):
        book.apply_contacts(facts[i : i + args.batch])
    journey_seconds = time.process_time() - started
    print(
        f"{'journeys':>14}: {len(facts) / journey_seconds:>10,.0f} contact records/s "
        f"(CPU {journey_seconds:.2f} s, {args.contacts / args.customers:.0f} contacts a customer)"
    )


class JsonValues(MutableMapping[str, Any]):
    """Values kept as orjson bytes, read and written whole, as ``streams.tables.JsonTable``."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self.data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


if __name__ == "__main__":
    main()
