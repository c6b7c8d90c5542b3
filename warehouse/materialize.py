"""The intermediate layer's latest versions, materialised per business day as Parquet.

Finding the latest version of every contact (the first copy of every event, the latest version
of every journey and customer key) from the lake's raw versions is a window over the whole
history; done per analyst query it grows with the history (about 12 s over 10 M contacts). So
each build keeps it materialised, incrementally, next to the lake
(``<home>/intermediate/<relation>/``, ``[warehouse] intermediate_dir``):

- ``day=YYYY-MM-DD.parquet``: for one business day of the lake (its ``day=`` folder), the
  winner of each key among that day's rows (the staging view's columns, plus ``_key_hash``).
  Only the days whose lake files changed since the last build (another file set, size or
  modification time) are recomputed, and each is replaced atomically under the same name, so a
  reader that listed the files never misses one.
- ``_superseded.parquet``: the rows of those files that lose to a row of another day (a
  contact whose early versions, without a start, sit under their first queueing's day). Only
  the keys of the changed days are compared with the other days, through ``_key_hash``; this
  set is normally tiny, and the ``mat_*`` views leave its rows out.
- ``_state.json``: the fingerprint of each lake day the files were made from, and of the
  definition (staging SQL, key, order): changing either recomputes what it concerns.

Then the agent state spans are brought up to date from the ``mat_events`` files
(``warehouse.state_spans``). The ``mat_*`` views (``file_view_sql``) read these files;
``int_contacts``, ``int_events``, ``int_journeys``, ``int_customer_keys`` and
``int_agent_state_spans`` read the ``mat_*`` views. So they are as fresh as the last build (the
refresh sensor's, every minute), and a query over a day, or a contact, reads the row groups that
may hold it only (``_rows_of``). Builds take an exclusive lock on the directory, one at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse import contact_keys, state_spans
from warehouse.file_lock import exclusive_lock
from warehouse.landing import day_dirs
from warehouse.parquet_sql import literal as _literal
from warehouse.parquet_sql import paths as _paths
from warehouse.parquet_sql import write_atomically as _write_atomically
from warehouse.tables import CONTACT_VERSIONS, CUSTOMER_KEYS, EVENTS, JOURNEY_VERSIONS, LakeTable

DAY_FILE_PREFIX = "day="
SUPERSEDED_FILE = "_superseded.parquet"
STATE_FILE = "_state.json"
LOCK_FILE = ".lock"
KEY_HASH = "_key_hash"
# The version of the files' layout: another one recomputes every day.
LAYOUT = f"layout-2 keyed contacts ({contact_keys.ID_HASHES}, customer_key)"

# ``create view lake_<table>`` over exactly the files given (warehouse.build.lake_view_sql).
LakeView = Callable[[LakeTable, list[Path]], str]


@dataclass(frozen=True)
class Materialised:
    """A relation of the latest (or first) row per key of a staging view."""

    name: str  # the view analysts' int_* models read: mat_<...>
    staging: str  # the staging model it materialises
    lake_table: LakeTable  # whose day folders it follows
    key: tuple[str, ...]  # SQL expressions: one row per key
    order: str  # the winner comes first in this order
    # Contacts: each row also gets its stitched customer key (warehouse.contact_keys).
    keyed: bool = False
    # Columns stored beside the staging view's (``<expression> as <name>``): a reader's filter
    # on a stored column reaches the Parquet scan through the anti join of ``_rows_of``, one on
    # an expression the int_* view computes above it does not (DuckDB 2.0).
    stored: tuple[str, ...] = ()

    @property
    def stored_sql(self) -> str:
        return "".join(f", {column}" for column in self.stored)

    @property
    def key_hash_sql(self) -> str:
        return f"hash({', '.join(self.key)})"

    def key_columns_sql(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{_qualified(k, prefix)} as _k{i}" for i, k in enumerate(self.key))

    def key_match_sql(self, row: str, superseded: str) -> str:
        """Whether ``superseded`` (a row of ``_superseded.parquet``) names ``row``."""
        parts = [
            f"{superseded}.business_day = {row}.business_day",
            f"{superseded}.{KEY_HASH} = {row}.{KEY_HASH}",
        ]
        parts += [
            f"{superseded}._k{i} is not distinct from {_qualified(k, row + '.')}"
            for i, k in enumerate(self.key)
        ]
        return " and ".join(parts)


CUSTOMER_KEYS_SPEC = Materialised(
    "mat_customer_keys",
    "stg_customer_keys",
    CUSTOMER_KEYS,
    ("tenant", "identifier"),
    "version desc, _kafka_timestamp desc, _kafka_offset desc",
)
EVENTS_SPEC = Materialised(
    "mat_events",
    "stg_events",
    EVENTS,
    ("event_id", "coalesce(contact_id, agent_id)"),
    "ts, _kafka_timestamp, _kafka_partition, _kafka_offset",
)
# In this order: the contacts' customer keys come from mat_customer_keys.
MATERIALISED = (
    CUSTOMER_KEYS_SPEC,
    Materialised(
        "mat_contact_versions",
        "stg_contact_versions",
        CONTACT_VERSIONS,
        ("contact_id",),
        "version desc, _kafka_timestamp desc, _kafka_offset desc",
        keyed=True,
        stored=("cast(started_at as date) as started_day",),
    ),
    EVENTS_SPEC,
    Materialised(
        "mat_journey_versions",
        "stg_journey_versions",
        JOURNEY_VERSIONS,
        ("tenant", "journey_id"),
        "version desc, _kafka_timestamp desc, _kafka_offset desc",
        stored=("cast(first_started_at as date) as first_started_day",),
    ),
)


def _qualified(expression: str, prefix: str) -> str:
    """``coalesce(contact_id, agent_id)`` with its column names prefixed (``m.contact_id``)."""
    if not prefix:
        return expression
    if expression.startswith("coalesce("):
        inner = expression.removeprefix("coalesce(").removesuffix(")")
        return f"coalesce({', '.join(prefix + c.strip() for c in inner.split(','))})"
    return prefix + expression


@dataclass
class Refreshed:
    """What one materialisation pass did, per relation: the days it recomputed."""

    days: dict[str, list[str]]

    @property
    def total_days(self) -> int:
        return sum(len(d) for d in self.days.values())


def materialise(
    lake_dir: Path, out_dir: Path, staging_sql: dict[str, str], lake_view: LakeView
) -> Refreshed:
    """Bring every relation of ``MATERIALISED`` under ``out_dir`` up to date with the lake.

    ``staging_sql`` maps each staging model to its SQL; ``lake_view(table, files)`` gives the
    ``create view lake_<table>`` statement over exactly those files (``warehouse.build``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, list[str]] = {}
    with exclusive_lock(out_dir / LOCK_FILE):
        for spec in MATERIALISED:
            done[spec.name] = _refresh(
                spec, lake_dir, out_dir, staging_sql[spec.staging], lake_view
            )
        events_dir = out_dir / EVENTS_SPEC.name
        done[state_spans.NAME] = state_spans.refresh(
            out_dir / state_spans.NAME,
            events_dir,
            lambda files: _rows_of(EVENTS_SPEC, events_dir, _paths(files)),
        )
    return Refreshed(done)


