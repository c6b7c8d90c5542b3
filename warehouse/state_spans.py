"""``int_agent_state_spans`` materialised per business day, next to the latest versions.

A span lasts from an agent's state change to the agent's next change, whatever the day: the
last span of an agent on day D ends at its first change of a later day. The view this replaces
ordered every state change of the history at each query. Here each build (after the ``mat_*``
files, ``warehouse.materialize``) keeps ``<intermediate>/mat_agent_state_spans/`` up to date:

- ``day=YYYY-MM-DD.parquet``: the spans that start on that business day (the changes of that
  ``mat_events`` day file, superseded copies left out), with their ends.
- ``_tails.parquet``: of each day, the spans that end on a later day or not yet (at most one per
  agent and day): which earlier days a new change can cut short.
- ``_state.json``: the fingerprint of each ``mat_events`` day the files were made from (that day
  file and that day's superseded rows), and of the definition.

Recomputed are the days whose events changed, plus each earlier day whose tail, for an agent
with a change on (or removed from) a changed day, ends on or after that day or has no end. A
day's spans never depend on an earlier day; they depend on a later day only through each agent's
first change there, which the recomputation reads from the later day's span file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from warehouse.parquet_sql import literal, paths, write_atomically

NAME = "mat_agent_state_spans"
DERIVED_FROM = "int_events"  # what the spans are computed from, for the asset graph
DAY_FILE_PREFIX = "day="
TAILS_FILE = "_tails.parquet"
STATE_FILE = "_state.json"
COLUMNS = (
    ("tenant", "varchar"),
    ("agent_id", "varchar"),
    ("state", "varchar"),
    ("started_at", "timestamp"),
    ("ended_at", "timestamp"),
    ("seconds", "double"),
    ("day", "date"),
)
# The state changes among rows of int_events (``{events}``), with their business day.
CHANGES_SQL = """select tenant, agent_id, attributes ->> 'state' as state, occurred_at, event_id,
    business_day
from ({events})
where event_type = 'agent.state_changed' and agent_id is not null and occurred_at is not null"""
# The spans of the changes of temp table ``changes``; each ends at the agent's next change there
# or at the first change of a later day (temp table ``later_firsts``), which only ends spans.
SPANS_SQL = """with ordered as (
    select *, true as own from changes
    union all by name
    select tenant, agent_id, first_at as occurred_at, false as own from later_firsts
),

spans as (
    select
        *,
        lead(occurred_at) over (
            partition by tenant, agent_id order by occurred_at, event_id
        ) as next_changed_at
    from ordered
),

final as (
    select
        tenant,
        agent_id,
        state,
        occurred_at as started_at,
        next_changed_at as ended_at,
        epoch(next_changed_at) - epoch(occurred_at) as seconds,
        cast(occurred_at as date) as "day",
        business_day
    from spans
    where own
)

