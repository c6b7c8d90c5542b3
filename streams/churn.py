"""Live churn-risk scoring in the customer stage (docs/alerts.md): the rules of
``schemas.churn`` applied per stitched customer as its facts change, and an alert record
(``schemas/json/alert.json``) when a customer becomes flagged, or rises by ``churn.realert_rise``
while flagged, never twice within ``churn.cooldown_hours`` for one customer.

The customer's contacts and journeys are the journey book's (``streams.journeys``: filed per
stitched customer and re-filed on merges and splits); this book keeps the rest in one store:

- ``s|<tenant>|<contact id>`` -> ``{survey event id: [at_ms, nps, csat, ces]}``
- ``o|<tenant>|<identifier>`` -> ``{opt-out event id: at_ms}``
- ``a|<tenant>|<customer key>`` -> ``{"score", "flagged", "alerted_score", "alerted_ms",
  "due_ms"}``: the last score, the last alert, when time alone can change the score next
- ``t|clock`` -> the book's clock: the latest event time it has seen, epoch ms

Event time drives everything (the window, the 48 h of an escalation, the cool-down): the clock
is the latest event time of the items seen, and a customer is re-scored when its facts change
or when its ``due_ms`` passes (a fact leaving the window, an escalation's 48 h ending). Surveys
and opt-outs are dropped once they left the look-back window.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.churn import (
    ContactFact,
    CustomerFacts,
    Score,
    SurveyFact,
    lookback_ms,
    next_change_ms,
    raised_signals,
    score_of,
)
from schemas.knob_sets import knob_set_id, mart_knobs
from schemas.settings import Settings
from schemas.times import format_utc
from streams.identity import IdentityGraph
from streams.journeys import ANONYMOUS_PREFIX, JourneyBook

_CLOCK = "t|clock"
BUSINESS_KINDS = ("customer_id", "account_id")  # the identifiers an alert names (hashed)


@dataclass(frozen=True, slots=True)
class Trigger:
    """The event that caused a re-score: its id and time (epoch ms)."""

    event_id: str
    at_ms: int


def alert_id(tenant: str, customer_key: str, trigger_event_id: str, reason: str) -> str:
    """Deterministic: a replay of the same trigger re-emits the same id (ALERTS.md)."""
    text = f"{tenant}|{customer_key}|{trigger_event_id}|{reason}"
    return "al-" + hashlib.sha256(text.encode()).hexdigest()[:24]


class ChurnBook:
    __slots__ = (
        "_due",
        "_expiries",
        "book",
        "churn",
        "clock_ms",
        "cooldown_ms",
        "graph",
        "knob_set",
        "lookback_ms",
        "now",
        "pending",
        "store",
    )

    def __init__(
        self,
        settings: Settings,
        store: MutableMapping[str, Any],
        graph: IdentityGraph,
        book: JourneyBook,
        now: Callable[[], float] = time.time,
    ) -> None:
        """``now``: the wall clock, for ``created_at`` only."""
        self.churn = settings.churn
        self.knob_set = knob_set_id(mart_knobs(settings))
        self.store, self.graph, self.book, self.now = store, graph, book, now
        self.lookback_ms = lookback_ms(self.churn)
        self.cooldown_ms = round(self.churn.cooldown_hours * 3_600_000)
        self.clock_ms: float = store.get(_CLOCK, -math.inf)
        # Customers to re-score at the next flush, with the latest item that touched them.
        self.pending: dict[tuple[str, str], Trigger] = {}
        # (due clock ms, tenant, customer key): time-driven re-scores; stale entries skipped.
        self._due: list[tuple[int, str, str]] = []
        # (expiry ms, store key) of survey and opt-out entries.
        self._expiries: list[tuple[int, str]] = []
        for key, value in store.items():
            if key.startswith("a|") and value.get("due_ms") is not None:
                _, tenant, customer = key.split("|", 2)
                self._due.append((value["due_ms"], tenant, customer))
            elif key.startswith(("s|", "o|")):
                self._expiries.append((self._expiry(key, value), key))
        heapq.heapify(self._due)
        heapq.heapify(self._expiries)

    # ------------------------------------------------------------ facts in

    def advance(self, trigger: Trigger) -> None:
        """Move the clock to an item's event time; customers whose score time alone changes by
        then are re-scored at the next flush, triggered by this item."""
        if trigger.at_ms > self.clock_ms:
            self.clock_ms = self.store[_CLOCK] = trigger.at_ms
        due = self._due
        while due and due[0][0] <= self.clock_ms:
            at, tenant, customer = heapq.heappop(due)
            state = self.store.get(f"a|{tenant}|{customer}")
            if state is not None and state.get("due_ms") == at:
                self._pend(tenant, customer, trigger)
        expiries, horizon = self._expiries, self.clock_ms - self.lookback_ms
        while expiries and expiries[0][0] < self.clock_ms:
            _, key = heapq.heappop(expiries)
            entries = self.store.get(key)
            if entries is None:
                continue
            kept = {eid: v for eid, v in entries.items() if _at(v) >= horizon}
            if not kept:
                del self.store[key]
            elif len(kept) < len(entries):
                self.store[key] = kept
                heapq.heappush(expiries, (self._expiry(key, kept), key))

    def touch(self, tenant: str, keys: Iterable[str], trigger: Trigger) -> None:
        """Re-score these customers at the next flush (their contacts or identity changed)."""
        for key in keys:
            if not key.startswith(ANONYMOUS_PREFIX):
                self._pend(tenant, key, trigger)

    def _pend(self, tenant: str, customer: str, trigger: Trigger) -> None:
        """Of the items of one message that touch a customer, the latest by event time (then by
        event id) triggers its re-score: the fact that completed the picture, whatever order the
        message holds them in."""
        held = self.pending.get((tenant, customer))
        if held is None or (trigger.at_ms, trigger.event_id) > (held.at_ms, held.event_id):
            self.pending[(tenant, customer)] = trigger

    def add_survey(self, tenant: str, body: dict[str, Any], trigger: Trigger) -> None:
        key = f"s|{tenant}|{body['contact_id']}"
        entry = [trigger.at_ms, body.get("nps"), body.get("csat"), body.get("ces")]
        if self._add(key, body["event_id"], entry, trigger):
            filed = self.book.filed_key(tenant, body["contact_id"])
            if filed is not None:  # else scored once its contact record is filed
                self.touch(tenant, [filed], trigger)

    def add_opt_out(self, tenant: str, body: dict[str, Any], trigger: Trigger) -> None:
        for identifier in body["customer_ids"]:
            if self._add(f"o|{tenant}|{identifier}", body["event_id"], trigger.at_ms, trigger):
                key = self.graph.customer_key(tenant, [identifier])
                if key is not None:
                    self.touch(tenant, [key], trigger)

    def _add(self, key: str, event_id: str, entry: Any, trigger: Trigger) -> bool:
        """Store one survey or opt-out; False for a copy already held or one already out of
        the window."""
        if trigger.at_ms < self.clock_ms - self.lookback_ms:
            return False
        entries = self.store.get(key) or {}
        if event_id in entries:
            return False
        self.store[key] = {**entries, event_id: entry}
        heapq.heappush(self._expiries, (self._expiry(key, self.store[key]), key))
        return True

    def _expiry(self, key: str, entries: dict[str, Any]) -> int:
        return min(_at(v) for v in entries.values()) + self.lookback_ms

    # ------------------------------------------------------------ scoring

    def facts(self, tenant: str, customer: str) -> CustomerFacts:
        """What the customer's score is made of, now."""
        state = self.book.store.get(f"c|{tenant}|{customer}") or {"contacts": {}, "journeys": {}}
        contacts = {cid: ContactFact.of_dict(facts) for cid, facts in state["contacts"].items()}
        surveys = [
            SurveyFact(cid, at, nps, csat, ces)
            for cid in contacts
            for at, nps, csat, ces in (self.store.get(f"s|{tenant}|{cid}") or {}).values()
        ]
        opt_outs = [
            at
            for identifier in self._identifiers(tenant, customer, opted_out=True)
            for at in self.store[f"o|{tenant}|{identifier}"].values()
        ]
        journeys = [j["contact_ids"] for j in state["journeys"].values()]
        return CustomerFacts(contacts, journeys, surveys, opt_outs)

    def _identifiers(self, tenant: str, customer: str, *, opted_out: bool = False) -> list[str]:
        """The identifier hashes whose customer key is ``customer`` (hubs are nobody's); with
        ``opted_out``, only those with opt-outs held (most customers have none: looked up first)."""
        graph, store = self.graph, self.store
        members = graph.members(tenant, graph.root(tenant, customer))
        if opted_out:
            members = [m for m in members if f"o|{tenant}|{m}" in store]
        return [m for m in members if graph.customer_key(tenant, [m]) == customer]

    def score_as_of(self, tenant: str, customer: str, end_ms: int) -> Score:
        """The customer's score as of ``end_ms`` like the mart's as-of day: over the window
        ending (exclusive) there, from the facts held now."""
        raised = raised_signals(self.facts(tenant, customer), end_ms - self.lookback_ms, end_ms)
        return score_of(raised, self.churn)

    def flush(self) -> list[dict[str, Any]]:
        """Re-score the customers touched since the last flush; the alert records to emit."""
        alerts = []
        for (tenant, customer), trigger in sorted(self.pending.items()):
            alert = self._rescore(tenant, customer, trigger)
            if alert is not None:
                alerts.append(alert)
        self.pending.clear()
        return alerts

    def _rescore(self, tenant: str, customer: str, trigger: Trigger) -> dict[str, Any] | None:
        clock = int(self.clock_ms)
        end = clock + 1  # everything up to and including the clock
        facts = self.facts(tenant, customer)
        raised = raised_signals(facts, end - self.lookback_ms, end, passed_ms=clock)
        score = score_of(raised, self.churn)
        key = f"a|{tenant}|{customer}"
        state = self.store.get(key) or {
            "score": 0,
            "flagged": False,
            "alerted_score": None,
            "alerted_ms": None,
        }
        reason = self._reason(state, score, clock)
        alert = None
        new = {**state, "score": score.score, "flagged": score.flagged}
        if reason is not None:
            alert = self._alert(tenant, customer, reason, score, state["score"], raised, trigger)
            new["alerted_score"], new["alerted_ms"] = score.score, clock
        # A score of 0 can only rise by time alone (an escalation's 48 h): only then, or while
        # an alert cools down, is a customer without a score kept.
        due = next_change_ms(facts, clock, self.lookback_ms, leaving=score.score > 0)
        alerted_ms = new["alerted_ms"]
        if alerted_ms is not None and clock - alerted_ms < self.cooldown_ms and due is None:
            due = alerted_ms + self.cooldown_ms  # forgotten once the cool-down is over
        if score.score == 0 and due is None:
            self.store.pop(key, None)
            return alert
        new["due_ms"] = due
        if new != state:
            self.store[key] = new
        if due is not None and due != state.get("due_ms"):
            heapq.heappush(self._due, (due, tenant, customer))
        return alert

    def _reason(self, state: dict[str, Any], score: Score, clock: int) -> str | None:
        if not score.flagged:
            return None
        alerted_ms = state["alerted_ms"]
        if alerted_ms is not None and clock - alerted_ms < self.cooldown_ms:
            return None
        if not state["flagged"]:
            return "flagged"
        alerted = state["alerted_score"]
        if alerted is not None and score.score >= alerted + self.churn.realert_rise:
            return "rose"
        return None

    def _alert(
        self,
        tenant: str,
        customer: str,
        reason: str,
        score: Score,
        previous: int,
        raised: dict[str, list[tuple[str | None, int]]],
        trigger: Trigger,
    ) -> dict[str, Any]:
        identifiers = self._identifiers(tenant, customer)
        return {
            "alert_id": alert_id(tenant, customer, trigger.event_id, reason),
            "tenant": tenant,
            "customer_key": customer,
            "customer_ids": sorted(i for i in identifiers if i.split(":", 1)[0] in BUSINESS_KINDS),
            "reason": reason,
            "score": score.score,
            "previous_score": previous,
            "threshold": self.churn.threshold,
            "signals": [
                {
                    "signal": name,
                    "weight": weight,
                    "evidence": [
                        {"contact_id": cid, "at": format_utc(at / 1000)} for cid, at in raised[name]
                    ],
                }
                for name, weight in score.signals
            ],
            "trigger_event_id": trigger.event_id,
            "trigger_occurred_at": format_utc(trigger.at_ms / 1000),
            "created_at": format_utc(self.now()),
            "knob_set": self.knob_set,
            "schema_version": 1,
        }


def _at(entry: Any) -> int:
    """The time of a stored survey (``[at_ms, ...]``) or opt-out (``at_ms``)."""
    return entry[0] if isinstance(entry, list) else entry
