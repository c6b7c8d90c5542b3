"""Per-tenant retention of contact-level data ([tenants.NAME] retention_days, docs/tenancy.md).

A tenant with ``retention_days = N`` keeps the contact-level rows of the business days from
``today - N`` on (its **first kept day**); the daily and hourly aggregates of the KPI marts stay.
Who drops what:

- the ``retention`` Dagster job (orchestration/retention.py) computes every tenant's first kept
  day and writes it to ``<lake>/_sink/retention.json``, then rebuilds the warehouse with the
  contact-level marts' expired rows deleted (``prune_marts``) and the first kept days recorded in
  ``kpi_retention``, which the marts' refresh reads so that it never recomputes an expired day
  of a tenant from the rows that are gone (its aggregates stay as they were);
- the lake is written by the sink only (the sink's manifest must say what each file holds, or
  it quarantines the file as changed): so each sink applies ``retention.json`` to the partitions
  it owns (``prune_partition``), rewriting the files of the expired days without the expired
  tenants' rows and recording each in its manifest, and drops such rows from what it lands
  later (``drop_expired``). A file whose rows all expired stays, empty: its offsets stay landed.
  Only tables whose rows have a business time of their own age (``ages``).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.settings import Settings
from warehouse.landing import SINK_DIR, day_dirs, write_atomically
from warehouse.manifest import PartitionManifest
from warehouse.tables import LakeTable

RETENTION_FILE = "retention.json"
# The marts with a row per contact, journey or customer: contact-level data, dropped with the
# lake's; the other marts are aggregates, kept.
CONTACT_LEVEL_MARTS = {
    "mart_first_responses": "day",
    "mart_journeys_recomputed": "day",
    "mart_churn_risk": "as_of_day",
}

Cutoffs = dict[str, date]  # tenant -> its first kept business day


def first_kept_days(settings: Settings, today: date) -> Cutoffs:
    """The first kept business day of every tenant with a retention: ``today - retention_days``."""
    return {
        name: today - timedelta(days=tenant.retention_days)
        for name, tenant in sorted(settings.tenants.items())
        if tenant.retention_days
    }


def retention_path(lake_dir: Path) -> Path:
    return lake_dir / SINK_DIR / RETENTION_FILE


def write_cutoffs(lake_dir: Path, cutoffs: Cutoffs) -> Path:
    """Publish the first kept days for the sinks (atomically: a sink never reads half)."""
    path = retention_path(lake_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({t: d.isoformat() for t, d in sorted(cutoffs.items())}, indent=1)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return path


def read_cutoffs(lake_dir: Path) -> Cutoffs:
    """The first kept days last published ({} when no retention was ever applied)."""
    try:
        stored = json.loads(retention_path(lake_dir).read_text())
    except FileNotFoundError:
        return {}
    return {tenant: date.fromisoformat(day) for tenant, day in stored.items()}


def ages(table: LakeTable) -> bool:
    """Whether retention applies to ``table``: its rows' days are business times of their own
    (a contact's, an event's, a journey's start ...). The identity audit and the customer keys
    lie under the day they reached Kafka: a customer key landed long ago still stitches
    today's contacts, so it is not dropped for its age."""
    return bool(table.day_from)


def expired_tenants(cutoffs: Cutoffs, day: date) -> list[str]:
    return sorted(tenant for tenant, first_kept in cutoffs.items() if day < first_kept)


def drop_expired(data: pa.Table, day: date, cutoffs: Cutoffs) -> pa.Table:
    """``data`` (rows of one business day) without the rows of tenants whose data of ``day``
    expired."""
    expired = expired_tenants(cutoffs, day)
    if not expired or "tenant" not in data.column_names:
        return data
    hit = pc.fill_null(pc.is_in(data.column("tenant"), value_set=pa.array(expired)), False)
    return data.filter(pc.invert(hit))


def prune_partition(table: LakeTable, manifest: PartitionManifest, cutoffs: Cutoffs) -> int:
    """Rewrite the manifest's files in the day directories of ``table`` before some tenant's
    first kept day without the expired rows, recording each in the manifest; rows dropped.
    Only directories whose day is expired for some tenant are read."""
    if not cutoffs or not ages(table):
        return 0
    latest = max(cutoffs.values())
    dropped = 0
    for directory in day_dirs(manifest.table_dir.parent, table):
        day = date.fromisoformat(directory.name.removeprefix("day="))
        if day >= latest:
            continue
        for lake_file in manifest.trusted_files(directory):
            data = pq.read_table(lake_file.path)
            kept = drop_expired(data, day, cutoffs)
            if kept.num_rows == data.num_rows:
                continue
            write_atomically(
                kept,
                lake_file.path,
                lambda size, f=lake_file, rows=kept.num_rows: manifest.added(f, rows, size),
            )
            dropped += data.num_rows - kept.num_rows
    return dropped


def prune_marts(con: duckdb.DuckDBPyConnection, cutoffs: Cutoffs) -> dict[str, int]:
    """In a warehouse being built: record the first kept days in ``kpi_retention`` and delete
    the contact-level marts' rows of expired days; rows deleted per mart."""
    con.execute("create or replace table kpi_retention (tenant varchar, first_kept_day date)")
    if cutoffs:
        con.executemany("insert into kpi_retention values (?, ?)", list(cutoffs.items()))
    existing = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
    }
    deleted = {}
    for mart, day_column in CONTACT_LEVEL_MARTS.items():
        if mart not in existing:
            continue
        (count,) = con.execute(
            f"delete from {mart} as m using kpi_retention as r "
            f"where m.tenant = r.tenant and m.{day_column} < r.first_kept_day"
        ).fetchone()
        deleted[mart] = count
    return deleted
