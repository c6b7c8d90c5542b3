"""Small simulated runs written once per session and shared by the pipelines tests."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.files import write_run
from pipelines.simulator.run import Simulation
from tests.pii import keyed_settings

# Two tenants over two days (Monday, Tuesday) with every fault and planted case at a rate high
# enough to occur several times in a run that takes well under a second.
SMALL = SimulationConfig(
    seed=11,
    agents=14,
    tenants=2,
    days=2,
    churn_share=0.05,
    incomplete_share=0.02,
    faults=FaultRates(duplicates=0.03, disorder=0.05, late_share=0.2, malformed=0.01),
)


class Run:
    """A written run directory with its parsed ground truth."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.truth = orjson.loads((directory / "ground_truth.json").read_bytes())
        self.lines = (directory / "events.jsonl").read_bytes().split(b"\n")[:-1]
        self.contacts = _jsonl(directory / "ground_truth_contacts.jsonl")
        self.journeys = _jsonl(directory / "ground_truth_journeys.jsonl")


def _jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def simulate_to(directory: Path, config: SimulationConfig) -> Run:
    write_run(Simulation(config, keyed_settings()), directory)
    return Run(directory)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return simulate_to(tmp_path_factory.mktemp("small-run"), SMALL)


@pytest.fixture(scope="session")
def default_day(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The default simulated day (60 agents, 3 tenants, seed 7)."""
    return simulate_to(tmp_path_factory.mktemp("default-day"), SimulationConfig())
