"""The report's tables of contacts and journeys: the omnichannel view, the reasons behind
repeats, transfers and abandons, queues, agents and top and bottom performers
(docs/reports.md, What each section shows)."""

from __future__ import annotations

import math
from typing import Any

from orchestration.reports import queries
from orchestration.reports.model import Table
from orchestration.reports.reader import Reader, field_of, plain_table, ratio
from schemas.targets import CHANNELS
from warehouse.kpis import DEFLECTION_CAUSES

# Top and bottom performers: only agents who handled at least MIN_HANDLED contacts and got at
# least MIN_CSAT_ANSWERS CSAT answers in the period are ranked, by CSAT.
PERFORMERS = 5
MIN_HANDLED = 20
MIN_CSAT_ANSWERS = 5
# Rows of a reasons table; the rest are added up in one row.
TOP_REASONS = 10
NO_REASON = "(no reason given)"
OTHER_REASONS = "(other reasons)"

_NONE = {"value": None, "denominator": 0}


def crossed(reader: Reader) -> dict[str, dict[str, int]]:
    """Journeys and those that crossed channels, by the channel of their first contact."""
    return {row["channel"]: row for row in reader.query(queries.CROSSED_BY_CHANNEL)}


def crossed_share(reader: Reader) -> float | None:
    journeys = crossed(reader).values()
    return ratio(sum(r["crossed"] for r in journeys), sum(r["journeys"] for r in journeys))


def omnichannel(reader: Reader) -> Table:
    """Per channel, then for all channels: the journeys a single-channel tool sees and its FCR,
    beside the journeys across channels (by their first contact's channel) and their FCR; the
    difference is what the single-channel view overstates."""
    journeys = crossed(reader)
    rows = []
    for channel in [*CHANNELS, None]:
        key, by = ((), []) if channel is None else ((channel,), ["channel"])
        across = reader.values(by).get(("fcr.v1", *key)) or _NONE
        alone = reader.values(by).get(("fcr_channel.v1", *key)) or _NONE
        if not (across["denominator"] or alone["denominator"]):
            continue
        seen = list(journeys.values()) if channel is None else [journeys.get(channel)]
        seen = [r for r in seen if r]
        overstated = (
            None
            if alone["value"] is None or across["value"] is None
            else alone["value"] - across["value"]
        )
        rows.append(
            (
                channel or "all channels",
                alone["denominator"],
                alone["value"],
                across["denominator"],
                across["value"],
                overstated,
                ratio(sum(r["crossed"] for r in seen), sum(r["journeys"] for r in seen)),
            )
        )
    return plain_table(
        "omnichannel",
        "First-contact resolution: per channel (what a single-channel tool reports) and "
        "across channels",
        [
            ("Channel", "text"),
            ("Journeys per channel", "count"),
            ("FCR per channel", "fraction"),
            ("Journeys across channels", "count"),
            ("FCR across channels", "fraction"),
            ("Overstated per channel by", "fraction"),
            ("Journeys that crossed channels", "fraction"),
        ],
        rows,
    )


def reasons(reader: Reader) -> tuple[Table, ...]:
    return (
        _by_reason(
            reader,
            "reasons_repeat_contacts",
            "Repeat contacts, by the reason of the journey's first contact",
            queries.REPEATS_BY_REASON,
            [
                ("journeys", "Journeys"),
                ("repeated_journeys", "Journeys with repeats"),
                ("repeat_contacts", "Repeat contacts"),
            ],
            "Share repeated",
        ),
        _by_reason(
            reader,
            "reasons_transfers",
            "Transfers, by contact reason",
            queries.TRANSFERS_BY_REASON,
            [
                ("handled", "Handled"),
                ("transferred", "Transferred"),
                ("warm", "Warm"),
                ("cold", "Cold"),
            ],
            "Transfer rate",
        ),
        _by_reason(
            reader,
            "reasons_abandons",
            "Abandons, by contact reason",
            queries.ABANDONS_BY_REASON,
            [("offered", "Offered"), ("abandoned", "Abandoned")],
            "Abandon rate",
        ),
        abandon_waits(reader),
        deflections(reader),
    )


def _by_reason(
    reader: Reader,
    key: str,
    title: str,
    sql: str,
    counts: list[tuple[str, str]],
    share: str,
) -> Table:
    """(reason, *counts, share) rows, share = the second count over the first; the first
    TOP_REASONS rows as the query orders them, the rest added up in one row."""
    found = [(r["reason"] or NO_REASON, *(r[c] for c, _ in counts)) for r in reader.query(sql)]
    if len(found) > TOP_REASONS:
        rest = found[TOP_REASONS - 1 :]
        total = tuple(sum(r[i] for r in rest) for i in range(1, len(counts) + 1))
        found = [*found[: TOP_REASONS - 1], (OTHER_REASONS, *total)]
    return plain_table(
        key,
        title,
        [("Reason", "text"), *((name, "count") for _, name in counts), (share, "fraction")],
        ((*row, ratio(row[2], row[1])) for row in found),
    )


def abandon_waits(reader: Reader) -> Table:
    columns = ("abandoned", "within_t", "t_to_2t", "t2_to_4t", "over_4t")
    return plain_table(
        "reasons_abandon_waits",
        "Abandons, by how long the customer waited against the channel's threshold T",
        [
            ("Channel", "text"),
            ("Threshold T", "seconds"),
            *(
                (name, "count")
                for name in ("Abandoned", "Within T", "T to 2T", "2T to 4T", "Over 4T")
            ),
        ],
        (
            (r["channel"], r["threshold_seconds"], *(r[c] for c in columns))
            for r in reader.query(queries.ABANDONS_BY_WAIT)
        ),
    )


