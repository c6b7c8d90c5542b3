"""What the KPI marts and their checks read from the intermediate layer.

The intermediate layer (``int_*``, built from the lake) is the contract between the warehouse
build and the marts; these are the columns the marts use, with the DuckDB types they expect
(timestamps may also be ``TIMESTAMP WITH TIME ZONE``: the marts work in epoch units).
``missing_inputs`` names what a warehouse lacks before a refresh fails halfway with a less
helpful error.
"""

from __future__ import annotations

import duckdb

INPUTS: dict[str, dict[str, str]] = {
    "int_events": {
        "event_id": "VARCHAR",
        "event_type": "VARCHAR",
        "occurred_at": "TIMESTAMP",
        "tenant": "VARCHAR",
        "channel": "VARCHAR",
        "direction": "VARCHAR",
        "contact_id": "VARCHAR",
        "agent_id": "VARCHAR",
        "customer_ids": "VARCHAR[]",
        "attributes": "JSON",  # outbound.attempted's campaign, dialer, result; opt-out scope
        "business_day": "DATE",  # the UTC day of occurred_at: the checks read a day's files by it
    },
    "int_contacts": {
        "contact_id": "VARCHAR",
        "tenant": "VARCHAR",
        "channel": "VARCHAR",
        "direction": "VARCHAR",
        "customer_key": "VARCHAR",
        "first_queue": "VARCHAR",
        "first_agent": "VARCHAR",
        "started_at": "TIMESTAMP",
        "started_day": "DATE",  # the UTC day of started_at, as business_day of events
        "first_queued_at": "TIMESTAMP",
        "answered_at": "TIMESTAMP",
        "ended_at": "TIMESTAMP",
        "wrapped_up_at": "TIMESTAMP",
        "abandoned_at": "TIMESTAMP",
        "talk_seconds": "DOUBLE",
        "hold_seconds": "DOUBLE",
        "acw_seconds": "DOUBLE",
        "transfers": "INTEGER",
        "warm_transfers": "INTEGER",
        "cold_transfers": "INTEGER",
        "deflected": "BOOLEAN",
        "deflection_cause": "VARCHAR",
        "disposition": "VARCHAR",
        "resolvable_in_one_contact": "BOOLEAN",
        "cancellation_intent": "BOOLEAN",
        "status": "VARCHAR",
    },
    "int_journeys": {
        "journey_id": "VARCHAR",
        "customer_key": "VARCHAR",
        "tenant": "VARCHAR",
        "first_contact_id": "VARCHAR",
        "first_started_at": "TIMESTAMP",
        "first_started_day": "DATE",
        "contact_ids": "VARCHAR[]",
        "channels": "VARCHAR[]",
        "contact_count": "INTEGER",
        "resolved_at_first_contact": "BOOLEAN",
        "first_contact_resolvable_in_one_contact": "BOOLEAN",
        "last_disposition": "VARCHAR",
    },
    "int_surveys": {
        "event_id": "VARCHAR",
        "contact_id": "VARCHAR",
        "tenant": "VARCHAR",
        "channel": "VARCHAR",
        "survey_at": "TIMESTAMP",
        "nps": "INTEGER",
        "csat": "INTEGER",
        "ces": "INTEGER",
    },
    "int_agent_state_spans": {
        "tenant": "VARCHAR",
        "agent_id": "VARCHAR",
        "state": "VARCHAR",
        "started_at": "TIMESTAMP",
        "ended_at": "TIMESTAMP",
        "seconds": "DOUBLE",
        "day": "DATE",
    },
    "int_customer_keys": {
        "tenant": "VARCHAR",
        "identifier": "VARCHAR",
        "customer_key": "VARCHAR",
    },
}


def missing_inputs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``relation`` or ``relation.column`` for each input the database does not have."""
    present: dict[str, set[str]] = {}
    for relation, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = current_schema() and table_catalog = current_database()"
    ).fetchall():
        present.setdefault(relation, set()).add(column)
    missing = []
    for relation, columns in INPUTS.items():
        if relation not in present:
            missing.append(relation)
            continue
        missing += [f"{relation}.{c}" for c in columns if c not in present[relation]]
    return missing
