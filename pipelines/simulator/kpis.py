"""Every KPI of kpis.md, computed from the simulator's state, per grouping.

Groupings: ``overall``, ``by_tenant``, ``by_channel``, ``by_day`` (the day the contact started in
its tenant's reporting time zone, ``Tenant.days``; a journey goes to its first contact's tenant,
channel and day; a survey to its contact's). Each
group carries every KPI id of ``KPI_IDS``; a value is None where it is undefined (no
denominator) or does not apply (occupancy per channel: agents are blended across channels).
Contact KPIs count inbound contacts only; outbound campaign calls only weigh in occupancy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pipelines.simulator.clock import SECOND
from pipelines.simulator.model import Contact
from pipelines.simulator.truth import Journey, short_abandon
from schemas.settings import KpiSettings

KPI_IDS = (
    "offered.v1",
    "asa.v1",
    "service_level.v1",
    "service_level.v1.ignore",
    "service_level.v1.positive",
    "abandon_rate.v1",
    "aht.v1",
    "transfer_rate.v1",
    "transfer_rate.v1.warm",
    "transfer_rate.v1.cold",
    "first_response.v1",
    "first_response.v1.p90",
    "ivr_containment.v1",
    "ivr_containment.v1.front_end_message",
    "ivr_containment.v1.self_service",
    "ivr_containment.v1.ivr_menu",
    "occupancy.v1",
    "fcr.v1",
    "fcr_net.v1",
    "fcr_channel.v1",
    "repeat_rate.v1",
    "nps.v1",
    "csat.v1",
    "csat.v1.mean",
    "ces.v1",
    "ces.v1.share_5_7",
)
GROUPINGS = ("overall", "by_tenant", "by_channel", "by_day")
DEFLECTION_CAUSES = ("front_end_message", "self_service", "ivr_menu")


class Tally:
    """Counts and sums of one group; KPIs are ratios of these, never averages of averages."""

    __slots__ = (
        "abandoned",
        "abandoned_in_target",
        "answered",
        "answered_in_target",
        "available_ms",
        "ces",
        "ces_easy",
        "ces_sum",
        "channel_journeys",
        "channel_resolved",
        "csat",
        "csat_sum",
        "csat_top",
        "deflected",
        "first_responses",
        "handle_ms",
        "handled",
        "journey_contacts",
        "journeys",
        "journeys_not_resolvable",
        "nps",
        "nps_detractors",
        "nps_promoters",
        "offered",
        "resolved_first",
        "transferred",
        "transferred_cold",
        "transferred_warm",
        "voice_started",
        "wait_ms",
        "working_ms",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)
        self.first_responses: list[int] = []
        self.deflected: dict[str, int] = dict.fromkeys(DEFLECTION_CAUSES, 0)

    def add_contact(self, c: Contact, kpis: KpiSettings) -> None:
        short_ms = kpis.short_abandon_seconds * SECOND
        target_ms = kpis.service_level_seconds(c.channel) * SECOND
        if c.channel == "voice":
            self.voice_started += 1
            if c.deflection is not None:
                self.deflected[c.deflection] += 1
        queued = c.first_queued
        if queued is not None and not short_abandon(c, short_ms):
            self.offered += 1
            if c.abandoned_at is not None:
                self.abandoned += 1
                self.abandoned_in_target += c.abandoned_at - queued <= target_ms
        if c.answered is not None:
            if queued is not None:
                self.answered += 1
                self.wait_ms += c.answered - queued
                self.answered_in_target += c.answered - queued <= target_ms
            if c.channel != "voice":
                self.first_responses.append(c.answered - c.started)
            if c.ended is not None:
                self.handled += 1
                acw = c.wrapped - c.ended if c.wrapped is not None else 0
                self.handle_ms += c.ended - c.answered + acw
                self.transferred += c.transfers > 0
                self.transferred_warm += c.warm > 0
                self.transferred_cold += c.cold > 0
        if c.nps is not None:
            self.nps += 1
            self.nps_promoters += c.nps >= 9
            self.nps_detractors += c.nps <= 6
        if c.csat is not None:
            self.csat += 1
            self.csat_sum += c.csat
            self.csat_top += c.csat >= 4
        if c.ces is not None:
            self.ces += 1
            self.ces_sum += c.ces
            self.ces_easy += c.ces >= 5

    def add_journey(self, journey: Journey) -> None:
        self.journeys += 1
        self.journey_contacts += len(journey.contacts)
        self.resolved_first += journey.resolved_at_first_contact
        self.journeys_not_resolvable += not journey.first.resolvable

    def add_channel_journey(self, journey: Journey) -> None:
        self.channel_journeys += 1
        self.channel_resolved += journey.resolved_at_first_contact

    def values(self) -> dict[str, Any]:
        denominator = self.answered + self.abandoned
        net = self.journeys - self.journeys_not_resolvable
        responses = sorted(self.first_responses)
        out = {
            "offered.v1": self.offered,
            "asa.v1": _ratio(self.wait_ms / SECOND, self.answered),
            "service_level.v1": _ratio(self.answered_in_target, denominator),
            "service_level.v1.ignore": _ratio(self.answered_in_target, self.answered),
            "service_level.v1.positive": _ratio(
                self.answered_in_target + self.abandoned_in_target, denominator
            ),
            "abandon_rate.v1": _ratio(self.abandoned, self.offered),
            "aht.v1": _ratio(self.handle_ms / SECOND, self.handled),
            "transfer_rate.v1": _ratio(self.transferred, self.handled),
            "transfer_rate.v1.warm": _ratio(self.transferred_warm, self.handled),
            "transfer_rate.v1.cold": _ratio(self.transferred_cold, self.handled),
            "first_response.v1": _quantile(responses, 0.5),
            "first_response.v1.p90": _quantile(responses, 0.9),
            "ivr_containment.v1": _ratio(sum(self.deflected.values()), self.voice_started),
            "occupancy.v1": _ratio(self.working_ms, self.working_ms + self.available_ms),
            "fcr.v1": _ratio(self.resolved_first, self.journeys),
            "fcr_net.v1": _ratio(self.resolved_first, net),
            "fcr_channel.v1": _ratio(self.channel_resolved, self.channel_journeys),
            "repeat_rate.v1": _ratio(self.journey_contacts, self.journeys),
            "nps.v1": _ratio(100 * (self.nps_promoters - self.nps_detractors), self.nps),
            "csat.v1": _ratio(self.csat_top, self.csat),
            "csat.v1.mean": _ratio(self.csat_sum, self.csat),
            "ces.v1": _ratio(self.ces_sum, self.ces),
            "ces.v1.share_5_7": _ratio(self.ces_easy, self.ces),
        }
        for cause in DEFLECTION_CAUSES:
            out[f"ivr_containment.v1.{cause}"] = _ratio(self.deflected[cause], self.voice_started)
        return {kpi: out[kpi] for kpi in KPI_IDS}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _quantile(ordered: list[int], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, DuckDB quantile_cont), s."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return value / SECOND


class KpiBook:
    """Tallies per group, filled from contacts, journeys and agent time."""

    def __init__(self, kpis: KpiSettings) -> None:
        self.kpis = kpis
        self.groups: dict[str, dict[str, Tally]] = {name: {} for name in GROUPINGS}
        self.groups["overall"]["all"] = Tally()

    def _tallies(self, tenant: str | None, channel: str | None, day: str) -> list[Tally]:
        keys = {"overall": "all", "by_tenant": tenant, "by_channel": channel, "by_day": day}
        out = []
        for grouping, key in keys.items():
            if key is None:
                continue
            group = self.groups[grouping]
            tally = group.get(key)
            if tally is None:
                tally = group[key] = Tally()
            out.append(tally)
        return out

    def add_contacts(self, contacts: Iterable[Contact]) -> None:
        for c in contacts:
            if c.direction == "inbound":
                for tally in self._tallies(
                    c.tenant.name, c.channel, c.tenant.days.day_of(c.started)
                ):
                    tally.add_contact(c, self.kpis)

    def add_journeys(self, journeys: Iterable[Journey], per_channel: bool) -> None:
        for journey in journeys:
            first = journey.first
            day = journey.tenant.days.day_of(first.started)
            for tally in self._tallies(journey.tenant.name, first.channel, day):
                if per_channel:
                    tally.add_channel_journey(journey)
                else:
                    tally.add_journey(journey)

    def add_occupancy(self, occupancy: dict[tuple[str, str], list[int]]) -> None:
        for (tenant, day), (working, available) in occupancy.items():
            for tally in self._tallies(tenant, None, day):
                tally.working_ms += working
                tally.available_ms += available

    def report(self) -> dict[str, dict[str, Any]]:
        report: dict[str, Any] = {}
        for grouping, group in self.groups.items():
            values = {key: group[key].values() for key in sorted(group)}
            report[grouping] = values["all"] if grouping == "overall" else values
        return report
