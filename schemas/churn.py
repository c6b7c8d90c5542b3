"""The churn-risk rules (kpis.md, Churn risk; docs/alerts.md): the one definition of the signals,
their thresholds and how a score is made of them.

Two scorers apply them: the stream, live per customer (``streams.churn``, through
:func:`raised_signals` and :func:`score_of`), and the batch mart ``mart_churn_risk`` per as-of
day, whose SQL reads every threshold from the one-row table ``churn_rules`` written from
:func:`sql_rules` (``warehouse.kpi_marts``): no threshold is written twice. The weights, the
look-back and the flag threshold are knobs (``schemas.settings.ChurnSettings``).
``tests/orchestration/test_churn_agrees.py`` proves that both scorers give the same customers
the same scores on simulated runs.

Times are epoch milliseconds. A window is ``[since_ms, end_ms)``; a fact counts in it when the
contact it belongs to started in it (for an opt-out: when it happened), and a survey once it was
completed before ``end_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from schemas.records import ContactFacts
from schemas.settings import ChurnSettings
from schemas.times import parse_rfc3339

NPS_DETRACTOR_MAX = 6  # NPS 0..6 is a detractor
CSAT_LOW_MAX = 2  # CSAT 1..2
CES_LOW_MAX = 3  # CES 1..3
ABANDONS_MIN = 2  # abandoned contacts (short abandons left out)
JOURNEY_CONTACTS_MIN = 3  # contacts of a journey whose last contact is not resolved
ESCALATION_HOURS = 48  # an escalated contact with no resolved contact within this time
ESCALATION_MS = ESCALATION_HOURS * 3_600_000
RESOLVED, ESCALATED = "resolved", "escalated"


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # as in the simulator, the mart and the alert record
    raised_by: str  # for docs/alerts.md and error messages

    def weight(self, churn: ChurnSettings) -> int:
        return getattr(churn, f"weight_{self.name}")


SIGNALS = (
    Signal("nps_detractor", f"a survey with NPS 0-{NPS_DETRACTOR_MAX}"),
    Signal("csat_1_2", f"a survey with CSAT 1-{CSAT_LOW_MAX}"),
    Signal("ces_1_3", f"a survey with CES 1-{CES_LOW_MAX}"),
    Signal(
        "unresolved_journey",
        f"a journey started in the window with >= {JOURNEY_CONTACTS_MIN} contacts so far, "
        "the last of them not resolved",
    ),
    Signal("abandons", f">= {ABANDONS_MIN} abandoned contacts (short abandons left out)"),
    Signal(
        "escalation_unresolved_48h",
        f"an escalated contact, {ESCALATION_HOURS} h passed since its wrap-up, and no resolved "
        f"contact of the customer wrapped up within those {ESCALATION_HOURS} h",
    ),
    Signal("cancellation_intent", "a contact with cancellation intent (reason or message text)"),
    Signal("opted_out", "a customer.opted_out"),
)
SIGNAL_NAMES = tuple(signal.name for signal in SIGNALS)


@cache  # scored per customer and re-score: the knobs are frozen
def weights(churn: ChurnSettings) -> dict[str, int]:
    """Each signal's weight under the knobs."""
    return {signal.name: signal.weight(churn) for signal in SIGNALS}


def sql_rules() -> dict[str, int]:
    """The thresholds as the columns of ``churn_rules``, which ``mart_churn_risk.sql`` reads."""
    return {
        "nps_max": NPS_DETRACTOR_MAX,
        "csat_max": CSAT_LOW_MAX,
        "ces_max": CES_LOW_MAX,
        "abandons_min": ABANDONS_MIN,
        "journey_contacts_min": JOURNEY_CONTACTS_MIN,
        "escalation_ms": ESCALATION_MS,
    }


# ---------------------------------------------------------------- facts


def epoch_ms(timestamp: str | None) -> int | None:
    """An RFC 3339 time in epoch milliseconds (as DuckDB's ``epoch_ms``), None for None."""
    return None if timestamp is None else round(parse_rfc3339(timestamp) * 1000)


