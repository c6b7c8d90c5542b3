"""Does the churn-risk score catch real churners? The flags of ``mart_churn_risk`` on simulated
weeks, judged against the simulator's churn outcome (docs/simulator.md, Churn outcome).

Simulates ``--weeks`` of a centre (no feed faults), loads the intermediate layer the marts read
(``int_contacts``, ``int_journeys``, ``int_surveys``, the opt-outs of ``int_events``,
``int_customer_keys``) into an in-memory DuckDB from the simulator's contact and journey facts
and its survey and opt-out events, as ``bench_kpis.py`` does, then refreshes ``mart_churn_risk``
for every as-of day of the run under each weighting and prints, per weighting:

- flagged: customers flagged on at least one as-of day (their first flag counts, published at
  the end of that as-of day, as a daily refresh would);
- precision: flagged customers who churn after their first flag / flagged customers;
- recall: churners flagged before they churn / churners;
- lift: precision / the base churn rate (churners / customers with an inbound contact);
- lead time: median days from the first flag to the churn, over the churners flagged in time;
- late: flagged customers who had churned before the end of their first flagged day.

Customers are keyed by their ``customer_id`` (the identity stitching is tested elsewhere), so the
figures measure the score, not the identity graph. Churn is followed up to 30 days after the
run (``ChurnModel.follow_up_days``).

    .venv/bin/python benchmarks/bench_churn.py [--weeks 4] [--agents 60] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import ChurnSettings, Settings, load_settings, with_overrides
from schemas.times import parse_rfc3339
from warehouse.kpi_inputs import INPUTS
from warehouse.kpi_marts import prepare_marts, refresh_mart

DEFAULT = asdict(ChurnSettings())
NO_WEIGHTS = {name: 0 for name in DEFAULT if name.startswith("weight_")}
# name -> churn knobs changed from the defaults (kpis.md)
WEIGHTINGS: dict[str, dict[str, int]] = {
    "default (kpis.md)": {},
    "threshold 40": {"threshold": 40},
    "threshold 70": {"threshold": 70},
    "surveys-heavy": {
        "weight_nps_detractor": 40,
        "weight_csat_1_2": 35,
        "weight_ces_1_3": 25,
        "weight_unresolved_journey": 15,
        "weight_abandons": 10,
        "weight_escalation_unresolved_48h": 10,
        "weight_opted_out": 5,
    },
    "behaviour-heavy": {
        "weight_nps_detractor": 10,
        "weight_csat_1_2": 10,
        "weight_ces_1_3": 5,
        "weight_unresolved_journey": 35,
        "weight_abandons": 30,
        "weight_escalation_unresolved_48h": 30,
    },
    "no intent, no opt-out": {
        "weight_cancellation_intent": 0,
        "weight_opted_out": 0,
    },
    "intent only": {**NO_WEIGHTS, "weight_cancellation_intent": 50},
}


def simulate(config: SimulationConfig, settings: Settings) -> tuple[Simulation, list[dict]]:
    """The finished simulation and its survey and opt-out events (parsed)."""
    simulation = Simulation(config, settings)
    wanted = (b'"survey.completed"', b'"customer.opted_out"')
    events = [orjson.loads(raw) for raw in simulation.messages() if any(w in raw for w in wanted)]
    return simulation, events


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromtimestamp(parse_rfc3339(text), UTC).replace(tzinfo=None)


def _load(con: duckdb.DuckDBPyConnection, relation: str, rows: list[dict[str, Any]]) -> None:
    """A table of ``relation`` with the columns the marts read (warehouse.kpi_inputs)."""
    columns = INPUTS[relation]
    typed = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    con.execute(f"create or replace table {relation} ({typed})")
    if not rows:
        return
    data = {
        name: [_utc(r.get(name)) if kind == "TIMESTAMP" else r.get(name) for r in rows]
        for name, kind in columns.items()
    }
    con.register("incoming", pa.table(data))
    con.execute(f"insert into {relation} select * from incoming")
    con.unregister("incoming")


def intermediate_layer(simulation: Simulation, events: list[dict]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the int_* tables the churn mart reads."""
    customer_of = {c.id: c.customer.customer_id for c in simulation.engine.contacts}
    contacts = []
    for facts in simulation.contact_facts():
        row = facts.to_dict()
        row["customer_key"] = customer_of[facts.contact_id]
        row["first_queue"] = facts.queues[0] if facts.queues else None
        row["first_agent"] = facts.agents[0] if facts.agents else None
        contacts.append(row)
    journeys = []
    for j in simulation.journey_facts():
        row = j.to_dict()
        row["customer_key"] = customer_of[j.first_contact_id]
        row["first_started_day"] = date.fromisoformat(j.first_started_at[:10])
        row["contact_count"] = len(j.contact_ids)
        journeys.append(row)
    surveys = [
        {
            "event_id": e["event_id"],
            "contact_id": e["contact_id"],
            "tenant": e["tenant"],
            "channel": e["channel"],
            "survey_at": e["occurred_at"],
            **{k: e["attributes"].get(k) for k in ("nps", "csat", "ces")},
        }
        for e in events
        if e["event_type"] == "survey.completed"
    ]
    opt_outs = [
        {
            "event_id": e["event_id"],
            "event_type": e["event_type"],
            "occurred_at": e["occurred_at"],
            "tenant": e["tenant"],
            "channel": e.get("channel"),
            "contact_id": e.get("contact_id"),
            "customer_ids": [e["customer"]["customer_id"]],
        }
        for e in events
        if e["event_type"] == "customer.opted_out"
    ]
    keys = sorted({(e["tenant"], e["customer_ids"][0]) for e in opt_outs})
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    _load(con, "int_contacts", contacts)
    _load(con, "int_journeys", journeys)
    _load(con, "int_surveys", surveys)
    _load(con, "int_events", opt_outs)
    _load(
        con,
        "int_customer_keys",
        [{"tenant": t, "identifier": k, "customer_key": k} for t, k in keys],
    )
    return con


