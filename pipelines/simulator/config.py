"""The knobs of one simulation run: scale, calendar, behaviour shares and feed faults.

Every knob that changes the output is here, so that ``ground_truth.json`` can record exactly
what produced a data set and the same knobs with the same seed reproduce it byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pipelines.simulator.catalog import TENANT_NAMES

DEFAULT_START = date(2026, 1, 5)


class ConfigError(ValueError):
    """A knob is out of its range."""


@dataclass(frozen=True)
class FaultRates:
    """What a real feed does to the clean event stream (all rates per clean event)."""

    duplicates: float = 0.01  # re-sent with the same bytes a little later
    disorder: float = 0.02  # delivered after later events
    late_share: float = 0.1  # of the disordered ones: minutes late rather than seconds
    max_late_seconds: float = 3300.0  # must stay within settings.stream.lateness_seconds
    malformed: float = 0.002  # an extra broken message (not JSON, missing field, ...)

    @classmethod
    def none(cls) -> FaultRates:
        return cls(duplicates=0.0, disorder=0.0, malformed=0.0)


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    days: int = 1
    agents: int = 60
    tenants: int = 3
    start: date = DEFAULT_START
    # Offered work / staffed capacity over a day; the intraday peaks go above it, so queues
    # and abandons come from staffing rather than from a planted rate.
    load: float = 0.75
    outages: bool = True
    churn_share: float = 0.03  # new customers planted with cancellation intent
    incomplete_share: float = 0.003  # handled contacts whose wrap-up the system loses
    faults: FaultRates = field(default_factory=FaultRates)

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ConfigError("days must be at least 1")
        if not 1 <= self.tenants <= len(TENANT_NAMES):
            raise ConfigError(f"tenants must be between 1 and {len(TENANT_NAMES)}")
        if self.agents < 3 * self.tenants:
            raise ConfigError("agents must be at least 3 per tenant (tier 1, digital, tier 2)")
        if not 0.05 <= self.load <= 2.0:
            raise ConfigError("load must be between 0.05 and 2")
        shares = {
            "churn_share": self.churn_share,
            "incomplete_share": self.incomplete_share,
            "faults.duplicates": self.faults.duplicates,
            "faults.disorder": self.faults.disorder,
            "faults.late_share": self.faults.late_share,
            "faults.malformed": self.faults.malformed,
        }
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {value}")
        if self.faults.max_late_seconds < 60:
            raise ConfigError("faults.max_late_seconds must be at least 60")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out