@dataclass(frozen=True, slots=True)
class ContactFact:
    """What one contact of the customer brings to the score."""

    contact_id: str
    start_ms: int | None  # its start, else first queueing, else answer (time attribution)
    inbound: bool  # not outbound (a contact without a direction counts as inbound)
    abandoned: bool  # queued and abandoned, not a short abandon
    cancellation_intent: bool
    disposition: str | None
    wrapped_ms: int | None

    @classmethod
    def of(cls, contact: ContactFacts) -> ContactFact:
        return cls.of_dict(vars(contact))

    @classmethod
    def of_dict(cls, contact: Mapping[str, Any]) -> ContactFact:
        """From a contact record's dict (``ContactFacts.to_dict``), as the stream stores it."""
        start = contact["started_at"] or contact["first_queued_at"] or contact["answered_at"]
        return cls(
            contact_id=contact["contact_id"],
            start_ms=epoch_ms(start),
            inbound=contact["direction"] != "outbound",
            abandoned=contact["first_queued_at"] is not None
            and contact["abandoned_at"] is not None
            and not contact["short_abandon"],
            cancellation_intent=contact["cancellation_intent"],
            disposition=contact["disposition"],
            wrapped_ms=epoch_ms(contact["wrapped_up_at"]),
        )


@dataclass(frozen=True, slots=True)
class SurveyFact:
    """One completed survey (``survey.completed``) of a contact."""

    contact_id: str
    at_ms: int
    nps: int | None = None
    csat: int | None = None
    ces: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """Everything of one stitched customer that can raise a signal.

    ``contacts`` by contact id (the customer's contacts, outbound ones included: the rules skip
    them); ``journeys`` the contact ids of each of the customer's journeys, whole (the stream's
    journeys); ``surveys`` of its contacts; ``opt_outs`` the times of its opt-outs.
    """

    contacts: Mapping[str, ContactFact]
    journeys: Sequence[Sequence[str]] = ()
    surveys: Sequence[SurveyFact] = ()
    opt_outs: Sequence[int] = ()


Evidence = tuple[str | None, int]  # (contact id or None for an opt-out, when in epoch ms)


def raised_signals(
    facts: CustomerFacts, since_ms: int, end_ms: int, passed_ms: int | None = None
) -> dict[str, list[Evidence]]:
    """The signals a customer raises in the window ``[since_ms, end_ms)``, with their evidence
    in time order (a signal with a weight of 0 is still raised here: :func:`score_of` drops it).

    ``passed_ms``: the latest instant known to have passed, by which an escalation's 48 h must
    have ended to count; the end of the window by default, as for an as-of day (the mart). A
    live scorer at clock T counts the facts of instant T (``end_ms`` = T + 1 ms) but knows only
    that T has passed (``passed_ms`` = T): a resolution can still come at T + 1 ms."""
    passed = end_ms if passed_ms is None else passed_ms
    inbound = {cid: c for cid, c in facts.contacts.items() if c.inbound}

    def in_window(contact: ContactFact) -> bool:
        return contact.start_ms is not None and since_ms <= contact.start_ms < end_ms

    raised: dict[str, list[Evidence]] = {}

    def add(signal: str, evidence: Evidence) -> None:
        raised.setdefault(signal, []).append(evidence)

    for survey in facts.surveys:
        contact = inbound.get(survey.contact_id)
        if contact is None or not in_window(contact) or survey.at_ms >= end_ms:
            continue
        evidence = (survey.contact_id, survey.at_ms)
        if survey.nps is not None and survey.nps <= NPS_DETRACTOR_MAX:
            add("nps_detractor", evidence)
        if survey.csat is not None and survey.csat <= CSAT_LOW_MAX:
            add("csat_1_2", evidence)
        if survey.ces is not None and survey.ces <= CES_LOW_MAX:
            add("ces_1_3", evidence)
    windowed = [c for c in inbound.values() if in_window(c)]
    abandons = [(c.contact_id, c.start_ms) for c in windowed if c.abandoned]
    if len(abandons) >= ABANDONS_MIN:
        raised["abandons"] = abandons
    for contact in windowed:
        if contact.cancellation_intent:
            add("cancellation_intent", (contact.contact_id, contact.start_ms))
        if _unresolved_escalation(contact, inbound.values(), passed):
            add("escalation_unresolved_48h", (contact.contact_id, contact.start_ms))
    for at_ms in facts.opt_outs:
        if since_ms <= at_ms < end_ms:
            add("opted_out", (None, at_ms))
    for journey in facts.journeys:
        evidence = _unresolved_journey(journey, facts.contacts, since_ms, end_ms)
        if evidence:
            raised.setdefault("unresolved_journey", []).extend(evidence)
    for evidence_list in raised.values():
        evidence_list.sort(key=lambda item: (item[1], item[0] or ""))
    return raised


