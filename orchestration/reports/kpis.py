"""The KPIs a report shows: label, unit, one-line definition, and whether one figure over all
channels means anything (docs/reports.md, What each section shows)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportKpi:
    id: str  # definition id of kpis.md (warehouse.kpis)
    label: str
    unit: str  # as Tile.unit
    definition: str  # one line
    # False: channels have different thresholds or units (an e-mail's hours and a call's
    # seconds), so the report shows it per channel only.
    across_channels: bool = True
    direction: str = "higher"  # when no target gives one: a convention only (no status)


_SL = "Share of offered contacts answered within the channel's threshold T"
_TREATMENT = {
    "negative": f"{_SL}; abandons count as missed",
    "ignore": f"{_SL}; abandons are left out",
    "positive": f"{_SL}; abandons within T count as met",
}

KPIS = (
    ReportKpi(
        "offered.v1",
        "Contacts offered",
        "count",
        "Inbound contacts that reached a queue, short abandons left out.",
    ),
    ReportKpi("service_level.v1", "Service level", "fraction", "", across_channels=False),
    ReportKpi(
        "asa.v1",
        "Average speed of answer",
        "seconds",
        "Mean wait from first queueing to answer, over answered contacts.",
        across_channels=False,
        direction="lower",
    ),
    ReportKpi(
        "abandon_rate.v1",
        "Abandon rate",
        "fraction",
        "Share of offered contacts abandoned in queue (short abandons left out).",
        direction="lower",
    ),
    ReportKpi(
        "aht.v1",
        "Average handle time",
        "seconds",
        "Mean talk + hold + after-contact work per handled contact.",
        across_channels=False,
        direction="lower",
    ),
    ReportKpi(
        "fcr.v1",
        "First-contact resolution",
        "fraction",
        "Share of customer journeys, across every channel, resolved at their first contact.",
    ),
    ReportKpi(
        "fcr_net.v1",
        "Net first-contact resolution",
        "fraction",
        "FCR leaving out journeys whose first contact could not be resolved in one contact.",
    ),
    ReportKpi(
        "nps.v1",
        "Net Promoter Score",
        "points",
        "Promoters (9-10) minus detractors (0-6), in points of all NPS answers (-100..100).",
    ),
    ReportKpi("csat.v1", "Customer satisfaction", "fraction", "Share of CSAT answers 4-5 on 1-5."),
    ReportKpi(
        "ces.v1",
        "Customer effort",
        "score",
        "Mean answer on 1-7 to 'the company made it easy'; higher means less effort.",
    ),
    ReportKpi(
        "occupancy.v1",
        "Occupancy",
        "fraction",
        "Share of agents' available, busy and after-contact time spent busy or in after-contact "
        "work.",
    ),
)
KPI_BY_ID = {kpi.id: kpi for kpi in KPIS}

# Shown in the omnichannel, queue and agent tables and the reasons, not as tiles.
MORE_DEFINITIONS = {
    "fcr_channel.v1": "FCR as a single-channel tool sees it: a customer's journeys counted per "
    "channel, so a switch of channel looks like a fresh contact.",
    "transfer_rate.v1": "Share of handled contacts transferred at least once.",
    "ivr_containment.v1": "Share of inbound calls that ended in self-service or a message "
    "before reaching an agent, per cause.",
    "churn_risk.v1": "Customers whose churn-risk score (weighted signals over the look-back) "
    "reached the threshold.",
}


def definition(kpi_id: str, abandon_treatment: str) -> str:
    """The one-line definition of a KPI shown in a report."""
    if kpi_id == "service_level.v1":
        return _TREATMENT[abandon_treatment] + "."
    known = KPI_BY_ID.get(kpi_id)
    return known.definition if known else MORE_DEFINITIONS[kpi_id]
