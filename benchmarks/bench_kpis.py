"""Full KPI refresh of a 500-agent centre, for 1 day and for 30 days: the DuckDB marts
(``warehouse.kpi_marts.refresh_marts`` + ``warehouse.kpis.kpi_values``) beside the same KPIs
computed by a straightforward pandas implementation on the same data, in the same run.

The intermediate layer (``int_*``) is synthetic, generated with numpy and loaded through
pyarrow: about 40 contacts per agent a day over five channels, with queues, abandons, holds,
transfers, surveys, repeat customers and agent state spans. The stream's journeys are made
beforehand by the marts' own SQL recomputation (not timed). Prints the seconds of each side
(the churn mart, which pandas does not compute, apart), the ratio, the same in CPU seconds (every
thread of the process: steadier than wall time on a shared machine), the largest difference
between the two sides' KPI values as a sanity check, then the seconds of each DuckDB step; for
more than one day, also each step of a refresh of the last day alone over that history.

    .venv/bin/python benchmarks/bench_kpis.py [--agents 500] [--days 1 30]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.settings import Settings, load_settings
from warehouse.kpi_inputs import INPUTS
from warehouse.kpi_marts import MARTS, mart_sql, prepare_marts, refresh_mart
from warehouse.kpis import kpi_values

START = date(2026, 1, 5)
DAY_MS = 86_400_000
CHANNELS = np.array(["voice", "chat", "email", "sms", "social"])
CHANNEL_SHARES = [0.55, 0.2, 0.15, 0.05, 0.05]
MEAN_WAIT_S = np.array([25.0, 40.0, 3 * 3600.0, 600.0, 600.0])  # by channel
DISPOSITIONS = np.array(["resolved", "unresolved", "follow_up", "escalated"])
TENANTS = np.array(["acme", "globex", "initech"])


def _ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS


def synthetic_layer(agents: int, days: int, seed: int = 7) -> dict[str, pa.Table]:
    """The int_* tables the marts read, for ``days`` days from START."""
    rng = np.random.default_rng(seed)
    n = agents * 40 * days
    start = _ms(START) + np.sort(rng.integers(0, days * DAY_MS, n))
    channel_index = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARES)
    channel = CHANNELS[channel_index]
    tenant_index = rng.integers(0, len(TENANTS), n)
    customer = rng.integers(0, max(1000, n // 3), n)  # about three contacts per customer
    agent = tenant_index * (agents // 3) + rng.integers(0, agents // 3, n)
    inbound = rng.random(n) < 0.95
    deflected = (channel == "voice") & inbound & (rng.random(n) < 0.08)
    queued = np.where(deflected, -1, start + rng.integers(2_000, 60_000, n))
    abandons = ~deflected & (rng.random(n) < 0.06)
    abandoned = np.where(abandons, queued + rng.exponential(60_000, n).astype(np.int64), -1)
    waits = (rng.exponential(1.0, n) * MEAN_WAIT_S[channel_index] * 1000).astype(np.int64)
    answered = np.where(deflected | abandons, -1, queued + waits)
    holds = np.where(rng.random(n) < 0.2, rng.integers(10_000, 120_000, n), 0)
    talk = rng.exponential(300_000, n).astype(np.int64) + 20_000
    ended = np.where(answered >= 0, answered + talk + holds, -1)
    wrapped = np.where(ended >= 0, ended + rng.integers(10_000, 60_000, n), -1)
    transferred = (answered >= 0) & (rng.random(n) < 0.1)
    warm = transferred & (rng.random(n) < 0.5)
    handled = ended >= 0

    def times(ms: np.ndarray) -> pa.Array:
        return pa.array(np.where(ms >= 0, ms, 0), pa.timestamp("ms"), mask=ms < 0)

    ids = np.char.add("c", np.arange(n).astype(str))
    customer_key = np.char.add("k", customer.astype(str))
    contacts = pa.table(
        {
            "contact_id": ids,
            "tenant": TENANTS[tenant_index],
            "channel": channel,
            "direction": np.where(inbound, "inbound", "outbound"),
            "customer_key": customer_key,
            "first_queue": pa.array(
                np.char.add(np.char.add(TENANTS[tenant_index], "."), channel), mask=deflected
            ),
            "first_agent": pa.array(np.char.add("a", agent.astype(str)), mask=answered < 0),
            "started_at": times(start),
            "first_queued_at": times(queued),
            "answered_at": times(answered),
            "ended_at": times(ended),
            "wrapped_up_at": times(wrapped),
            "abandoned_at": times(abandoned),
            "talk_seconds": pa.array(talk / 1000, mask=~handled),
            "hold_seconds": holds / 1000,
            "acw_seconds": pa.array((wrapped - ended) / 1000, mask=~handled),
            "transfers": transferred.astype(np.int32),
            "warm_transfers": warm.astype(np.int32),
            "cold_transfers": (transferred & ~warm).astype(np.int32),
            "deflected": deflected,
            "deflection_cause": pa.array(
                np.where(rng.random(n) < 0.5, "front_end_message", "self_service"),
                mask=~deflected,
            ),
            "disposition": pa.array(
                DISPOSITIONS[rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])], mask=~handled
            ),
            "resolvable_in_one_contact": rng.random(n) > 0.05,
            "cancellation_intent": rng.random(n) < 0.02,
            "status": np.full(n, "closed"),
        }
    )
    surveyed = np.flatnonzero(handled & inbound & (rng.random(n) < 0.1))
    surveys = pa.table(
        {
            "event_id": np.char.add("s", surveyed.astype(str)),
            "contact_id": ids[surveyed],
            "tenant": TENANTS[tenant_index[surveyed]],
            "channel": channel[surveyed],
            "survey_at": times(wrapped[surveyed] + 60_000),
            "nps": rng.integers(0, 11, len(surveyed)).astype(np.int32),
            "csat": rng.integers(1, 6, len(surveyed)).astype(np.int32),
            "ces": rng.integers(1, 8, len(surveyed)).astype(np.int32),
        }
    )
    opted_out = np.flatnonzero(rng.random(n) < 0.002)
    events = pa.table(
        {
            "event_id": np.concatenate(
                [np.char.add(ids, ":started"), np.char.add("o", ids[opted_out])]
            ),
            "event_type": np.concatenate(
                [np.full(n, "contact.started"), np.full(len(opted_out), "customer.opted_out")]
            ),
            "occurred_at": times(np.concatenate([start, start[opted_out] + 1000])),
            "tenant": TENANTS[np.concatenate([tenant_index, tenant_index[opted_out]])],
            "customer_ids": [
                [f"phone:{c}"] for c in np.concatenate([customer, customer[opted_out]])
            ],
            "channel": np.full(n + len(opted_out), "voice"),
            "contact_id": np.concatenate([ids, ids[opted_out]]),
            # no outbound attempt here; opt-outs of scope `all` (the default of a missing scope)
            "attributes": pa.array([None] * (n + len(opted_out)), type=pa.string()),
        }
    )
    keys = np.unique(customer)
    customer_keys = pa.table(
        {
            "tenant": TENANTS[keys % len(TENANTS)],
            "identifier": np.char.add("phone:", keys.astype(str)),
            "customer_key": np.char.add("k", keys.astype(str)),
        }
    )
    return {
        "int_contacts": contacts,
        "int_surveys": surveys,
        "int_events": events,
        "int_customer_keys": customer_keys,
        "int_agent_state_spans": _spans(rng, agents, days),
    }


def _spans(rng: np.random.Generator, agents: int, days: int) -> pa.Table:
    """An 8-hour shift per agent and day: cycles of available, busy and after-contact work."""
    cycles = 64
    per_day = agents * cycles * 3
    durations = np.stack(
        [
            rng.exponential(120_000, (days, agents, cycles)),
            rng.exponential(300_000, (days, agents, cycles)),
            rng.exponential(30_000, (days, agents, cycles)),
        ],
        axis=-1,
    ).astype(np.int64)
    shift_start = (
        _ms(START)
        + np.arange(days)[:, None] * DAY_MS
        + rng.integers(6, 14, (days, agents)) * 3_600_000
    )
    ends = shift_start[..., None] + np.cumsum(durations.reshape(days, agents, -1), axis=-1)
    starts = ends - durations.reshape(days, agents, -1)
    day_of = np.repeat(np.arange(days), per_day)
    agent_ids = np.char.add("a", np.arange(agents).astype(str))
    return pa.table(
        {
            "tenant": np.tile(
                np.repeat(TENANTS[np.arange(agents) * 3 // agents], cycles * 3), days
            ),
            "agent_id": np.tile(np.repeat(agent_ids, cycles * 3), days),
            "state": np.tile(
                np.array(["available", "busy", "after_contact_work"]), days * agents * cycles
            ),
            "started_at": pa.array(starts.ravel(), pa.timestamp("ms")),
            "ended_at": pa.array(ends.ravel(), pa.timestamp("ms")),
            "seconds": (ends - starts).ravel() / 1000,
            "day": pa.array(np.datetime64(START, "D") + day_of.astype("timedelta64[D]")),
        }
    )


def load(con: duckdb.DuckDBPyConnection, layer: dict[str, pa.Table], settings: Settings) -> None:
    """The int_* tables, and the stream's journeys made by the SQL recomputation."""
    for name, table in layer.items():
        con.register("incoming", table)
        con.execute(f"create or replace table {name} as select * from incoming")
        con.unregister("incoming")
    # kpi_journeys reads int_journeys, made below from the SQL journeys: empty until then
    typed = ", ".join(f'"{name}" {kind}' for name, kind in INPUTS["int_journeys"].items())
    con.execute(f"create table int_journeys ({typed})")
    prepare_marts(con, settings)
    everything = {"date_from": date(2000, 1, 1), "date_to": date(2100, 1, 1)}
    con.execute(
        "create or replace table int_journeys as "
        "select journey_id, customer_key, tenant, first_contact_id, first_started_at, "
        "contact_ids, resolved_at_first_contact, first_contact_resolvable_in_one_contact, "
        "cast(null as varchar) as last_disposition, day as first_started_day, "
        "cast(contact_count as integer) "
        "as contact_count, [channel] as channels "
        f"from ({mart_sql('mart_journeys_recomputed')}) where scope = 'cross_channel'",
        everything,
    )


