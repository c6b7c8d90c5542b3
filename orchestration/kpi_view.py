"""What ``omnicx kpis`` shows by default: one row per group with the KPIs as columns.

``wide_rows`` turns the long rows of ``warehouse.kpis.kpi_values`` (one per KPI and group) into
one row per group, exact, its KPI keys carrying their unit (``asa.v1 (seconds)``): the CSV and
JSON output. ``tables`` renders the same rows for people, as rich tables of KPI families (so
that each fits an 80-column terminal), every value in the unit people use (``human``):

- rates, shares, service level, FCR, occupancy: percent with one decimal (``81.3%``);
- times (ASA, AHT, first response): ``m:ss``, from an hour on ``h:mm:ss``; e-mail's ASA and
  first response in hours and minutes (``5h 12m``), the scale of e-mail targets;
- NPS: signed points (``+23``); CSAT and CES means on their scale with two decimals (``4.21``);
  repeat rate: contacts per journey with two decimals; offered: a count (``3,588``).

Service level, ASA and first response are shown per channel (``warehouse.kpis.PER_CHANNEL``):
when ``--by`` has no channel their rows are those groups split by channel (in CSV and JSON the
rows with their ``channel``, beside the group's row whose ``channel`` is ``all``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.table import Table

from warehouse.kpis import HOUR_UTC, TREATMENTS, catalog, per_channel, unit

ALL_CHANNELS = "all"  # the channel of a row over every channel (CSV/JSON, --by without channel)
NONE = "–"  # no value: a zero denominator, or a KPI the group cannot have
LEGEND = (
    "Rates in percent; times m:ss or h:mm:ss (e-mail's ASA and first response: hours and "
    "minutes); NPS in "
    "points (-100..100); CSAT mean on 1-5, CES on 1-7 (higher: easier). Service level, ASA and "
    "first response per channel, as their thresholds and units differ. Exact values: --format "
    "csv|json; one row per KPI with numerators and denominators: --long."
)


@dataclass(frozen=True)
class Family:
    """KPIs shown together in one table: ``columns`` are (KPI id, header)."""

    title: str
    columns: tuple[tuple[str, str], ...]

    @property
    def per_channel(self) -> bool:
        return all(per_channel(kpi) for kpi, _ in self.columns)


FAMILIES = (
    Family(
        "Volume and handling",
        (
            ("offered.v1", "Offered"),
            ("abandon_rate.v1", "Abandon rate"),
            ("aht.v1", "AHT"),
            ("occupancy.v1", "Occupancy"),
        ),
    ),
    Family(
        "Speed of answer",
        (
            ("service_level.v1", "Service level"),
            ("asa.v1", "ASA"),
            ("first_response.v1", "First response median"),
            ("first_response.v1.p90", "First response p90"),
        ),
    ),
    Family(
        "Service level by abandon treatment",
        (
            ("service_level.v1.negative", "negative (abandons fail)"),
            ("service_level.v1.ignore", "ignore (abandons left out)"),
            ("service_level.v1.positive", "positive (abandons within T pass)"),
        ),
    ),
    Family(
        "Transfers",
        (
            ("transfer_rate.v1", "Transfer rate"),
            ("transfer_rate.v1.warm", "Warm"),
            ("transfer_rate.v1.cold", "Cold"),
        ),
    ),
    Family(
        "IVR containment",
        (
            ("ivr_containment.v1", "Contained"),
            ("ivr_containment.v1.front_end_message", "by front-end message"),
            ("ivr_containment.v1.self_service", "by self-service"),
            ("ivr_containment.v1.ivr_menu", "by IVR menu"),
        ),
    ),
    Family(
        "Resolution (journeys)",
        (
            ("fcr.v1", "FCR"),
            ("fcr_net.v1", "FCR net"),
            ("fcr_channel.v1", "FCR seen per channel"),
            ("repeat_rate.v1", "Contacts per journey"),
        ),
    ),
    Family(
        "Surveys",
        (
            ("nps.v1", "NPS"),
            ("csat.v1", "CSAT top-2-box"),
            ("csat.v1.mean", "CSAT mean (1-5)"),
            ("ces.v1", "CES mean (1-7)"),
            ("ces.v1.share_5_7", "CES 5-7"),
        ),
    ),
)


def column(kpi_id: str) -> str:
    """The CSV header / JSON key of a KPI in the wide output: its id and unit."""
    return f"{kpi_id} ({unit(kpi_id)})"


def human(kpi_id: str, value: float | None, channel: str | None = None) -> str:
    """``value`` of ``kpi_id`` as people read it (see the module's docstring)."""
    if value is None:
        return NONE
    kind = unit(kpi_id)
    if kind == "fraction":
        return f"{100 * value:.1f}%"
    if kind == "seconds":
        if channel == "email" and per_channel(kpi_id):
            hours, minutes = divmod(round(value / 60), 60)
            return f"{hours}h {minutes:02d}m"
        return duration(value)
    if kind == "points":
        points = round(value)
        return f"{points:+d}" if points else "0"
    if kind == "contacts":
        return f"{value:,}"
    return f"{value:.2f}"  # scores on their scale, contacts per journey


def duration(seconds: float) -> str:
    """Whole seconds as ``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def wide_rows(
    rows: Iterable[dict[str, Any]], by: Sequence[str], channel_rows: Iterable[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """One row per group (and knob set) of ``kpi_values`` rows grouped ``by``: the ``by``
    columns, ``knob_set``, ``knobs`` (every knob of the set) and each KPI's exact value under
    ``column(kpi)``.

    ``channel_rows``: the same KPIs grouped by ``by`` and channel, given when ``by`` has no
    channel; the per-channel KPIs then come from them, in rows of their own after each group's
    row, whose ``channel`` is ``ALL_CHANNELS`` and which leaves them out."""
    split = "channel" not in by
    groups = list(by) + (["channel"] if split else [])
    wide: dict[tuple, dict[str, Any]] = {}
    knobs: dict[str, dict[str, Any]] = {}  # every knob of each knob set, shared by its rows

    def add(row: dict[str, Any], channel: str | None) -> None:
        values = [row.get(d) for d in by]
        key = (*values, channel, row["knob_set"]) if split else (*values, row["knob_set"])
        if key not in wide:
            wide[key] = dict(zip(by, values, strict=True))
            if split:
                wide[key]["channel"] = channel
            wide[key] |= {
                "knob_set": row["knob_set"],
                "knobs": knobs.setdefault(row["knob_set"], {}),
            }
        wide[key]["knobs"].update(row["knobs"])
        wide[key][column(row["kpi"])] = row["value"]

    for row in rows:
        if not (split and per_channel(row["kpi"])):
            add(row, ALL_CHANNELS if split else None)
    if split:
        for row in channel_rows:
            if per_channel(row["kpi"]):
                add(row, row["channel"])
    ordered = sorted(
        wide,
        key=lambda key: [_sortable(v, d) for v, d in zip(key, [*groups, "knob_set"], strict=True)],
    )
    return [wide[key] for key in ordered]


def header(wide: list[dict[str, Any]]) -> list[str]:
    """The columns of ``wide_rows``'s rows for CSV and JSON: the groups, ``knob_set``,
    ``knobs``, then the KPIs in the order of kpis.md."""
    names = dict.fromkeys(name for row in wide for name in row)
    order = {column(kpi.id): i for i, kpi in enumerate(catalog(TREATMENTS[0]))}
    return sorted(names, key=lambda name: order.get(name, -1))  # stable: groups stay first


def _sortable(value: Any, dimension: str | None) -> tuple:
    # None (no queue, no agent) sorts last; a group's row over every channel before its channels.
    first = dimension == "channel" and value == ALL_CHANNELS
    return (not first, value is None, value if value is not None else 0)


def tables(wide: list[dict[str, Any]], by: Sequence[str], width: int) -> list[tuple[str, Table]]:
    """The rows of ``wide_rows`` as one rich table per KPI family that has a value, with its
    title: the group columns (``channel`` for the per-channel families when ``by`` has none; the
    knob set when the rows hold several), then the family's KPIs in people's units, the headers
    wrapped between words as far as needed to fit ``width`` columns."""
    several_sets = len({row["knob_set"] for row in wide}) > 1
    made = []
    for family in FAMILIES:
        kpis = [(kpi, text) for kpi, text in family.columns if any(column(kpi) in r for r in wide)]
        split = family.per_channel and "channel" not in by
        # hour_utc is not a column of its own: an hour shows its UTC offset where it has one
        shown_by = [d for d in by if d != HOUR_UTC]
        groups = [*shown_by, "channel"] if split else shown_by
        rows = [
            r
            for r in wide
            if ("channel" in by or (r.get("channel") != ALL_CHANNELS) == split)
            and any(r.get(column(kpi)) is not None for kpi, _ in kpis)
        ]
        if not rows:
            continue
        labels = [*groups, *(["knob set"] if several_sets else [])]
        cells = [
            [*(_group_text(r.get(d), r.get(HOUR_UTC) if d == "hour" else None) for d in groups)]
            + ([r["knob_set"]] if several_sets else [])
            + [human(kpi, r.get(column(kpi)), r.get("channel")) for kpi, _ in kpis]
            for r in rows
        ]
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for label in labels:
            table.add_column(label, overflow="fold")  # folded only if nothing else fits
        widths = _kpi_widths([text for _, text in kpis], cells, labels, width)
        for (_, text), kpi_width in zip(kpis, widths, strict=True):
            table.add_column(text, justify="right", width=kpi_width)
        for row in cells:
            table.add_row(*row)
        made.append((f"{family.title}, per channel" if split else family.title, table))
    return made


def _kpi_widths(
    headers: list[str], cells: list[list[str]], labels: list[str], width: int
) -> list[int]:
    """Each KPI column's width: its whole header on one line where the table fits ``width``,
    else the widest headers wrapped first, never narrower than a figure or a header word."""
    first = len(labels)
    figures = [max(len(row[first + i]) for row in cells) for i in range(len(headers))]
    least = [max(f, *(len(w) for w in h.split())) for f, h in zip(figures, headers, strict=True)]
    widths = [max(f, len(h)) for f, h in zip(figures, headers, strict=True)]
    fixed = sum(max(len(label), *(len(row[i]) for row in cells)) for i, label in enumerate(labels))
    spacing = 3 * (len(labels) + len(headers) - 1)  # a space and the padding between columns
    while fixed + sum(widths) + spacing > width:
        shrinkable = [i for i, w in enumerate(widths) if w > least[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _group_text(value: Any, utc_start: datetime | None = None) -> str:
    """A group's value as shown; an hour (local to its tenant) with its UTC offset when it has
    one, so that the two hours labelled 02:00 on the day daylight saving time ends differ."""
    if value is None:
        return "(none)"  # no queue, no agent
    if not isinstance(value, datetime):
        return str(value)
    text = value.strftime("%Y-%m-%d %H:%M")
    if utc_start is None:
        return text
    if utc_start.tzinfo is not None:
        utc_start = utc_start.astimezone(UTC).replace(tzinfo=None)
    offset = int((value - utc_start).total_seconds() // 60)
    if not offset:
        return text
    sign, minutes = ("+" if offset > 0 else "-"), abs(offset)
    return f"{text} UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


NOT_REPRODUCIBLE = "n/a"  # a profile whose vendor definition the contract's events cannot give
# Out of their family's table some headers need the family's name.
_KPI_TITLES = {kpi: text for family in FAMILIES for kpi, text in family.columns} | {
    "transfer_rate.v1.warm": "Transfer rate, warm",
    "transfer_rate.v1.cold": "Transfer rate, cold",
    "ivr_containment.v1": "IVR contained",
    "ivr_containment.v1.front_end_message": "IVR contained by front-end message",
    "ivr_containment.v1.self_service": "IVR contained by self-service",
    "ivr_containment.v1.ivr_menu": "IVR contained by IVR menu",
}
# The treatment variants of service level are omnicx's three readings of one knob set, no
# vendor's definition: the comparison shows service_level.v1, under each profile's treatment.
_NOT_COMPARED = {f"service_level.v1.{t}" for t in TREATMENTS}


def compare_rows(
    wide_by_profile: dict[str, list[dict[str, Any]]], groups: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per group and KPI with each profile's exact value side by side: the group
    columns (``channel`` included when the rows were split by channel), ``kpi``, ``unit``,
    then one key per profile (its value, None when it has none). ``wide_by_profile``: the
    ``wide_rows`` of each profile, in the order of the columns."""
    keys = list(dict.fromkeys([*groups, "channel"]))
    values: dict[tuple, dict[str, dict[str, Any]]] = {}
    for name, wide in wide_by_profile.items():
        for row in wide:
            key = tuple(row.get(k) for k in keys)
            values.setdefault(key, {})[name] = row
    order = [k.id for k in catalog(TREATMENTS[0]) if k.id not in _NOT_COMPARED]
    compared = []
    for key, by_profile in values.items():
        for kpi in order:
            if not any(column(kpi) in row for row in by_profile.values()):
                continue
            row = {k: v for k, v in zip(keys, key, strict=True) if k in groups or v is not None}
            row |= {"kpi": kpi, "unit": unit(kpi)}
            row |= {name: by_profile.get(name, {}).get(column(kpi)) for name in wide_by_profile}
            compared.append(row)
    return compared


def compare_table(
    compared: list[dict[str, Any]],
    groups: Sequence[str],
    not_reproducible: dict[str, Iterable[str]],
) -> Table:
    """``compare_rows`` for people: the groups, the KPI, each profile's value in people's units
    (``n/a`` where the profile's vendor definition cannot be reproduced)."""
    names = list(not_reproducible)
    shown = [g for g in dict.fromkeys([*groups, "channel"]) if g != HOUR_UTC]
    shown = [g for g in shown if any(g in r for r in compared)]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for label in [*shown, "KPI"]:
        table.add_column(label, overflow="fold")
    for name in names:
        table.add_column(name, justify="right")
    for r in compared:
        cells = [_group_text(r.get(g), r.get(HOUR_UTC) if g == "hour" else None) for g in shown]
        cells = [c if r.get(g) is not None else "" for c, g in zip(cells, shown, strict=True)]
        cells.append(_KPI_TITLES.get(r["kpi"], r["kpi"]))
        for name in names:
            missing = r["kpi"] in set(not_reproducible[name])
            cells.append(
                NOT_REPRODUCIBLE if missing else human(r["kpi"], r[name], r.get("channel"))
            )
        table.add_row(*cells)
    return table