def _unresolved_escalation(
    contact: ContactFact, others: Iterable[ContactFact], passed_ms: int
) -> bool:
    if contact.disposition != ESCALATED or contact.wrapped_ms is None:
        return False
    deadline = contact.wrapped_ms + ESCALATION_MS
    if deadline > passed_ms:  # the 48 h have not passed yet
        return False
    return not any(
        other.disposition == RESOLVED
        and other.wrapped_ms is not None
        and contact.wrapped_ms < other.wrapped_ms <= deadline
        for other in others
    )


def _unresolved_journey(
    contact_ids: Sequence[str], contacts: Mapping[str, ContactFact], since_ms: int, end_ms: int
) -> list[Evidence]:
    """The contacts so far of a journey that raises ``unresolved_journey``, else []."""
    if len(contact_ids) < JOURNEY_CONTACTS_MIN:
        return []
    so_far = sorted(
        (c.start_ms, c.contact_id, c.disposition)
        for cid in contact_ids
        if (c := contacts.get(cid)) is not None and c.start_ms is not None and c.start_ms < end_ms
    )
    if len(so_far) < JOURNEY_CONTACTS_MIN or so_far[0][0] < since_ms:
        return []
    if so_far[-1][2] == RESOLVED:
        return []
    return [(cid, start) for start, cid, _ in so_far]


@dataclass(frozen=True, slots=True)
class Score:
    score: int  # 0..100
    signals: list[tuple[str, int]]  # (signal, weight) raised with a weight > 0, heaviest first
    flagged: bool


def score_of(raised: Mapping[str, object], churn: ChurnSettings) -> Score:
    """The capped sum of the weights of the signals raised, and whether it reaches the threshold
    (a customer raising nothing that weighs is never flagged, even at a threshold of 0)."""
    by_signal = weights(churn)
    listed = sorted(
        ((name, by_signal[name]) for name in raised if by_signal[name] > 0),
        key=lambda item: (-item[1], item[0]),
    )
    score = min(100, sum(weight for _, weight in listed))
    return Score(score, listed, bool(listed) and score >= churn.threshold)


def lookback_ms(churn: ChurnSettings) -> int:
    return churn.lookback_days * 86_400_000


def next_change_ms(
    facts: CustomerFacts, clock_ms: int, lookback: int, *, leaving: bool = True
) -> int | None:
    """For a live scorer whose clock is at ``clock_ms`` (window ``[clock - lookback + 1 ms,
    clock]``): the earliest later clock at which the customer's score can change by the passing
    of time alone, an escalation's 48 h ending or (with ``leaving``) a fact leaving the window.
    None: none can."""
    times: list[int] = []
    for contact in facts.contacts.values():
        if leaving and contact.start_ms is not None:
            times.append(contact.start_ms + lookback)
        if contact.disposition == ESCALATED and contact.wrapped_ms is not None:
            times.append(contact.wrapped_ms + ESCALATION_MS)
    if leaving:
        times += [at + lookback for at in facts.opt_outs]
    return min((t for t in times if t > clock_ms), default=None)
