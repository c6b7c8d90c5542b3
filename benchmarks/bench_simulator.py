"""Simulator throughput: events per second for the default day and for a scaled run.

    .venv/bin/python benchmarks/bench_simulator.py             # default day + 5 days x 200 agents
    .venv/bin/python benchmarks/bench_simulator.py --agents 500 --days 30

Generation means producing every message in send order (engine, JSON, faults); the ground
truth (contact facts, journeys, KPIs) is timed apart. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import resource
import time

from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import load_settings, with_pii_key


def measure(config: SimulationConfig) -> None:
    started = time.perf_counter()
    simulation = Simulation(config, with_pii_key(load_settings()))
    messages = sum(1 for _ in simulation.messages())
    generated = time.perf_counter()
    simulation.ground_truth()
    contacts = sum(1 for _ in simulation.contact_facts())
    journeys = len(simulation.journey_facts())
    finished = time.perf_counter()
    seconds = generated - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{config.agents:>4} agents x {config.days:>2} days: {simulation.events:>10,} events "
        f"({messages:,} messages) in {seconds:6.1f} s = {simulation.events / seconds:9,.0f} "
        f"events/s; truth ({contacts:,} contacts, {journeys:,} journeys) "
        f"{finished - generated:5.1f} s; peak RSS {peak_mb:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args()
    measure(SimulationConfig())
    measure(SimulationConfig(agents=args.agents, days=args.days))


if __name__ == "__main__":
    main()