def _fingerprint(directory: Path) -> str:
    """The file set of a lake day folder: names, sizes, modification times."""
    entries = []
    with os.scandir(directory) as found:
        for entry in found:
            if entry.name.endswith(".parquet"):
                stat = entry.stat()
                entries.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def _definition(spec: Materialised, lake_dir: Path, staging_sql: str) -> str:
    text = "\n".join(
        [str(lake_dir.resolve()), staging_sql, *spec.key, spec.order, *spec.stored, LAYOUT]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _refresh(
    spec: Materialised, lake_dir: Path, out_dir: Path, staging_sql: str, lake_view: LakeView
) -> list[str]:
    directory = out_dir / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / STATE_FILE
    definition = _definition(spec, lake_dir, staging_sql)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    before: dict[str, str] = state.get("days", {}) if state.get("definition") == definition else {}
    now = {
        d.name.removeprefix(DAY_FILE_PREFIX): _fingerprint(d)
        for d in day_dirs(lake_dir, spec.lake_table)
    }
    existing = {p.stem.removeprefix(DAY_FILE_PREFIX) for p in directory.glob("day=*.parquet")}
    changed = sorted(
        day for day in set(now) | existing | set(before) if now.get(day, "") != before.get(day)
    )
    keys_changed = (
        spec.keyed and (out_dir / CUSTOMER_KEYS_SPEC.name / contact_keys.TOUCHED_FILE).exists()
    )
    if not changed and not keys_changed and (directory / SUPERSEDED_FILE).exists():
        return []
    files = [
        p
        for day in changed
        if day in now
        for p in sorted((lake_dir / spec.lake_table.name / f"day={day}").glob("*.parquet"))
    ]
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(lake_view(spec.lake_table, files))
        con.execute(f"create view {spec.staging} as {staging_sql}")
        con.execute(
            f"""create temp table fresh as
            select *{spec.stored_sql}, {spec.key_hash_sql} as {KEY_HASH} from {spec.staging}
            qualify row_number() over (
                partition by business_day, {", ".join(spec.key)} order by {spec.order}
            ) = 1"""
        )
        if spec.keyed:
            keys_dir = out_dir / CUSTOMER_KEYS_SPEC.name
            contact_keys.current_keys(con, _rows_sql(CUSTOMER_KEYS_SPEC, keys_dir))
            contact_keys.add_customer_keys(con)
        # The keys whose winner may have moved: those of the changed days, before and after.
        old_files = [directory / f"{DAY_FILE_PREFIX}{day}.parquet" for day in changed]
        old_files = [p for p in old_files if p.exists()]
        touched = "select distinct " + KEY_HASH + " from fresh"
        if old_files:
            touched += f" union select {KEY_HASH} from read_parquet({_paths(old_files)})"
        con.execute(f"create temp table touched as {touched}")
        for day in changed:
            _write_atomically(
                con,
                f"select * from fresh where business_day = date '{day}'",
                directory / f"{DAY_FILE_PREFIX}{day}.parquet",
            )
        _supersede(con, spec, directory, set(changed))
        if spec is CUSTOMER_KEYS_SPEC:
            contact_keys.write_touched(con, directory, old_files)
        if spec.keyed:
            contact_keys.rekey(con, directory, out_dir / CUSTOMER_KEYS_SPEC.name, set(changed))
    state_path.with_suffix(".tmp").write_text(
        json.dumps({"definition": definition, "days": now}, sort_keys=True)
    )
    os.replace(state_path.with_suffix(".tmp"), state_path)
    return changed


def _supersede(
    con: duckdb.DuckDBPyConnection, spec: Materialised, directory: Path, changed: set[str]
) -> None:
    """Rewrite ``_superseded.parquet``: the rows that lose to a row of another day, recomputed
    for the touched keys (their hashes are in the temp table ``touched``)."""
    others = [
        p
        for p in sorted(directory.glob("day=*.parquet"))
        if p.stem.removeprefix(DAY_FILE_PREFIX) not in changed
    ]
    candidates = "select * from fresh where " + KEY_HASH + " in (select * from touched)"
    if others:
        # First the hashes only (one small column of every other day), then the rows they match.
        con.execute(
            f"""create temp table elsewhere as
            select distinct business_day, {KEY_HASH} from read_parquet({_paths(others)})
            where {KEY_HASH} in (select * from touched)"""
        )
        days = [
            str(d) for (d,) in con.execute("select distinct business_day from elsewhere").fetchall()
        ]
        if days:
            files = [directory / f"{DAY_FILE_PREFIX}{d}.parquet" for d in days]
            candidates += (
                f" union all by name select * from read_parquet({_paths(files)}) "
                f"where {KEY_HASH} in (select {KEY_HASH} from elsewhere)"
            )
    losers = f"""select business_day, {KEY_HASH}, {spec.key_columns_sql()} from ({candidates})
        qualify row_number() over (partition by {", ".join(spec.key)} order by {spec.order}) > 1"""
    previous = directory / SUPERSEDED_FILE
    if previous.exists():
        losers += f""" union all by name select * from read_parquet({_paths([previous])})
            where {KEY_HASH} not in (select * from touched)"""
    _write_atomically(con, losers, previous)


# Every view over files of the intermediate directory, and the model its files are made from
# (the asset graph's edge, and where ``create_views`` puts it).
FILE_VIEWS: dict[str, str] = {spec.name: spec.staging for spec in MATERIALISED} | {
    state_spans.NAME: state_spans.DERIVED_FROM
}


def file_view_sql(name: str, intermediate_dir: Path) -> str:
    """The ``create view`` statement of the file view ``name`` (one of ``FILE_VIEWS``)."""
    if name == state_spans.NAME:
        return state_spans.view_sql(intermediate_dir / name)
    (spec,) = [spec for spec in MATERIALISED if spec.name == name]
    return materialised_view_sql(spec, intermediate_dir / name)


def materialised_view_sql(spec: Materialised, directory: Path) -> str:
    """The ``mat_*`` view: every day file's rows but the superseded ones; the staging view's
    rows of nothing while no day file exists (an empty lake table)."""
    name = spec.name
    if not any(directory.glob("day=*.parquet")):
        keyed = ", cast(null as varchar) as customer_key" if spec.keyed else ""
        return (
            f"create or replace view {name} as "
            f"select *{spec.stored_sql}{keyed} from {spec.staging} where false"
        )
    rows = _rows_sql(spec, directory)
    if spec.keyed:
        rows = contact_keys.rekeyed_sql(rows, directory / contact_keys.REKEYED_FILE)
    return f"create or replace view {name} as\n{rows}"


def _rows_sql(spec: Materialised, directory: Path) -> str | None:
    """Every day file's rows but the superseded ones; None while there is no day file."""
    if not any(directory.glob("day=*.parquet")):
        return None
    return _rows_of(spec, directory, _literal(str(directory.resolve() / "day=*.parquet")))


def _rows_of(spec: Materialised, directory: Path, files_sql: str) -> str:
    """The rows of the day files ``files_sql`` (a glob or a list) but the superseded ones.

    An anti join, not ``where not exists (...)``: DuckDB decorrelates that subquery into a
    join over every row of every day file before any filter of the reader's query applies,
    so ``contact_id = '...'`` or a day's filter read the whole history; a filter on the anti
    join's outer side is pushed into the Parquet scan (and a scalar subquery's value becomes
    a dynamic filter there), which then skips the files and row groups it excludes."""
    superseded = _literal(str(directory.resolve() / SUPERSEDED_FILE))
    return f"""select m.* exclude ({KEY_HASH}) from read_parquet({files_sql}, union_by_name = true) as m
anti join read_parquet({superseded}) as s on {spec.key_match_sql("m", "s")}"""
