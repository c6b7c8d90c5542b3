"""Outbound campaign KPIs and opt-out violations, read from their marts (docs/outbound.md).

``mart_outbound_kpis_daily`` stores counts and sums per day, tenant, campaign and dialer mode;
the rates here are recomputed from their sums over the range asked for (never an average of
daily rates). ``mart_opt_out_violations`` holds one row per violating attempt. Both are read
under the knob set of the settings (the tenants' reporting time zones decide the days), like
``warehouse.kpis.kpi_values``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from warehouse.kpis import current_knob_set

if TYPE_CHECKING:
    import duckdb

    from schemas.settings import Settings


@dataclass(frozen=True)
class CampaignKpis:
    """One tenant's campaign and dialer mode over a range of days (None: not sent)."""

    tenant: str
    campaign: str | None
    dialer: str | None
    attempts: int
    connected: int
    right_party_known: int  # connected attempts whose dialer said whether it was the right party
    right_party_contacts: int
    abandoned: int  # connected, and no agent answered
    handled: int
    handle_seconds: float

    @property
    def connect_rate(self) -> float | None:
        return self.connected / self.attempts if self.attempts else None

    @property
    def right_party_rate(self) -> float | None:
        """Right-party contacts over the connected attempts whose dialer said; None if none did."""
        return (
            self.right_party_contacts / self.right_party_known if self.right_party_known else None
        )

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned outbound calls over connected attempts (the regulators' "live calls")."""
        return self.abandoned / self.connected if self.connected else None

    @property
    def handle_time(self) -> float | None:
        """Mean outbound handle time (talk + hold + after-contact work), seconds."""
        return self.handle_seconds / self.handled if self.handled else None


@dataclass(frozen=True)
class Violation:
    """An outbound attempt to a customer who had opted out of its campaign or of all contact."""

    day: date
    tenant: str
    event_id: str
    contact_id: str
    customer_key: str
    campaign: str | None
    dialer: str | None
    result: str | None
    attempted_at: datetime
    opt_out_event_id: str
    opted_out_at: datetime
    opt_out_scope: str
    opt_outs_before: int
    seconds_after_opt_out: float


_KPIS = """
select tenant, campaign, dialer,
    sum(attempts), sum(connected), sum(right_party_known), sum(right_party_contacts),
    sum(abandoned), sum(handled), sum(handle_seconds_sum)
from mart_outbound_kpis_daily
where day between $date_from and $date_to and knob_set = $knob_set
    and ($tenant is null or tenant = $tenant)
group by all
order by tenant, campaign nulls last, dialer nulls last
"""

_VIOLATIONS = """
select day, tenant, event_id, contact_id, customer_key, campaign, dialer, result, attempted_at,
    opt_out_event_id, opted_out_at, opt_out_scope, opt_outs_before, seconds_after_opt_out
from mart_opt_out_violations
where day between $date_from and $date_to and knob_set = $knob_set
    and ($tenant is null or tenant = $tenant)
order by attempted_at, event_id
"""


def _params(date_from: date, date_to: date, settings: Settings, tenant: str | None) -> dict:
    return {
        "date_from": date_from,
        "date_to": date_to,
        "knob_set": current_knob_set(settings),
        "tenant": tenant,
    }


def outbound_kpis(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    settings: Settings,
    tenant: str | None = None,
) -> list[CampaignKpis]:
    """Every tenant's (or ``tenant``'s) campaigns and dialer modes over ``date_from..date_to``."""
    rows = con.execute(_KPIS, _params(date_from, date_to, settings, tenant)).fetchall()
    return [
        CampaignKpis(name, campaign, dialer, *(int(v) for v in counts[:6]), float(counts[6]))
        for name, campaign, dialer, *counts in rows
    ]


def opt_out_violations(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    settings: Settings,
    tenant: str | None = None,
) -> list[Violation]:
    """The violating attempts of ``date_from..date_to``, in time order."""
    rows = con.execute(_VIOLATIONS, _params(date_from, date_to, settings, tenant)).fetchall()
    return [Violation(*row) for row in rows]
