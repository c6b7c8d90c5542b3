"""KPI values over any date range and grouping, read from the KPI marts.

``kpi_values(con, date_from, date_to, by, settings)`` sums the marts' counts over the range and
the groups asked for, then divides: a value over two days is the ratio of the two days' summed
counts, never the mean of their ratios. Medians and p90 are taken over the per-contact rows of
``mart_first_responses``. A zero denominator gives ``None``.

KPI ids are those of kpis.md, with sub-ids for the variants it names (the same ids as the
simulator's ground truth, ``pipelines/simulator/kpis.py``):

- ``service_level.v1`` with the configured abandon treatment, and ``service_level.v1.negative``,
  ``.ignore``, ``.positive`` for each treatment;
- ``transfer_rate.v1.warm`` / ``.cold``; ``ivr_containment.v1.<cause>`` for each deflection cause;
- ``first_response.v1`` (median) and ``first_response.v1.p90``;
- ``csat.v1`` (top-2-box share) and ``csat.v1.mean``; ``ces.v1`` (mean) and ``ces.v1.share_5_7``.

Shares are fractions (0-1), NPS is on -100..100, times are seconds, ``offered.v1`` a count
(``unit(kpi_id)`` names each). Service level, ASA and first response over several channels mix
per-channel thresholds or units (``PER_CHANNEL``): ``omnicx kpis`` shows them per channel.
A KPI is left out of a grouping it cannot be attributed to: occupancy has no channel or queue
(agents are blended), surveys and journeys have no hour.

Days and hours are each tenant's reporting days and hours (its ``time_zone``, UTC by default:
docs/kpis.md, Time zones): ``day`` a local date, ``hour`` a local wall-clock hour. Grouped by
hour, each row also carries ``hour_utc``, the UTC instant its hour started, and rows are per
(``hour``, ``hour_utc``): the two hours labelled 02:00 on the day daylight saving time ends stay
two rows, and so do the same wall-clock hour of tenants in different zones.

Knob sets: the marts may hold the same days under several knob sets (``warehouse.kpi_marts``).
``kpi_values`` reads one of them, by default the one the settings give, or every one
(``ALL_KNOB_SETS``), and never adds rows of different sets together. When the set read lacks
days that other sets hold, it raises ``KnobSetMissing`` rather than report fewer days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from schemas.profiles import Profile, profile_settings
from schemas.settings import Settings
from warehouse.kpi_marts import knob_set_id, mart_knobs

if TYPE_CHECKING:
    import duckdb

DIMENSIONS = ("day", "hour", "tenant", "channel", "queue", "agent")
# Grouping by hour also groups by the UTC start of the hour (a local label can repeat).
HOUR_UTC = "hour_utc"
TREATMENTS = ("negative", "ignore", "positive")
DEFLECTION_CAUSES = ("front_end_message", "self_service", "ivr_menu")
ALL_KNOB_SETS = "all"

# The unit of a KPI's value, by id or by the id it is a variant of; any other is a fraction.
_UNITS = {
    "offered.v1": "contacts",
    "asa.v1": "seconds",
    "aht.v1": "seconds",
    "first_response.v1": "seconds",
    "nps.v1": "points",
    "csat.v1.mean": "score 1-5",
    "ces.v1": "score 1-7",
    "ces.v1.share_5_7": "fraction",
    "repeat_rate.v1": "contacts per journey",
}
# KPIs whose figure over several channels mixes thresholds (service level: 20 s for voice, 24 h
# for e-mail) or units (ASA and first response: seconds for voice and chat, hours for e-mail).
PER_CHANNEL = ("service_level.v1", "asa.v1", "first_response.v1")

_SL_KNOBS = (
    "short_abandon_seconds",
    "service_level_voice_seconds",
    "service_level_chat_seconds",
    "service_level_sms_seconds",
    "service_level_social_seconds",
    "service_level_email_seconds",
)
_JOURNEY_KNOBS = ("repeat_window_days", "short_abandon_seconds")


@dataclass(frozen=True)
class Source:
    """A mart and the dimensions its rows can be grouped by."""

    table: str
    dimensions: tuple[str, ...]


CONTACTS = Source("mart_contact_kpis_hourly", DIMENSIONS)
FIRST_RESPONSES = Source("mart_first_responses", DIMENSIONS)
SURVEYS = Source("mart_survey_kpis_daily", ("day", "tenant", "channel", "queue", "agent"))
JOURNEYS = Source("mart_journey_kpis_daily", ("day", "tenant", "channel", "queue", "agent"))
OCCUPANCY = Source("mart_agent_occupancy_hourly", ("day", "hour", "tenant", "agent"))
SOURCES = (CONTACTS, FIRST_RESPONSES, OCCUPANCY, JOURNEYS, SURVEYS)


class KnobSetMissing(LookupError):
    """The knob set asked for has no rows for some days that other knob sets hold.

    ``knob_set`` and ``knobs``: the set asked for and its knob values (None: a set the marts
    never stored); ``days``: the days it lacks; ``others``: the knob values of every other set
    holding some of those days, by id.
    """

    def __init__(
        self,
        knob_set: str,
        knobs: dict[str, Any] | None,
        days: list[date],
        others: dict[str, dict[str, Any]],
    ) -> None:
        super().__init__(
            f"the marts hold {format_days(days)} for knob sets {', '.join(others)}, "
            f"not for knob set {knob_set}"
        )
        self.knob_set = knob_set
        self.knobs = knobs
        self.days = days
        self.others = others


@dataclass(frozen=True)
class Kpi:
    """One KPI id: aggregate SQL over its source's rows.

    ``kind`` is ``ratio`` (value = scale x numerator / denominator), ``count`` (value =
    numerator) or ``quantile`` (value = numerator, the quantile; denominator = the number of
    rows it is taken over).
    """

    id: str
    source: Source
    numerator: str
    denominator: str | None = None
    kind: str = "ratio"
    scale: float = 1.0
    knobs: tuple[str, ...] = ()


_SL_MET = {
    "negative": "sum(answered_within_threshold)",
    "ignore": "sum(answered_within_threshold)",
    "positive": "sum(answered_within_threshold) + sum(abandoned_within_threshold)",
}
_SL_TOTAL = {
    "negative": "sum(answered) + sum(abandoned)",
    "ignore": "sum(answered)",
    "positive": "sum(answered) + sum(abandoned)",
}


def _service_level(kpi_id: str, treatment: str) -> Kpi:
    return Kpi(kpi_id, CONTACTS, _SL_MET[treatment], _SL_TOTAL[treatment], knobs=_SL_KNOBS)


# Other stored counts a vendor's definition of a KPI divides (``Profile.formulas``), by name.
FORMULAS = {
    # Genesys Cloud's resolution: contacts not followed by another within the next-contact
    # window. Every contact of a journey but its last is followed within the window.
    "no_next_contact": ("sum(journeys)", "sum(journey_contacts)"),
}


def catalog(abandon_treatment: str, formulas: Mapping[str, str] | None = None) -> list[Kpi]:
    """Every KPI id, in report order; ``service_level.v1`` uses ``abandon_treatment``;
    ``formulas`` (KPI id -> name in ``FORMULAS``) replaces what some KPIs divide."""
    if abandon_treatment not in TREATMENTS:
        raise ValueError(
            f"abandon treatment {abandon_treatment!r} is not one of {', '.join(TREATMENTS)}"
        )
    kpis = _catalog(abandon_treatment)
    for kpi_id, name in (formulas or {}).items():
        numerator, denominator = FORMULAS[name]
        kpis = [
            replace(k, numerator=numerator, denominator=denominator) if k.id == kpi_id else k
            for k in kpis
        ]
    return kpis


def _catalog(abandon_treatment: str) -> list[Kpi]:
    handled = "sum(handled_contacts)"
    voice = "sum(voice_contacts_started)"
    return [
        Kpi("offered.v1", CONTACTS, "sum(offered)", kind="count", knobs=("short_abandon_seconds",)),
        Kpi("asa.v1", CONTACTS, "sum(answer_wait_seconds_sum)", "sum(answered)"),
        _service_level("service_level.v1", abandon_treatment),
        *(_service_level(f"service_level.v1.{t}", t) for t in TREATMENTS),
        Kpi(
            "abandon_rate.v1",
            CONTACTS,
            "sum(abandoned)",
            "sum(offered)",
            knobs=("short_abandon_seconds",),
        ),
        Kpi("aht.v1", CONTACTS, "sum(handle_seconds_sum)", handled),
        Kpi("transfer_rate.v1", CONTACTS, "sum(transferred_contacts)", handled),
        Kpi("transfer_rate.v1.warm", CONTACTS, "sum(warm_transferred_contacts)", handled),
        Kpi("transfer_rate.v1.cold", CONTACTS, "sum(cold_transferred_contacts)", handled),
        Kpi(
            "first_response.v1",
            FIRST_RESPONSES,
            "quantile_cont(first_response_seconds, 0.5)",
            "count(*)",
            kind="quantile",
        ),
        Kpi(
            "first_response.v1.p90",
            FIRST_RESPONSES,
            "quantile_cont(first_response_seconds, 0.9)",
            "count(*)",
            kind="quantile",
        ),
        Kpi("ivr_containment.v1", CONTACTS, "sum(voice_deflected)", voice),
        *(
            Kpi(f"ivr_containment.v1.{cause}", CONTACTS, f"sum(voice_deflected_{cause})", voice)
            for cause in DEFLECTION_CAUSES
        ),
        Kpi(
            "occupancy.v1",
            OCCUPANCY,
            "sum(busy_seconds) + sum(after_contact_work_seconds)",
            "sum(busy_seconds) + sum(after_contact_work_seconds) + sum(available_seconds)",
        ),
        Kpi(
            "fcr.v1",
            JOURNEYS,
            "sum(journeys_resolved_first_contact)",
            "sum(journeys)",
            knobs=_JOURNEY_KNOBS,
        ),
        Kpi(
            "fcr_net.v1",
            JOURNEYS,
            "sum(journeys_resolved_first_contact)",
            "sum(journeys) - sum(journeys_not_resolvable)",
            knobs=_JOURNEY_KNOBS,
        ),
        Kpi(
            "fcr_channel.v1",
            JOURNEYS,
            "sum(channel_journeys_resolved_first_contact)",
            "sum(channel_journeys)",
            knobs=_JOURNEY_KNOBS,
        ),
        Kpi(
            "repeat_rate.v1",
            JOURNEYS,
            "sum(journey_contacts)",
            "sum(journeys)",
            knobs=_JOURNEY_KNOBS,
        ),
        Kpi("nps.v1", SURVEYS, "sum(promoters) - sum(detractors)", "sum(nps_responses)", scale=100),
        Kpi("csat.v1", SURVEYS, "sum(csat_satisfied)", "sum(csat_responses)"),
        Kpi("csat.v1.mean", SURVEYS, "sum(csat_sum)", "sum(csat_responses)"),
        Kpi("ces.v1", SURVEYS, "sum(ces_sum)", "sum(ces_responses)"),
        Kpi("ces.v1.share_5_7", SURVEYS, "sum(ces_easy)", "sum(ces_responses)"),
    ]


def unit(kpi_id: str) -> str:
    """The unit of ``kpi_id``'s value: fraction, seconds, points (NPS), contacts ..."""
    return _UNITS.get(kpi_id) or _UNITS.get(kpi_id.rpartition(".")[0], "fraction")


