"""One simulation run: the raw messages in send order, then the ground truth.

``Simulation.messages()`` is the single generator of message bytes, shared by the file and the
Kafka outputs so that both send exactly the same messages. The ground truth is available once
the messages are exhausted: it is read from the engine's state (truth.py, kpis.py) and from the
fault injector's own record of what it did to the feed, measured on the final send order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import orjson

from pipelines.simulator import truth
from pipelines.simulator.churn import ChurnModel, churn_outcome
from pipelines.simulator.clock import DAY, SECOND, format_ms
from pipelines.simulator.config import ConfigError, SimulationConfig
from pipelines.simulator.engine import Engine
from pipelines.simulator.faults import MALFORMED_KINDS, FaultInjector
from pipelines.simulator.kpis import KpiBook
from schemas.records import ContactFacts, JourneyFacts
from schemas.settings import Settings

# A valid message is counted late when an event more than this much later was sent before it.
LATE_AFTER_SECONDS = 60


class Simulation:
    def __init__(
        self, config: SimulationConfig, settings: Settings, churn_model: ChurnModel | None = None
    ) -> None:
        if config.faults.max_late_seconds > settings.stream.lateness_seconds:
            raise ConfigError(
                "faults.max_late_seconds must stay within settings.stream.lateness_seconds "
                f"({settings.stream.lateness_seconds})"
            )
        self.config = config
        self.settings = settings
        # Who really churns is decided after the run, with generators of its own (churn.py).
        self.churn_model = churn_model or ChurnModel()
        self.engine = Engine(config, settings)
        # Its own generator, so that fault rates never change the simulated centre.
        self.injector = FaultInjector(
            config.faults, random.Random(f"faults/{config.seed}"), self.engine.ids
        )
        self.faults: dict[str, Any] | None = None
        self.events = 0
        # The simulated time sent so far (the newest event's), for progress displays.
        self.sent_until_ms = self.engine.start
        self._started = False
        self._truth: _Truth | None = None

    def messages(self) -> Iterator[bytes]:
        """Every message to send, in send order (valid, duplicated and malformed ones)."""
        if self._started:
            raise RuntimeError("a simulation produces its messages once")
        self._started = True
        dumps = orjson.dumps

        def clean() -> Iterator[tuple[int, bytes, dict[str, Any]]]:
            for t, event in self.engine.run():
                self.events += 1
                yield t, dumps(event), event

        late_ms = LATE_AFTER_SECONDS * SECOND
        index = duplicates = out_of_order = late = max_lateness = 0
        newest = -1
        malformed: list[dict[str, Any]] = []
        for raw, event_ms, duplicate, broken in self.injector.run(clean()):
            if broken is not None:
                malformed.append({"index": index, **broken._asdict()})
            elif event_ms < newest:
                out_of_order += 1
                lateness = newest - event_ms
                late += lateness > late_ms
                max_lateness = max(max_lateness, lateness)
            else:
                newest = self.sent_until_ms = event_ms
            duplicates += duplicate
            index += 1
            yield raw
        by_kind = dict.fromkeys(MALFORMED_KINDS, 0)
        for record in malformed:
            by_kind[record["kind"]] += 1
        self.faults = {
            "messages": index,
            "events": self.events,
            "duplicates": duplicates,
            "out_of_order": out_of_order,
            "late": late,
            "late_after_seconds": LATE_AFTER_SECONDS,
            "max_lateness_seconds": max_lateness / SECOND,
            "malformed": len(malformed),
            "malformed_by_kind": by_kind,
            "malformed_messages": malformed,
        }

    def _require_truth(self) -> _Truth:
        if self.faults is None:
            raise RuntimeError("the ground truth is known once all messages have been produced")
        if self._truth is None:
            self._truth = _Truth(self.engine, self.settings, self.churn_model)
        return self._truth

    def contact_facts(self) -> Iterator[ContactFacts]:
        """One record per contact, sorted by contact_id."""
        t = self._require_truth()
        short_ms = self.settings.kpis.short_abandon_seconds * SECOND
        for c in self.engine.contacts:  # ids are numbered in start order: already sorted
            yield truth.contact_facts(c, t.hashes, short_ms)

    def journey_facts(self) -> list[JourneyFacts]:
        """Every journey, sorted by journey_id."""
        t = self._require_truth()
        facts = [truth.journey_facts(j, t.keys[j.customer.idx]) for j in t.journeys]
        return sorted(facts, key=lambda j: j.journey_id)

    def ground_truth(self) -> dict[str, Any]:
        t = self._require_truth()
        engine, settings = self.engine, self.settings
        scores = {
            customer.customer_id: {"score": score, "signals": signals}
            for customer, score, signals in t.churn
        }
        planted = sorted(c.customer_id for c in t.customers if c.planted)
        return {
            "generator": "omnicx simulator v1",
            "knobs": self.config.to_dict(),
            "settings": {
                "kpis": asdict(settings.kpis),
                # each tenant's reporting time zone: the days of kpis.by_day and occupancy
                "time_zones": {t.name: settings.tenant(t.name).time_zone for t in engine.tenants},
                "stream": {
                    "lateness_seconds": settings.stream.lateness_seconds,
                    "idle_timeout_seconds": settings.stream.idle_timeout_seconds,
                    "identity_max_accounts": settings.stream.identity_max_accounts,
                },
                "churn": {
                    "lookback_days": truth.CHURN_LOOKBACK_DAYS,
                    "threshold": truth.CHURN_THRESHOLD,
                    "weights": truth.CHURN_WEIGHTS,
                },
            },
            "period": {"start": format_ms(engine.start), "end": format_ms(engine.end)},
            "counts": {
                "contacts": len(engine.contacts),
                "inbound_contacts": sum(c.direction == "inbound" for c in engine.contacts),
                "journeys": len(t.journeys),
                "customers": len(t.customers),
                "agents": sum(len(tenant.agents) for tenant in engine.tenants),
            },
            "faults": self.faults,
            "kpis": t.kpis,
            "churn_risk_customers": sorted(
                cid for cid, s in scores.items() if s["score"] >= truth.CHURN_THRESHOLD
            ),
            "churn_scores": {cid: scores[cid] for cid in sorted(scores)},
            "planted_churn_customers": planted,
            "churn_outcome": {
                "model": self.churn_model.to_dict(),
                "follow_up_until": format_ms(engine.end + self.churn_model.follow_up_days * DAY),
                "churned": {cid: format_ms(at) for cid, at in sorted(t.churned.items())},
            },
            "outages": [
                {"tenant": tenant.name, "start": format_ms(begin), "end": format_ms(end)}
                for tenant, begin, end in engine.outages
            ],
            "incomplete_contacts": [c.id for c in engine.contacts if c.incomplete],
            "opt_out_violations": [
                {**v, "opted_out_at": format_ms(v["opted_out_at"])} for v in engine.violations
            ],
        }


class _Truth:
    """Journeys, customer keys, churn and KPIs, computed once from the finished engine."""

    def __init__(self, engine: Engine, settings: Settings, churn_model: ChurnModel) -> None:
        kpis = settings.kpis
        short_ms = kpis.short_abandon_seconds * SECOND
        self.hashes = truth.IdentifierHashes(settings.pii_key)
        self.customers = [c for tenant in engine.tenants for c in tenant.customers if c.contacts]
        users = truth.shared_users(iter(self.customers))
        self.journeys: list[truth.Journey] = []
        channel_journeys: list[truth.Journey] = []
        self.keys: dict[int, str] = {}
        # (customer, score, signals) of every customer with a signal
        self.churn: list[tuple[Any, int, list[str]]] = []
        for customer in self.customers:
            journeys = truth.build_journeys(customer, kpis)
            if journeys:
                self.keys[customer.idx] = truth.customer_key(customer, self.hashes, users)
            self.journeys += journeys
            channel_journeys += truth.build_journeys(customer, kpis, per_channel=True)
            signals = truth.churn_signals(customer, journeys, engine.end, short_ms)
            if signals:
                self.churn.append((customer, truth.churn_score(signals), signals))
        book = KpiBook(kpis)
        book.add_contacts(engine.contacts)
        book.add_journeys(self.journeys, per_channel=False)
        book.add_journeys(channel_journeys, per_channel=True)
        book.add_occupancy(engine.desk.occupancy)
        self.kpis = book.report()
        self.churned = churn_outcome(self.customers, engine.config.seed, engine.end, churn_model)
