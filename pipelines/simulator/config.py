"""The knobs of one simulation run: scale, calendar, behaviour shares and feed faults.

Every knob that changes the output is here, so that ``ground_truth.json`` can record exactly
what produced a data set and the same knobs with the same seed reproduce it byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from pipelines.simulator.catalog import TENANT_NAMES

DEFAULT_START = date(2026, 1, 5)
# Weekday names as ``--closed`` takes them, Monday first (``date.weekday()``).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
    # Days the centre does not open (UTC days, as its opening hours): weekdays (0 = Monday, as
    # date.weekday()) closed every week, and single dates such as public holidays.
    closed_weekdays: tuple[int, ...] = ()
    closed_dates: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        # kept sorted and without repeats, so that equal calendars are equal knobs
        object.__setattr__(self, "closed_weekdays", tuple(sorted(set(self.closed_weekdays))))
        object.__setattr__(self, "closed_dates", tuple(sorted(set(self.closed_dates))))
        if self.days < 1:
            raise ConfigError("days must be at least 1")
        if not all(0 <= weekday <= 6 for weekday in self.closed_weekdays):
            raise ConfigError("closed_weekdays must be between 0 (Monday) and 6 (Sunday)")
        if all(self.is_closed(self.start + timedelta(days=n)) for n in range(self.days)):
            raise ConfigError("every day of the run is closed")
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

    def is_closed(self, day: date) -> bool:
        """Whether the centre stays closed on ``day``."""
        return day.weekday() in self.closed_weekdays or day in self.closed_dates

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        # The closed days came after the first runs: a run that closes no day records the knobs
        # it always did, so that its ground_truth.json keeps its bytes.
        del out["closed_weekdays"], out["closed_dates"]
        if self.closed_weekdays or self.closed_dates:
            out["closed_weekdays"] = [WEEKDAYS[weekday] for weekday in self.closed_weekdays]
            out["closed_dates"] = [day.isoformat() for day in self.closed_dates]
        return out


def parse_closed(text: str) -> tuple[tuple[int, ...], tuple[date, ...]]:
    """``sat,sun,2021-12-25`` as (closed weekdays, closed dates): weekday names (``mon`` ..
    ``sun``, or in full) and ISO dates, separated by commas; an empty text closes no day."""
    weekdays: list[int] = []
    dates: list[date] = []
    for item in text.split(",") if text.strip() else ():
        word = item.strip().lower()
        named = [n for n, name in enumerate(WEEKDAYS) if word in (name, _FULL_NAMES[n])]
        if named:
            weekdays += named
            continue
        try:
            dates.append(date.fromisoformat(word))
        except ValueError:
            raise ConfigError(
                f"{item.strip()!r} is neither a weekday ({', '.join(WEEKDAYS)}) "
                "nor a date (YYYY-MM-DD)"
            ) from None
    return tuple(weekdays), tuple(dates)