def per_channel(kpi_id: str) -> bool:
    """Whether ``kpi_id`` (or the KPI it is a variant of) is one of ``PER_CHANNEL``."""
    return kpi_id in PER_CHANNEL or kpi_id.rpartition(".")[0] in PER_CHANNEL


def kpi_values(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    by: list[str],
    settings: Settings,
    knob_set: str | None = None,
    profile: Profile | None = None,
) -> list[dict[str, Any]]:
    """Every KPI over the days ``date_from``..``date_to`` (inclusive), per group of ``by``.

    Each row: ``kpi``, ``value``, the ``by`` columns (and ``hour_utc`` after ``hour``),
    ``numerator`` and ``denominator`` (None where they do not apply), ``knob_set`` and ``knobs``
    (the knob values that produced it).
    ``knob_set`` chooses the rows read: None for the knob set of ``settings``, an id, or
    ``ALL_KNOB_SETS``. Rows made with different knob sets are never added together: each set
    gives its own row. Raises ``KnobSetMissing`` when the chosen set lacks days others hold.
    ``profile``: a vendor's definitions (``schemas.profiles``): its knobs replace the settings'
    (so its knob set is read by default), its formulas apply, and the KPIs it cannot reproduce
    have no row.
    """
    if profile is not None:
        settings = profile_settings(settings, profile.name)
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group by {unknown}: choose among {', '.join(DIMENSIONS)}")
    by = list(dict.fromkeys(by))
    columns = [c for d in by for c in ((d, HOUR_UTC) if d == "hour" else (d,))]
    treatment = settings.kpis.abandon_treatment
    kpis = catalog(treatment, profile.formulas if profile else None)
    if profile is not None:
        kpis = [k for k in kpis if k.id not in profile.not_reproducible]
    knob_sets = stored_knob_sets(con)
    if knob_set != ALL_KNOB_SETS:
        knob_set = knob_set or current_knob_set(settings)
        _check_coverage(con, date_from, date_to, knob_set, knob_sets, settings)
    rows: list[dict[str, Any]] = []
    for source in SOURCES:
        if not set(by) <= set(source.dimensions):
            continue
        of_source = [k for k in kpis if k.source is source]
        for group in _aggregate(con, source, of_source, date_from, date_to, columns, knob_set):
            knobs = knob_sets.get(group["knob_set"], {})
            for kpi in of_source:
                numerator, denominator = group[f"n{kpi.id}"], group[f"d{kpi.id}"]
                row = {"kpi": kpi.id, "value": _value(kpi, numerator, denominator)}
                row.update((c, group[c]) for c in columns)
                row["numerator"] = numerator if kpi.kind == "ratio" else None
                row["denominator"] = denominator if kpi.kind != "count" else None
                row["knob_set"] = group["knob_set"]
                row["knobs"] = {name: knobs.get(name) for name in kpi.knobs}
                if kpi.id == "service_level.v1":
                    row["knobs"]["abandon_treatment"] = treatment
                rows.append(row)
    order = {kpi.id: i for i, kpi in enumerate(kpis)}
    rows.sort(key=lambda r: (order[r["kpi"]], *(_sortable(r[c]) for c in columns), r["knob_set"]))
    return rows


