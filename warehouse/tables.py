"""The tables of the Parquet lake: one per topic the sink reads, and the columns of each.

A lake table keeps every record of its topic as it came, one column per field, with the field's
JSON type, except times: an RFC 3339 field (``occurred_at``, every ``*_at`` of the records) is a
Parquet TIMESTAMP WITH TIME ZONE (microseconds, UTC); nested objects are stored as JSON text.
Every table also has the record's Kafka coordinates (``_kafka_partition``,
``_kafka_offset``, ``_kafka_timestamp``) and ``_extra``: the fields the table does not name, and
values whose type does not fit their column (a time that does not parse), as a JSON object, so
that nothing is ever dropped.

Each table also says which day a row belongs to (``LakeTable.business_days``): the lake's
``day=`` directories are these business days (docs/warehouse.md, The lake).

Contacts and journeys take their columns from ``schemas.records``: a field added there is landed
without a change here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, fields
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

from schemas.records import ContactFacts, JourneyFacts
from schemas.settings import Settings
from schemas.topics import topic_names


class Kind(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRINGS = "strings"  # a list of strings
    JSON = "json"  # any JSON value, stored as its JSON text
    TIMESTAMP = "timestamp"  # an RFC 3339 time, stored as an instant (UTC)


# Every time in the lake: an instant, microseconds, UTC.
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.STRING: pa.string(),
    Kind.INT: pa.int64(),
    Kind.FLOAT: pa.float64(),
    Kind.BOOL: pa.bool_(),
    Kind.STRINGS: pa.list_(pa.string()),
    Kind.JSON: pa.string(),
    Kind.TIMESTAMP: TIMESTAMP_TYPE,
}

DUCKDB_TYPES: dict[Kind, str] = {
    Kind.STRING: "VARCHAR",
    Kind.INT: "BIGINT",
    Kind.FLOAT: "DOUBLE",
    Kind.BOOL: "BOOLEAN",
    Kind.STRINGS: "VARCHAR[]",
    Kind.JSON: "VARCHAR",
    Kind.TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
}

# Added to every table: where the record sat in Kafka, and what did not fit the columns.
KAFKA_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("_kafka_partition", pa.int32(), "INTEGER"),
    ("_kafka_offset", pa.int64(), "BIGINT"),
    ("_kafka_timestamp", TIMESTAMP_TYPE, "TIMESTAMP WITH TIME ZONE"),
    ("_extra", pa.string(), "VARCHAR"),
)

# The hive partition column of the lake's directories (``day=2026-01-05``).
DAY_COLUMN = "day"
# The time zone of the lake's business days: UTC, one lake for every tenant; the KPI marts
# attribute to each tenant's reporting day (docs/kpis.md, Time zones).
BUSINESS_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class LakeTable:
    name: str  # the lake directory, and ``lake_<name>`` in DuckDB
    topic: str  # the attribute of schemas.topics.Topics it lands
    columns: tuple[tuple[str, Kind], ...]
    # The row's own times that give its business day, first present one wins; without any, the
    # day of its Kafka timestamp.
    day_from: tuple[str, ...] = ()

    def topic_name(self, settings: Settings) -> str:
        return getattr(topic_names(settings), self.topic)

    @property
    def arrow_schema(self) -> pa.Schema:
        named = [(name, ARROW_TYPES[kind]) for name, kind in self.columns]
        return pa.schema(named + [(name, arrow) for name, arrow, _ in KAFKA_COLUMNS])

    def business_days(self, data: pa.Table, time_zone: str = BUSINESS_TIME_ZONE) -> pa.Array:
        """The business day (date32) of each row of ``data`` (a table of this lake table's
        schema): the day, in ``time_zone``, of the first of ``day_from`` the row has, else of
        its Kafka timestamp (1970-01-01 when Kafka gave none)."""
        times = [data.column(name) for name in (*self.day_from, "_kafka_timestamp")]
        instant = pc.coalesce(*times, pa.scalar(0, TIMESTAMP_TYPE))
        local = pc.local_timestamp(instant.cast(pa.timestamp("us", tz=time_zone)))
        return pc.cast(local, pa.date32())

    def duckdb_columns(self) -> list[tuple[str, str]]:
        """Every column of the table as DuckDB reads it, the partition column included."""
        named = [(name, DUCKDB_TYPES[kind]) for name, kind in self.columns]
        return [*named, *((name, duck) for name, _, duck in KAFKA_COLUMNS), (DAY_COLUMN, "DATE")]


def _kind_of(hint: object) -> Kind:
    """The column kind of a dataclass field's type (``str | None`` -> STRING ...)."""
    if isinstance(hint, types.UnionType):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is typing.Literal:
        return Kind.STRING
    if typing.get_origin(hint) is list:
        return Kind.STRINGS
    return {str: Kind.STRING, int: Kind.INT, float: Kind.FLOAT, bool: Kind.BOOL}[hint]


def _record_columns(record_class: type) -> tuple[tuple[str, Kind], ...]:
    """The columns of a record's fields; a string field named ``*_at`` is a time."""
    hints = typing.get_type_hints(record_class)
    columns = []
    for f in fields(record_class):
        kind = _kind_of(hints[f.name])
        if kind is Kind.STRING and f.name.endswith("_at"):
            kind = Kind.TIMESTAMP
        columns.append((f.name, kind))
    return tuple(columns)


