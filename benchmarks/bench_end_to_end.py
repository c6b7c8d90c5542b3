"""The whole product on a configurable size: simulate days x agents into Kafka, run the stream
worker(s) and the lake sink as ``omnicx up`` runs them, refresh through Dagster, then measure
freshness and analyst queries. Prints figures; asserts nothing.

1. Backfill: ``omnicx simulate --to kafka --no-faults`` produces every day first (a clean
   feed: the simulator's malformed messages are dead letters of the day they are sent, today,
   where the probes of step 2 are the only events, so the blocking dead-letter check would
   stop the refresh of today's marts); then the worker(s) and the
   sink start together. Stream: raw messages / seconds until the stream group's lag is 0. Sink:
   rows landed / seconds until every lake topic's lag is 0 (it starts with the stream, so it
   cannot finish before it). Refresh: one Dagster run over every day (``omnicx refresh``), then
   a one-day incremental refresh of the last day.
2. Freshness: probe contacts are produced one every ``--probe-every`` seconds while the worker
   and the sink keep running and the refresh loop of ``omnicx refresh --follow`` (the ``refresh``
   service of ``omnicx up``) looks at the lake every ``--every`` seconds with its own code
   (``orchestration.follow.refresh_landed``: the days of the files that landed since its last
   look, as the ``new_lake_data`` sensor refreshes them); each probe's freshness is the time
   from its production to the end of the first run after which ``int_contacts`` (and so the
   marts of its day, refreshed by the same run) shows it.
3. Analyst queries: a fixed set of representative queries through ``omnicx sql``'s locked
   connection, median of three, beside the same contact query through the window over every
   raw version that ``int_contacts`` ran per query before it was materialised (the baseline).
4. Peak RSS of the worker, the sink and this process (the refresh).

    .venv/bin/omnicx kafka start   # the broker the settings name
    .venv/bin/python -m benchmarks.bench_end_to_end --days 1 --agents 500 --json e2e.json
    .venv/bin/python -m benchmarks.bench_end_to_end --days 7 --agents 500 --compare e2e.json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from orchestration.automation import landed_since
from orchestration.commands.refresh import run_refresh
from orchestration.follow import refresh_landed
from orchestration.kafka.lag import consumer_lag, wait_until_caught_up
from pipelines.kafka_io import producer
from pipelines.simulator.catalog import TENANT_NAMES
from schemas.settings import Settings, load_settings, with_overrides
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.harness import REPO, OmnicxProcess, isolated_settings, omnicx_command
from warehouse.query import connect_analyst, run
from warehouse.tables import LAKE_TABLES

# The representative analyst queries; {day} is the last simulated day.
QUERIES = {
    "contacts of a day by tenant x channel": """
        select tenant, channel, count(*) as contacts, avg(talk_seconds) as talk
        from int_contacts where started_day = date '{day}' group by all""",
    "one contact and its events": """
        select e.event_type, e.occurred_at from int_events e
        where e.contact_id = (select min(contact_id) from int_contacts
                              where started_day = date '{day}')""",
    "events of a day by type": """
        select event_type, count(*) from int_events
        where occurred_at >= date '{day}' and occurred_at < date '{day}' + 1 group by 1""",
    "journeys of a day": """
        select count(*), avg(contact_count) from int_journeys
        where first_started_day = date '{day}'""",
    "events over the whole history": "select count(*), count(distinct contact_id) from int_events",
    "daily offered and answered, every day (mart)": """
        select day, tenant, sum(offered), sum(answered) from mart_contact_kpis_hourly
        group by all order by all""",
}
# The baseline: int_contacts' day query over the window int_contacts ran per query before.
FROM_RAW = """
    select tenant, channel, count(*) as contacts, avg(talk_seconds) as talk from (
        select * from stg_contact_versions
        qualify row_number() over (partition by contact_id
            order by version desc, _kafka_timestamp desc, _kafka_offset desc) = 1
    ) where cast(started_at as date) = date '{day}' group by all"""


def refresh(settings: Settings, first: date, last: date) -> bool:
    """One ``omnicx refresh`` run; whether it succeeded (a failed step's error is printed)."""

    def on_event(entry) -> None:
        event = entry.dagster_event
        if event is not None and event.is_step_failure:
            print(f"refresh step failed: {event.step_failure_data.error.to_string()[:2000]}")

    return run_refresh(settings, first, last, None, on_event).success


def peak_rss_mb(pid: int) -> float:
    """The largest VmHWM of a running process and its descendants (``omnicx stream`` runs the
    worker as a child), in MiB."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            peak = max(peak, peak_rss_mb(int(child)))
    return peak


def simulate(settings: Settings, args: argparse.Namespace) -> tuple[int, float]:
    """Produce the simulated days into the raw topic; messages and seconds."""
    command = omnicx_command(
        settings,
        "simulate",
        *("--seed", "7", "--days", str(args.days), "--agents", str(args.agents)),
        *("--start", args.start.isoformat(), "--to", "kafka", "--no-progress", "--no-faults"),
    )
    env = {**settings_env(settings)}
    began = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, env={**_os_env(), **env}, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - began
    count = int(done.stdout.split()[1])  # "sent N messages (...)"
    return count, seconds


def _os_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def backfill(settings: Settings, workers: int) -> tuple[dict, list[OmnicxProcess], OmnicxProcess]:
    """Start the worker(s) and the sink; the stages' seconds once each caught up."""
    began = time.perf_counter()
    procs = [
        OmnicxProcess(settings, "stream", "--worker", f"w{n}", log_name=f"stream-w{n}")
        for n in range(workers)
    ]
    sink = OmnicxProcess(settings, "sink", "--instance-id", "bench", log_name="sink")
    names = topic_names(settings)
    lag = wait_until_caught_up(
        settings, settings.stream.app_id, [names.raw_events, names.identity], 3600
    )
    if any(lag.values()):
        raise SystemExit(f"the stream did not catch up: {procs[0].log_tail()}")
    stream_seconds = time.perf_counter() - began
    topics = [t.topic_name(settings) for t in LAKE_TABLES]
    lag = wait_until_caught_up(settings, settings.warehouse.sink_group_id, topics, 3600)
    if any(lag.values()):
        raise SystemExit(f"the sink did not catch up: {sink.log_tail()}")
    sink_seconds = time.perf_counter() - began
    return {"stream_seconds": stream_seconds, "sink_seconds": sink_seconds}, procs, sink


def landed_rows(settings: Settings) -> int:
    import duckdb

    with duckdb.connect() as con:
        total = 0
        for table in LAKE_TABLES:
            files = list((settings.lake_dir / table.name).glob("day=*/*.parquet"))
            if files:
                paths = [str(p) for p in files]
                total += con.execute(
                    "select count(*) from (select distinct _kafka_partition, _kafka_offset "
                    "from read_parquet(?, union_by_name = true))",
                    [paths],
                ).fetchone()[0]
    return total


def freshness(settings: Settings, args: argparse.Namespace, tenant: str) -> list[float]:
    """Seconds from each probe's production to its first refresh showing it in int_contacts."""
    client = producer(settings)
    topic = topic_names(settings).raw_events
    run_id = uuid.uuid4().hex[:6]
    sent: dict[str, float] = {}
    stop = threading.Event()

    def send() -> None:
        for n in range(args.probes):
            contact = f"probe-{run_id}-{n}"
            now = datetime.now(UTC)
            # A contact is published once closed: started, then deflected (self-service).
            for suffix, event_type, attributes in (
                ("started", "contact.started", {}),
                ("deflected", "contact.deflected", {"cause": "self_service"}),
            ):
                event = {
                    "event_id": f"{contact}-{suffix}",
                    "event_type": event_type,
                    "schema_version": 1,
                    "occurred_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "tenant": tenant,
                    "channel": "chat",
                    "direction": "inbound",
                    "contact_id": contact,
                    "customer": {"customer_id": contact},
                    "attributes": attributes,
                }
                client.send(topic, key=contact.encode(), value=orjson.dumps(event))
            client.flush()
            sent[contact] = time.monotonic()
            if stop.wait(args.probe_every):
                return

    sender = threading.Thread(target=send)
    sender.start()
    visible: dict[str, float] = {}
    deadline = time.monotonic() + args.probes * args.probe_every + 600
    seen, _ = landed_since(settings.lake_dir, 0.0)  # the backfill's files are refreshed already
    while len(visible) < args.probes and time.monotonic() < deadline:
        seen, runs = refresh_landed(settings, None, seen)
        if runs:
            done = time.monotonic()
            for failed in [r for r in runs if not r.result.success]:
                print(f"refresh of {failed.first}..{failed.last} failed")
            with connect_analyst(settings) as con:
                found = run(
                    con,
                    f"select contact_id from int_contacts where contact_id like 'probe-{run_id}-%'",
                )
            for (contact,) in found.rows:
                visible.setdefault(contact, done)
        time.sleep(args.every)
    stop.set()
    sender.join()
    client.close()
    return [visible[c] - sent[c] for c in sent if c in visible]


def queries(settings: Settings, day: date) -> dict[str, float]:
    timings: dict[str, float] = {}
    with connect_analyst(settings) as con:
        for name, sql in [*QUERIES.items(), ("baseline: " + next(iter(QUERIES)), FROM_RAW)]:
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                run(con, sql.format(day=day))
                runs.append(time.perf_counter() - began)
            timings[name] = statistics.median(runs)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 5))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--probes", type=int, default=6)
    parser.add_argument("--probe-every", type=float, default=10.0)
    parser.add_argument(
        "--every", type=float, default=30.0, help="seconds between two looks of the refresh loop"
    )
    parser.add_argument("--sink-batch-seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--compare", type=Path, help="a previous run's --json, for ratios")
    args = parser.parse_args()
    figures: dict = {"config": {"days": args.days, "agents": args.agents, "workers": args.workers}}
    with tempfile.TemporaryDirectory(prefix="omnicx-e2e-") as home:
        settings = isolated_settings(load_settings(), Path(home))
        settings = with_overrides(
            settings,
            warehouse={
                "sink_group_id": f"e2e-sink-{uuid.uuid4().hex[:8]}",
                "sink_batch_seconds": args.sink_batch_seconds,
            },
        )
        messages, simulate_seconds = simulate(settings, args)
        stages, procs, sink = backfill(settings, args.workers)
        try:
            rows = landed_rows(settings)
            last = args.start + timedelta(days=args.days - 1)
            began = time.perf_counter()
            figures["config"]["refresh_succeeded"] = refresh(settings, args.start, last)
            refresh_seconds = time.perf_counter() - began
            began = time.perf_counter()
            figures["config"]["one_day_refresh_succeeded"] = refresh(settings, last, last)
            one_day_seconds = time.perf_counter() - began
            with connect_analyst(settings) as con:
                contacts = run(con, "select count(*) from int_contacts").rows[0][0]
            figures["backfill"] = {
                "raw_messages": messages,
                "contacts": contacts,
                "lake_rows": rows,
                "simulate_msgs_per_s": messages / simulate_seconds,
                "stream_msgs_per_s": messages / stages["stream_seconds"],
                "sink_rows_per_s": rows / stages["sink_seconds"],
                "stream_seconds": stages["stream_seconds"],
                "sink_seconds": stages["sink_seconds"],
                "refresh_all_days_seconds": refresh_seconds,
                "refresh_one_day_seconds": one_day_seconds,
            }
            figures["queries_seconds"] = queries(settings, last)
            fresh = freshness(settings, args, TENANT_NAMES[0])
            figures["freshness_seconds"] = {
                "probes": len(fresh),
                "p50": percentile(fresh, 0.5) if fresh else None,
                "p95": percentile(fresh, 0.95) if fresh else None,
                "max": max(fresh) if fresh else None,
            }
            figures["peak_rss_mb"] = {
                **{f"worker_{n}": peak_rss_mb(p.process.pid) for n, p in enumerate(procs)},
                "sink": peak_rss_mb(sink.process.pid),
                "refresh_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
            lag = consumer_lag(settings, settings.stream.app_id, [topic_names(settings).raw_events])
            figures["config"]["stream_lag_at_end"] = sum(lag.values())
        finally:
            for proc in [*procs, sink]:
                proc.stop()
    report(figures, json.loads(args.compare.read_text()) if args.compare else None)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


def report(figures: dict, previous: dict | None) -> None:
    """Each figure, and its ratio to the previous run's when given."""
    for section, values in figures.items():
        print(f"{section}:")
        for name, value in values.items():
            old = (previous or {}).get(section, {}).get(name)
            text = f"{value:,.3f}" if isinstance(value, float) else str(value)
            if isinstance(value, int | float) and isinstance(old, int | float) and old:
                text += f"   (previous {old:,.3f}, x{value / old:.2f})"
            print(f"  {name:55} {text}")
    if "queries_seconds" in figures:
        q = figures["queries_seconds"]
        base = q.get("baseline: " + next(iter(QUERIES)))
        if base:
            print(
                f"int_contacts day query: x{base / q[next(iter(QUERIES))]:.1f} faster than the window over raw versions"
            )


if __name__ == "__main__":
    sys.exit(main())