def current_knob_set(settings: Settings) -> str:
    """The id of the knob set a refresh under ``settings`` would write."""
    return knob_set_id(mart_knobs(settings))


def stored_knob_sets(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The knob values of every knob set the marts were ever refreshed with, by id."""
    rows = con.execute("select knob_set, knobs from kpi_knob_sets order by knob_set").fetchall()
    return {knob_set: json.loads(knobs) for knob_set, knobs in rows}


def knob_set_days(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date
) -> dict[str, list[date]]:
    """The days of ``date_from``..``date_to`` that each knob set has rows for, in the marts
    ``kpi_values`` reads."""
    union = " union ".join(
        f"select distinct knob_set, day from {source.table} "
        "where day between $date_from and $date_to"
        for source in SOURCES
    )
    days: dict[str, list[date]] = {}
    query = f"select knob_set, day from ({union}) order by knob_set, day"
    for knob_set, day in con.execute(
        query, {"date_from": date_from, "date_to": date_to}
    ).fetchall():
        days.setdefault(knob_set, []).append(day)
    return days


def format_days(days: list[date]) -> str:
    """Sorted days as runs: ``2026-01-05..2026-01-07, 2026-01-09``."""
    runs: list[list[date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def _check_coverage(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    knob_set: str,
    knob_sets: dict[str, dict[str, Any]],
    settings: Settings,
) -> None:
    days = knob_set_days(con, date_from, date_to)
    held = set(days.get(knob_set, ()))
    lacking = sorted({d for ds in days.values() for d in ds} - held)
    if not lacking:
        return
    others = {
        other: knob_sets.get(other, {}) for other, ds in days.items() if set(ds) & set(lacking)
    }
    knobs = knob_sets.get(knob_set)
    if knobs is None and knob_set == current_knob_set(settings):
        knobs = mart_knobs(settings)  # not refreshed yet: its values are the settings'
    raise KnobSetMissing(knob_set, knobs, lacking, others)


def _aggregate(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    kpis: list[Kpi],
    date_from: date,
    date_to: date,
    by: list[str],
    knob_set: str,
) -> list[dict[str, Any]]:
    groups = [*by, "knob_set"]
    measures = []
    for kpi in kpis:
        measures.append(f'{kpi.numerator} as "n{kpi.id}"')
        measures.append(f'{kpi.denominator or "null"} as "d{kpi.id}"')
    params: dict[str, Any] = {"date_from": date_from, "date_to": date_to}
    where = "day between $date_from and $date_to"
    if knob_set != ALL_KNOB_SETS:
        where += " and knob_set = $knob_set"
        params["knob_set"] = knob_set
    query = (
        f"select {', '.join([*groups, *measures])} from {source.table} "
        f"where {where} group by {', '.join(groups)}"
    )
    result = con.execute(query, params)
    names = [column[0] for column in result.description]
    return [dict(zip(names, values, strict=True)) for values in result.fetchall()]


def _value(kpi: Kpi, numerator: Any, denominator: Any) -> float | int | None:
    if kpi.kind != "ratio":
        return numerator
    if numerator is None or not denominator:
        return None
    return kpi.scale * numerator / denominator


def _sortable(value: Any) -> tuple[bool, Any]:
    # None (no queue, no agent) sorts last instead of failing to compare.
    return (value is None, value if value is not None else 0)