EVENTS = LakeTable(
    "events",
    "events",
    (
        ("event_id", Kind.STRING),
        ("event_type", Kind.STRING),
        ("schema_version", Kind.INT),
        ("occurred_at", Kind.TIMESTAMP),
        ("ts", Kind.FLOAT),
        ("tenant", Kind.STRING),
        ("channel", Kind.STRING),
        ("direction", Kind.STRING),
        ("contact_id", Kind.STRING),
        ("agent_id", Kind.STRING),
        ("queue", Kind.STRING),
        ("customer_ids", Kind.STRINGS),
        ("attributes", Kind.JSON),
    ),
    day_from=("occurred_at",),
)
# The analysts' dead letters: redacted, without the raw bytes (those are on the operators'
# dead-letters-raw topic, which is never landed; docs/streams.md, Dead letters).
DEAD_LETTERS = LakeTable(
    "dead_letters",
    "dead_letters",
    (
        ("dead_letter_id", Kind.STRING),
        ("topic", Kind.STRING),
        ("partition", Kind.INT),
        ("offset", Kind.INT),
        ("errors", Kind.STRINGS),
        ("raw_size", Kind.INT),
        ("raw_sha256", Kind.STRING),
        ("event_type", Kind.STRING),
        ("event_id", Kind.STRING),
        ("contact_id", Kind.STRING),
        ("tenant", Kind.STRING),
        ("occurred_at", Kind.TIMESTAMP),
        ("redacted_preview", Kind.STRING),
        ("replayed", Kind.BOOL),
    ),
    day_from=("occurred_at",),
)
# A contact's day is its start's; without a start event, its first queueing, else its answer
# (docs/kpis.md, Scope and attribution), else its first time the stream saw.
CONTACT_VERSIONS = LakeTable(
    "contact_versions",
    "contacts",
    (*_record_columns(ContactFacts), ("version", Kind.INT)),
    day_from=("started_at", "first_queued_at", "answered_at", "ended_at", "abandoned_at"),
)
JOURNEY_VERSIONS = LakeTable(
    "journey_versions",
    "journeys",
    (*_record_columns(JourneyFacts), ("version", Kind.INT), ("superseded", Kind.BOOL)),
    day_from=("first_started_at",),  # its first contact's start
)
IDENTITY_MERGES = LakeTable(
    "identity_merges",
    "identity_merges",
    (
        ("action", Kind.STRING),  # merge | hub | refused
        ("tenant", Kind.STRING),
        ("merged_roots", Kind.STRINGS),
        ("new_root", Kind.STRING),
        ("old_keys", Kind.STRINGS),
        ("new_key", Kind.STRING),
        ("root", Kind.STRING),
        ("accounts", Kind.STRINGS),
        ("affected_keys", Kind.STRINGS),
        ("evidence", Kind.JSON),
    ),
)
CUSTOMER_KEYS = LakeTable(
    "customer_keys",
    "customers",
    (
        ("tenant", Kind.STRING),
        ("identifier", Kind.STRING),
        ("customer_key", Kind.STRING),
        ("version", Kind.INT),
    ),
)
# The churn-risk alert record (docs/alerts.md; schemas/json/alert.json).
ALERTS = LakeTable(
    "alerts",
    "alerts",
    (
        ("alert_id", Kind.STRING),
        ("tenant", Kind.STRING),
        ("customer_key", Kind.STRING),
        ("customer_ids", Kind.STRINGS),
        ("reason", Kind.STRING),
        ("score", Kind.INT),
        ("previous_score", Kind.INT),
        ("threshold", Kind.INT),
        ("signals", Kind.JSON),
        ("trigger_event_id", Kind.STRING),
        ("trigger_occurred_at", Kind.TIMESTAMP),
        ("created_at", Kind.TIMESTAMP),
        ("knob_set", Kind.STRING),
        ("schema_version", Kind.INT),
    ),
    day_from=("trigger_occurred_at",),  # the day of the event that tipped the customer over
)
# What the delivery worker did with each alert on each channel (orchestration/alerts).
ALERT_DELIVERIES = LakeTable(
    "alert_deliveries",
    "alert_deliveries",
    (
        ("alert_id", Kind.STRING),
        ("tenant", Kind.STRING),
        ("channel", Kind.STRING),
        ("status", Kind.STRING),
        ("attempts", Kind.INT),
        ("last_error", Kind.STRING),
        ("first_attempt_at", Kind.TIMESTAMP),
        ("finished_at", Kind.TIMESTAMP),
        ("latency_seconds", Kind.FLOAT),
    ),
    day_from=("first_attempt_at", "finished_at"),
)

LAKE_TABLES: tuple[LakeTable, ...] = (
    EVENTS,
    DEAD_LETTERS,
    CONTACT_VERSIONS,
    JOURNEY_VERSIONS,
    IDENTITY_MERGES,
    CUSTOMER_KEYS,
    ALERTS,
    ALERT_DELIVERIES,
)


def table_named(name: str) -> LakeTable:
    return next(table for table in LAKE_TABLES if table.name == name)