select * from final"""
# The files' layout: another one recomputes every day.
LAYOUT = "spans-1"

# The rows of int_events in the given mat_events day files (warehouse.materialize).
EventRows = Callable[[list[Path]], str]


def refresh(directory: Path, events_dir: Path, event_rows: EventRows) -> list[str]:
    """Bring the span files under ``directory`` up to date with the ``mat_events`` files of
    ``events_dir``; the days recomputed."""
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / STATE_FILE
    definition = hashlib.sha256("\n".join([CHANGES_SQL, SPANS_SQL, LAYOUT]).encode()).hexdigest()
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    before: dict[str, str] = state.get("days", {}) if state.get("definition") == definition else {}
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        now = _inputs(con, events_dir)
        existing = {_day_of(p) for p in directory.glob(f"{DAY_FILE_PREFIX}*.parquet")}
        changed = {d for d in set(now) | set(before) | existing if now.get(d) != before.get(d)}
        if not changed:
            return []
        con.execute(f"create temp table changes as {_changes_sql(events_dir, event_rows, changed)}")
        cut_short = _cut_short(con, directory, changed & existing) - changed
        if cut_short:
            con.execute(f"insert into changes {_changes_sql(events_dir, event_rows, cut_short)}")
        days = changed | cut_short
        later = sorted(d for d in existing - days if d > min(days))
        firsts = (
            "select tenant, agent_id, min(started_at) as first_at "
            f'from read_parquet({paths(_files(directory, later))}) group by "day", tenant, agent_id'
            if later
            else "select '' as tenant, '' as agent_id, null::timestamp as first_at where false"
        )
        con.execute(f"create temp table later_firsts as {firsts}")
        con.execute(f"create temp table spans as {SPANS_SQL}")
        for day in sorted(days):
            target = directory / f"{DAY_FILE_PREFIX}{day}.parquet"
            if day in now:
                write_atomically(
                    con,
                    f"select * exclude (business_day) from spans where business_day = date '{day}'",
                    target,
                )
            else:
                target.unlink(missing_ok=True)
        _write_tails(con, directory, days, set(now))
    state_path.with_suffix(".tmp").write_text(
        json.dumps({"definition": definition, "days": now}, sort_keys=True)
    )
    os.replace(state_path.with_suffix(".tmp"), state_path)
    return sorted(days)


def _inputs(con: duckdb.DuckDBPyConnection, events_dir: Path) -> dict[str, str]:
    """Per ``mat_events`` day: its day file (size, modification time) and superseded rows."""
    superseded = events_dir / "_superseded.parquet"
    digests: dict[str, str] = {}
    if superseded.exists():
        digests = dict(
            con.execute(
                f"""select cast(business_day as varchar), md5(string_agg(
                    concat_ws(':', _key_hash, _k0, _k1), ',' order by _key_hash, _k0, _k1))
                from read_parquet({paths([superseded])}) group by all"""
            ).fetchall()
        )
    now = {}
    for path in events_dir.glob(f"{DAY_FILE_PREFIX}*.parquet"):
        stat = path.stat()
        day = _day_of(path)
        now[day] = f"{stat.st_size}:{stat.st_mtime_ns}:{digests.get(day, '')}"
    return now


def _cut_short(con: duckdb.DuckDBPyConnection, directory: Path, rewritten: set[str]) -> set[str]:
    """The other days whose tail a change of the changed days (in temp table ``changes``, or
    gone with the previous span files of ``rewritten``) may end earlier or later."""
    tails = directory / TAILS_FILE
    if not tails.exists():
        return set()
    agents = 'select distinct tenant, agent_id, business_day as "day" from changes'
    if rewritten:
        previous = paths(_files(directory, rewritten))
        agents += f' union select distinct tenant, agent_id, "day" from read_parquet({previous})'
    found = con.execute(
        f"""select distinct cast(t."day" as varchar)
        from read_parquet({paths([tails])}) as t
        inner join ({agents}) as a on a.tenant = t.tenant and a.agent_id = t.agent_id
        where t."day" < a."day"
            and (t.ended_at is null or cast(t.ended_at as date) >= a."day")"""
    ).fetchall()
    return {day for (day,) in found}


def _write_tails(
    con: duckdb.DuckDBPyConnection, directory: Path, days: set[str], kept: set[str]
) -> None:
    """``_tails.parquet``: the recomputed days' tails, and the other days' as they were."""
    rows = """select tenant, agent_id, ended_at, day from spans
        where ended_at is null or cast(ended_at as date) > day"""
    tails = directory / TAILS_FILE
    if tails.exists():
        others = sorted(kept - days)
        rows += f""" union all select tenant, agent_id, ended_at, day
            from read_parquet({paths([tails])})
            where cast(day as varchar) in ({", ".join(literal(d) for d in others) or "null"})"""
    write_atomically(con, rows, tails)


def _changes_sql(events_dir: Path, event_rows: EventRows, days: set[str]) -> str:
    """The state changes of the events of those days that have a ``mat_events`` file."""
    files = [p for p in _files(events_dir, days) if p.exists()]
    if not files:
        return (
            "select null::varchar as tenant, null::varchar as agent_id, null::varchar as state, "
            "null::timestamp as occurred_at, null::varchar as event_id, "
            "null::date as business_day where false"
        )
    return CHANGES_SQL.format(events=event_rows(files))


def _files(directory: Path, days: set[str] | list[str]) -> list[Path]:
    return [directory / f"{DAY_FILE_PREFIX}{day}.parquet" for day in sorted(days)]


def _day_of(path: Path) -> str:
    return path.stem.removeprefix(DAY_FILE_PREFIX)


def view_sql(directory: Path) -> str:
    """The ``mat_agent_state_spans`` view over the day files (no rows while there is none)."""
    if not any(directory.glob(f"{DAY_FILE_PREFIX}*.parquet")):
        columns = ", ".join(f"cast(null as {kind}) as {name}" for name, kind in COLUMNS)
        return f"create or replace view {NAME} as select {columns} where false"
    files = literal(str(directory.resolve() / f"{DAY_FILE_PREFIX}*.parquet"))
    return f"create or replace view {NAME} as select * from read_parquet({files})"