Seconds = tuple[float, float]  # wall, CPU (every thread of the process)


@contextmanager
def timed(steps: dict[str, Seconds], name: str) -> Iterator[None]:
    """Add the wall and CPU seconds of the block to ``steps[name]``."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    steps[name] = (time.perf_counter() - wall, time.process_time() - cpu)


def duckdb_kpis(con, date_from, date_to, settings) -> tuple[dict[str, float], dict[str, Seconds]]:
    """KPI values overall, and the seconds of each step: the knobs and views, each mart, the
    KPI values."""
    steps: dict[str, Seconds] = {}
    with timed(steps, "prepare_marts"):
        prepare_marts(con, settings)
    for mart in MARTS:
        if mart.day_column is not None:
            with timed(steps, mart.name):
                refresh_mart(con, mart.name, date_from, date_to)
    with timed(steps, "kpi_values"):
        rows = kpi_values(con, date_from, date_to, [], settings)
    return {r["kpi"]: r["value"] for r in rows}, steps


def pandas_kpis(layer: dict[str, pd.DataFrame], date_from, date_to, settings) -> dict[str, float]:
    """The same KPIs, overall, the obvious way with pandas."""
    k = settings.kpis
    c = layer["int_contacts"]
    c = c[_in_days(c["started_at"], date_from, date_to)]
    inbound = c["direction"] != "outbound"
    queued = c["first_queued_at"].notna()
    wait = (c["answered_at"] - c["first_queued_at"]).dt.total_seconds()
    abandon_wait = (c["abandoned_at"] - c["first_queued_at"]).dt.total_seconds()
    short = c["abandoned_at"].notna() & queued & (abandon_wait < k.short_abandon_seconds)
    offered = inbound & queued & ~short
    abandoned = offered & c["abandoned_at"].notna()
    answered = inbound & queued & c["answered_at"].notna()
    threshold = c["channel"].map(k.service_level_seconds)
    handled = inbound & c["answered_at"].notna() & c["ended_at"].notna()
    handle = c["talk_seconds"].fillna(0) + c["hold_seconds"] + c["acw_seconds"].fillna(0)
    digital = inbound & (c["channel"] != "voice") & c["answered_at"].notna()
    first_response = (c["answered_at"] - c["started_at"]).dt.total_seconds()[digital]
    voice = inbound & (c["channel"] == "voice")
    met = (answered & (wait <= threshold)).sum()
    out = {
        "offered.v1": offered.sum(),
        "asa.v1": wait[answered].sum() / answered.sum(),
        "service_level.v1": met / (answered.sum() + abandoned.sum()),
        "abandon_rate.v1": abandoned.sum() / offered.sum(),
        "aht.v1": handle[handled].sum() / handled.sum(),
        "transfer_rate.v1": (handled & (c["transfers"] > 0)).sum() / handled.sum(),
        "first_response.v1": first_response.quantile(0.5),
        "first_response.v1.p90": first_response.quantile(0.9),
        "ivr_containment.v1": (voice & c["deflected"]).sum() / voice.sum(),
    }
    spans = layer["int_agent_state_spans"]
    spans = spans[_in_days(spans["day"], date_from, date_to)]
    by_state = spans.groupby("state")["seconds"].sum()
    working = by_state.get("busy", 0) + by_state.get("after_contact_work", 0)
    out["occupancy.v1"] = working / (working + by_state.get("available", 0))
    journeys = layer["int_journeys"]
    journeys = journeys[_in_days(journeys["first_started_day"], date_from, date_to)]
    resolved = journeys["resolved_at_first_contact"].sum()
    out["fcr.v1"] = resolved / len(journeys)
    out["fcr_net.v1"] = resolved / journeys["first_contact_resolvable_in_one_contact"].sum()
    out["repeat_rate.v1"] = journeys["contact_count"].sum() / len(journeys)
    out["fcr_channel.v1"] = _channel_fcr(layer["int_contacts"], date_from, date_to, settings)
    s = layer["int_surveys"].merge(c.loc[inbound, ["contact_id"]], on="contact_id")
    out["nps.v1"] = 100 * ((s["nps"] >= 9).sum() - (s["nps"] <= 6).sum()) / s["nps"].count()
    out["csat.v1"] = (s["csat"] >= 4).sum() / s["csat"].count()
    out["ces.v1"] = s["ces"].mean()
    return {name: float(value) for name, value in out.items()}


def _in_days(times: pd.Series, date_from: date, date_to: date) -> pd.Series:
    return times.dt.normalize().between(pd.Timestamp(date_from), pd.Timestamp(date_to))


def _channel_fcr(contacts: pd.DataFrame, date_from, date_to, settings: Settings) -> float:
    """fcr_channel.v1: journeys per customer and channel, the pandas way."""
    k = settings.kpis
    c = contacts[contacts["direction"] != "outbound"].copy()
    abandon_wait = (c["abandoned_at"] - c["first_queued_at"]).dt.total_seconds()
    short = c["abandoned_at"].notna() & (abandon_wait < k.short_abandon_seconds)
    c = c[~c["deflected"] & ((c["first_queued_at"].notna() & ~short) | c["answered_at"].notna())]
    c["end"] = (
        c["wrapped_up_at"].fillna(c["ended_at"]).fillna(c["abandoned_at"]).fillna(c["started_at"])
    )
    c = c.sort_values(["tenant", "customer_key", "channel", "started_at", "contact_id"])
    group = c.groupby(["tenant", "customer_key", "channel"], sort=False)
    gap = (c["started_at"] - group["end"].shift()).dt.total_seconds()
    c["journey"] = (gap.isna() | (gap > k.repeat_window_days * 86400)).cumsum()
    sizes = c.groupby("journey").size()
    firsts = c.drop_duplicates("journey").set_index("journey")  # sorted: the first contacts
    firsts = firsts[_in_days(firsts["started_at"], date_from, date_to)]
    resolved = (
        firsts["answered_at"].notna()
        & firsts["ended_at"].notna()
        & (firsts["disposition"] == "resolved")
        & (sizes[firsts.index] == 1)
    )
    return resolved.sum() / len(firsts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 30])
    args = parser.parse_args()
    settings = load_settings(environ={}, config_file=None)
    for days in args.days:
        layer = synthetic_layer(args.agents, days)
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        load(con, layer, settings)
        frames = {name: con.table(name).df() for name in (*layer, "int_journeys")}
        date_from, date_to = START, START + timedelta(days=days - 1)
        ours, steps = duckdb_kpis(con, date_from, date_to, settings)
        pandas_steps: dict[str, Seconds] = {}
        with timed(pandas_steps, "pandas"):
            theirs = pandas_kpis(frames, date_from, date_to, settings)
        pandas_seconds, pandas_cpu = pandas_steps["pandas"]
        churn_seconds, churn_cpu = steps.pop("mart_churn_risk")
        seconds = sum(wall for wall, _ in steps.values())
        cpu = sum(cpu for _, cpu in steps.values())
        worst = max(abs(ours[kpi] - value) / max(abs(value), 1e-9) for kpi, value in theirs.items())
        contacts = layer["int_contacts"].num_rows
        print(
            f"{days:>2} day(s), {args.agents} agents, {contacts} contacts, "
            f"{layer['int_agent_state_spans'].num_rows} spans: "
            f"DuckDB marts + kpi_values {seconds:.2f} s (+ churn mart {churn_seconds:.2f} s), "
            f"pandas {pandas_seconds:.2f} s, ratio pandas/DuckDB {pandas_seconds / seconds:.1f}x; "
            f"CPU seconds {cpu:.2f} (+ churn {churn_cpu:.2f}) and {pandas_cpu:.2f}, "
            f"ratio {pandas_cpu / cpu:.1f}x; "
            f"largest relative difference of {len(theirs)} KPIs: {worst:.1e}"
        )
        for name, (wall, step_cpu) in {
            **steps,
            "mart_churn_risk": (churn_seconds, churn_cpu),
        }.items():
            print(f"    {name:<30} {wall:6.2f} s  CPU {step_cpu:6.2f} s")
        if days > 1:
            # What a refresh of the last day alone costs with the others' history in place.
            _, one_day = duckdb_kpis(con, date_to, date_to, settings)
            total_wall = sum(wall for wall, _ in one_day.values())
            total_cpu = sum(step_cpu for _, step_cpu in one_day.values())
            print(f"  one-day refresh of the last day: {total_wall:.2f} s, CPU {total_cpu:.2f} s")
            for name, (wall, step_cpu) in one_day.items():
                print(
                    f"    {name:<30} {wall:6.2f} s  CPU {step_cpu:6.2f} s  "
                    f"({wall / total_wall:4.0%} of the wall time)"
                )


if __name__ == "__main__":
    main()