def deflections(reader: Reader) -> Table:
    rows = []
    for cause in DEFLECTION_CAUSES:
        row = reader.values([]).get((f"ivr_containment.v1.{cause}",))
        if row and row["numerator"]:
            rows.append((cause.replace("_", " "), row["numerator"], row["value"]))
    return plain_table(
        "reasons_deflections",
        "Inbound calls deflected before an agent, by cause",
        [("Cause", "text"), ("Deflected", "count"), ("Share of inbound calls", "fraction")],
        sorted(rows, key=lambda r: -r[1]),
    )


_QUEUE_KPIS = [
    ("service_level.v1", "Service level", "fraction"),
    ("asa.v1", "ASA", "seconds"),
    ("abandon_rate.v1", "Abandon rate", "fraction"),
    ("aht.v1", "AHT", "seconds"),
    ("transfer_rate.v1", "Transfer rate", "fraction"),
    ("csat.v1", "CSAT", "fraction"),
]


def queues(reader: Reader) -> Table:
    """Each (first) queue and its channel with contacts offered or handled, busiest first."""
    values = reader.values(reader.by_tenant("queue", "channel"))
    keys = [
        key[1:]
        for key, row in values.items()
        if key[0] == "offered.v1"
        and (row["value"] or field_of(values, "aht.v1", key[1:], "denominator"))
    ]
    keys.sort(key=lambda k: (-values[("offered.v1", *k)]["value"], *map(str, k)))
    rows = (
        (
            *k[:-2],
            "(no queue)" if k[-2] is None else k[-2],
            k[-1],
            values[("offered.v1", *k)]["value"],
            field_of(values, "aht.v1", k, "denominator"),
            *(field_of(values, kpi, k) for kpi, _, _ in _QUEUE_KPIS),
        )
        for k in keys
    )
    columns = [("Queue", "text"), ("Channel", "text"), ("Offered", "count"), ("Handled", "count")]
    columns += [(name, unit) for _, name, unit in _QUEUE_KPIS]
    return reader.table("queues", "Queues", columns, rows)


_AGENT_COLUMNS = {
    "handled": ("Handled", "count"),
    "aht": ("AHT", "seconds"),
    "occupancy": ("Occupancy", "fraction"),
    "transfer_rate": ("Transfer rate", "fraction"),
    "csat": ("CSAT", "fraction"),
    "csat_answers": ("CSAT answers", "count"),
    "fcr": ("FCR", "fraction"),
}


def agent_rows(reader: Reader) -> list[dict[str, Any]]:
    """Each (first) agent who handled a contact or was logged in, most contacts first."""
    values = reader.values(reader.by_tenant("agent"))
    agents = []
    for k in {key[1:] for key in values if key[-1] is not None}:
        handled = field_of(values, "aht.v1", k, "denominator") or 0
        if not handled and not field_of(values, "occupancy.v1", k, "denominator"):
            continue
        agents.append(
            {
                "key": k,
                "handled": handled,
                "aht": field_of(values, "aht.v1", k),
                "occupancy": field_of(values, "occupancy.v1", k),
                "transfer_rate": field_of(values, "transfer_rate.v1", k),
                "csat": field_of(values, "csat.v1", k),
                "csat_answers": field_of(values, "csat.v1", k, "denominator") or 0,
                "fcr": field_of(values, "fcr.v1", k),
            }
        )
    return sorted(agents, key=lambda a: (-a["handled"], *map(str, a["key"])))


def agents(reader: Reader) -> Table:
    return _agent_table(reader, "agents", "Agents", agent_rows(reader), list(_AGENT_COLUMNS))


def performers(reader: Reader) -> tuple[Table, Table]:
    """The top and the bottom performers (worst first): agents with enough handled contacts
    and CSAT answers to be judged fairly, ranked by CSAT, then FCR, then handled; with fewer
    than twice PERFORMERS agents ranked, the better half is the top and the rest the bottom."""
    eligible = [
        a
        for a in agent_rows(reader)
        if a["handled"] >= MIN_HANDLED and a["csat_answers"] >= MIN_CSAT_ANSWERS
    ]
    ranked = sorted(
        eligible,
        key=lambda a: (
            -a["csat"],
            -(a["fcr"] if a["fcr"] is not None else -1),
            -a["handled"],
            *map(str, a["key"]),
        ),
    )
    best = min(PERFORMERS, math.ceil(len(ranked) / 2))
    fields = ["csat", "csat_answers", "fcr", "handled", "aht", "transfer_rate"]
    who = (
        f"(agents with at least {MIN_HANDLED} handled contacts and {MIN_CSAT_ANSWERS} CSAT answers)"
    )
    return (
        _agent_table(
            reader, "top_performers", f"Top performers by CSAT {who}", ranked[:best], fields
        ),
        _agent_table(
            reader,
            "bottom_performers",
            f"Bottom performers by CSAT {who}",
            ranked[best:][::-1][:PERFORMERS],
            fields,
        ),
    )


def _agent_table(
    reader: Reader, key: str, title: str, rows: list[dict[str, Any]], fields: list[str]
) -> Table:
    return reader.table(
        key,
        title,
        [("Agent", "text"), *(_AGENT_COLUMNS[f] for f in fields)],
        ((*a["key"], *(a[f] for f in fields)) for a in rows),
    )
