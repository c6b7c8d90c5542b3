"""The report's "what next" tables (docs/reports.md, What each section shows): staffing gaps
(``warehouse.staffing``), the volume forecast after the period (``warehouse.forecast``), and
the outbound campaigns with their opt-out violations (``warehouse.outbound``). Counts and
rates only: no customer is named."""

from __future__ import annotations

from datetime import timedelta

from orchestration.reports.model import Table
from orchestration.reports.reader import Reader
from warehouse.forecast import HOLDOUT_WEEKS, forecast_history, load_history
from warehouse.outbound import opt_out_violations, outbound_kpis
from warehouse.staffing import ALL, UNDER, staffing

GAPS_SHOWN = 10  # the largest gaps; the title says how many there are
FORECAST_WEEKS = 2


def staffing_gaps(reader: Reader) -> Table:
    """The under-staffed hours of the period, largest gap (agents required minus logged in)
    first: Erlang C on the measured offered contacts and AHT against the agents logged in."""
    period = reader.period
    hours = [
        i
        for i in staffing(
            reader.con, period.first_day, period.last_day, reader.settings, reader.tenant
        )
        if i.channel == ALL
    ]
    under = sorted(
        (i for i in hours if i.status == UNDER),
        key=lambda i: (i.logged_in - i.required, i.hour_utc, i.tenant),
    )
    rows = [
        (
            *(() if reader.tenant else (i.tenant,)),
            f"{i.hour:%a %d %b %H:00}",
            i.offered,
            i.required,
            i.positions,
            i.logged_in,
            i.required - i.logged_in,
        )
        for i in under[:GAPS_SHOWN]
    ]
    return reader.table(
        "staffing_gaps",
        f"Staffing gaps: {len(under)} of {len(hours)} hours under-staffed "
        f"(the {min(len(under), GAPS_SHOWN)} largest gaps)",
        [
            ("Hour", "text"),
            ("Offered", "count"),
            ("Agents required", "count"),
            ("Positions", "count"),
            ("Logged in", "score"),
            ("Gap", "score"),
        ],
        rows,
    )


def forecast(reader: Reader) -> Table:
    """Offered contacts forecast per channel for each of the weeks after the period, from the
    history up to its last day, with the method's backtest WAPE on the last week of history."""
    history = load_history(reader.con, reader.settings, reader.period.last_day, reader.tenant)
    run = forecast_history(history, FORECAST_WEEKS, HOLDOUT_WEEKS)
    first = run.history_to + timedelta(days=1)
    weeks: dict[tuple[str, str], list[float]] = {}
    for row in run.rows:
        week = (row.hour.date() - first).days // 7
        weeks.setdefault((row.tenant, row.channel), [0.0] * FORECAST_WEEKS)[week] += row.offered
    wape = {(b.tenant, b.channel): b.errors.wape for b in run.backtests}
    rows = [
        (*(() if reader.tenant else (name,)), channel, *totals, wape.get((name, channel)))
        for (name, channel), totals in sorted(weeks.items())
    ]
    starts = [first + timedelta(days=7 * w) for w in range(FORECAST_WEEKS)]
    return reader.table(
        "forecast",
        f"Forecast offered contacts, the {FORECAST_WEEKS} weeks after {run.history_to}",
        [
            ("Channel", "text"),
            *((f"Week from {start:%d %b}", "count") for start in starts),
            ("Backtest WAPE", "fraction"),
        ],
        rows,
    )


def outbound(reader: Reader) -> Table:
    """Each campaign and dialer mode of the period, apart from the inbound KPIs."""
    period = reader.period
    campaigns = outbound_kpis(
        reader.con, period.first_day, period.last_day, reader.settings, reader.tenant
    )
    rows = [
        (
            *(() if reader.tenant else (c.tenant,)),
            c.campaign or "-",
            c.dialer or "-",
            c.attempts,
            c.connect_rate,
            c.right_party_rate,
            c.abandon_rate,
            c.handle_time,
        )
        for c in campaigns
    ]
    return reader.table(
        "outbound",
        "Outbound campaigns (not in the inbound KPIs above)",
        [
            ("Campaign", "text"),
            ("Dialer", "text"),
            ("Attempts", "count"),
            ("Connect rate", "fraction"),
            ("Right-party rate", "fraction"),
            ("Abandon rate", "fraction"),
            ("Handle time", "seconds"),
        ],
        rows,
    )


def compliance(reader: Reader) -> Table:
    """Opt-out violations of the period per campaign and the scope of the request broken."""
    period = reader.period
    found = opt_out_violations(
        reader.con, period.first_day, period.last_day, reader.settings, reader.tenant
    )
    counts: dict[tuple[str, str, str], int] = {}
    for v in found:
        key = (
            v.tenant,
            v.campaign or "-",
            "all contact" if v.opt_out_scope == "all" else "campaign",
        )
        counts[key] = counts.get(key, 0) + 1
    rows = [
        (*(() if reader.tenant else (name,)), campaign, scope, count)
        for (name, campaign, scope), count in sorted(counts.items())
    ]
    return reader.table(
        "compliance",
        f"Opt-out violations: {len(found)} attempt(s) to customers who had opted out",
        [("Campaign", "text"), ("Opted out of", "text"), ("Attempts", "count")],
        rows,
    )