def first_flags(
    con: duckdb.DuckDBPyConnection, settings: Settings, first_day: date, last_day: date
) -> tuple[dict[str, date], set[str]]:
    """Under these knobs: customer -> the first as-of day they are flagged, and the customers
    flagged on the last day."""
    knob_set = prepare_marts(con, settings)
    refresh_mart(con, "mart_churn_risk", first_day, last_day)
    rows = con.execute(
        "select customer_key, min(as_of_day), bool_or(as_of_day = ?) from mart_churn_risk "
        "where knob_set = ? and flagged group by customer_key",
        [last_day, knob_set],
    ).fetchall()
    return {key: first for key, first, _ in rows}, {key for key, _, last in rows if last}


def evaluate(
    flags: dict[str, date], churned: dict[str, float], population: set[str]
) -> dict[str, float | int | None]:
    """Precision, recall, lift and lead time of the flags against the churn outcome."""
    flags = {c: day for c, day in flags.items() if c in population}
    churners = {c: at for c, at in churned.items() if c in population}
    lead_days, late = [], 0
    for customer, day in flags.items():
        published = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        at = churners.get(customer)
        if at is None:
            continue
        if at >= published.timestamp():
            lead_days.append((at - published.timestamp()) / 86400)
        else:
            late += 1
    base = len(churners) / len(population)
    precision = len(lead_days) / len(flags) if flags else None
    return {
        "flagged": len(flags),
        "caught": len(lead_days),
        "late": late,
        "precision": precision,
        "recall": len(lead_days) / len(churners),
        "lift": None if precision is None else precision / base,
        "lead_days": statistics.median(lead_days) if lead_days else None,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    settings = with_overrides(
        load_settings(environ={}, config_file=None), pii_key="bench-churn-not-a-secret"
    )
    config = SimulationConfig(
        seed=args.seed, days=7 * args.weeks, agents=args.agents, faults=FaultRates.none()
    )
    started = time.perf_counter()
    simulation, events = simulate(config, settings)
    truth = simulation.ground_truth()
    con = intermediate_layer(simulation, events)
    simulated = time.perf_counter() - started
    population = {
        c.customer.customer_id for c in simulation.engine.contacts if c.direction == "inbound"
    }
    churned = {cid: parse_rfc3339(at) for cid, at in truth["churn_outcome"]["churned"].items()}
    base = sum(c in population for c in churned) / len(population)
    first_day, last_day = config.start, config.start + timedelta(days=config.days - 1)

    run = Table(title="Simulated run", show_header=False)
    run.add_row("centre", f"seed {args.seed}, {args.agents} agents, {config.tenants} tenants")
    run.add_row("period", f"{first_day} to {last_day} ({config.days} as-of days)")
    run.add_row("churn followed up until", truth["churn_outcome"]["follow_up_until"])
    run.add_row("contacts", f"{truth['counts']['contacts']:,}")
    run.add_row("customers with an inbound contact", f"{len(population):,}")
    run.add_row("churners among them", f"{sum(c in population for c in churned):,}")
    run.add_row("base churn rate", _pct(base))
    run.add_row("planted with cancellation intent", f"{len(truth['planted_churn_customers']):,}")
    run.add_row("simulation + layer", f"{simulated:.0f} s")
    console.print(run)

    results = Table(title="Churn flags (mart_churn_risk) against who really churns")
    columns = ("weighting", "flagged", "precision", "recall", "lift", "lead (days)", "late", "s")
    for column in columns:
        results.add_column(column, justify="left" if column == "weighting" else "right")
    for name, knobs in WEIGHTINGS.items():
        before = time.perf_counter()
        flags, last = first_flags(con, with_overrides(settings, churn=knobs), first_day, last_day)
        if not knobs and config.days <= DEFAULT["lookback_days"]:
            # The ground truth scores the last day over a look-back that covers the whole run:
            # the mart must flag the same customers there, or the layer was loaded wrong.
            expected = set(truth["churn_risk_customers"])
            if last != expected:
                raise SystemExit(
                    f"the mart flags {len(last)} customers on {last_day}, the ground truth "
                    f"{len(expected)} ({len(last ^ expected)} differ)"
                )
        scores = evaluate(flags, churned, population)
        lift, lead = scores["lift"], scores["lead_days"]
        results.add_row(
            name,
            f"{scores['flagged']:,}",
            _pct(scores["precision"]),
            _pct(scores["recall"]),
            "-" if lift is None else f"{lift:.1f}x",
            "-" if lead is None else f"{lead:.1f}",
            f"{scores['late']:,}",
            f"{time.perf_counter() - before:.1f}",
        )
    console.print(results)
    console.print(
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
