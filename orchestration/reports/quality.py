"""The report's churn-risk and data-quality tables (docs/reports.md, What each section shows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from orchestration.reports import queries
from orchestration.reports.checks import check_outcomes
from orchestration.reports.model import Table
from orchestration.reports.reader import Reader, plain_table, ratio
from warehouse.kpi_checks import journey_mismatches
from warehouse.kpis import format_days

CHURN_SIGNALS = {
    "nps_detractor": "NPS detractor (0-6)",
    "csat_1_2": "CSAT 1-2",
    "ces_1_3": "CES 1-3",
    "unresolved_journey": "Unresolved journey of 3+ contacts",
    "abandons": "2+ abandoned contacts",
    "escalation_unresolved_48h": "Escalation unresolved after 48 h",
    "cancellation_intent": "Cancellation intent",
    "opted_out": "Opted out",
}


def churn(reader: Reader) -> Table:
    """Customers flagged as of the last day of the period the marts hold (the mart keeps only
    customers with a score, so a day with contacts and no score counts too), newly flagged,
    flagged the day before the period, and the signals of those flagged at the end."""
    (scored,) = reader.query(queries.CHURN_AS_OF)
    held = [day for day in (scored["as_of_day"], *days_with_contacts(reader)) if day]
    rows: list[tuple[str, int]] = []
    if held:
        as_of = max(held)
        before = reader.period.first_day - timedelta(days=1)
        (counts,) = reader.query(queries.CHURN_COUNTS, as_of=as_of, before=before)
        rows = [
            (f"Customers flagged at risk on {as_of}", counts["flagged"]),
            ("Newly flagged during the period", counts["newly_flagged"]),
            (f"Customers flagged at risk on {before}", counts["flagged_before"]),
        ]
        rows += [
            (f"Reason: {CHURN_SIGNALS.get(r['signal'], r['signal'])}", r["customers"])
            for r in reader.query(queries.CHURN_SIGNALS, as_of=as_of)
        ]
    return plain_table(
        "churn",
        "Churn risk: customers flagged, and what flagged them",
        [("Measure", "text"), ("Customers", "count")],
        rows,
    )


def days_with_contacts(reader: Reader) -> list[date]:
    return [row["day"] for row in reader.query(queries.DAYS_WITH_CONTACTS)]


def data_quality(reader: Reader) -> Table:
    """(measure, count, share, age in seconds, detail) rows: what the numbers rest on."""
    first, last = reader.period.first_day, reader.period.last_day
    (dead,) = reader.query(queries.DEAD_LETTERS)
    (events,) = reader.query(queries.EVENTS)
    dead_letters = dead["dead_letters"]
    limit = reader.settings.checks.dead_letter_max_share
    rows: list[tuple] = [
        (
            "Dead letters (messages rejected)",
            dead_letters,
            ratio(dead_letters, dead_letters + events["events"]),
            None,
            f"share of messages; the refresh fails above {limit:g}",
        )
    ]
    outcomes = check_outcomes(reader.settings.dagster_home, first, last)
    if outcomes is None:
        rows.append(("Failed data checks", None, None, None, "no Dagster instance"))
    else:
        failed = [o for o in outcomes if not o.passed]
        named = "; ".join(
            f"{o.asset}.{o.check} ({o.first}..{o.last}, {o.severity})" for o in failed
        )
        rows.append(
            (
                "Failed data checks",
                len(failed),
                ratio(len(failed), len(outcomes)),
                None,
                named or f"{len(outcomes)} checks passed",
            )
        )
    _, mismatches = journey_mismatches(reader.con, first, last)
    if reader.tenant is not None and mismatches:
        ids = [m["journey_id"] for m in mismatches]
        tenants = reader.query(queries.JOURNEY_TENANTS, ids=ids)
        ours = {r["journey_id"] for r in tenants if r["tenant"] == reader.tenant}
        mismatches = [m for m in mismatches if m["journey_id"] in ours]
    rows.append(
        (
            "Journeys the stream and SQL disagree on",
            len(mismatches),
            None,
            None,
            "check stream_journeys_agree",
        )
    )
    (statuses,) = reader.query(queries.CONTACT_STATUSES)
    for name, column, why in (
        ("Incomplete contacts", "incomplete", "closed by the idle timeout, end or wrap-up lost"),
        ("Contacts still open", "still_open", "not ended or wrapped up yet"),
    ):
        share = ratio(statuses[column], statuses["contacts"])
        rows.append((name, statuses[column], share, None, why))
    (surveys,) = reader.query(queries.SURVEYS_WITHOUT_CONTACT)
    rows.append(
        (
            "Surveys without a known contact",
            surveys["surveys_without_contact"],
            ratio(surveys["surveys_without_contact"], surveys["surveys"]),
            None,
            "attributed to the day they were completed",
        )
    )
    with_contacts = set(days_with_contacts(reader))
    empty = [day for day in reader.period.dates() if day not in with_contacts]
    rows.append(("Days without contacts", len(empty), None, None, format_days(empty)))
    (newest,) = reader.query(queries.NEWEST_EVENT)
    what = "the newest event time analysts can query"
    rows.append(_age(reader, "Newest event", newest["newest"], what))
    rows.append(_last_refresh(reader))
    return plain_table(
        "data_quality",
        "Data quality",
        [
            ("Measure", "text"),
            ("Count", "count"),
            ("Share", "fraction"),
            ("Age", "seconds"),
            ("Detail", "text"),
        ],
        rows,
    )


def _age(reader: Reader, name: str, at: datetime | None, detail: str) -> tuple:
    """How long before the report was made ``at`` was."""
    if at is None:
        return (name, None, None, None, "none")
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    age = (reader.generated_at - at).total_seconds()
    return (name, None, None, age, f"{at:%Y-%m-%d %H:%M:%S} UTC; {detail}")


def _last_refresh(reader: Reader) -> tuple:
    from orchestration.status import last_refresh

    run = last_refresh(reader.settings.dagster_home)
    if run is None:
        return ("Last refresh", None, None, None, "no refresh run recorded")
    ended = run.ended or run.started
    return _age(reader, "Last refresh", ended, f"run {run.run_id[:8]}: {run.status}")
