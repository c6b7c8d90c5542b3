"""Simulated time in integer epoch milliseconds, and its fast RFC 3339 formatting.

The engine keeps every instant as an int of milliseconds so that durations are exact
(``(b - a) / 1000``) and every emitted time has millisecond resolution. Formatting is the hot
spot of event generation, so the date part is cached per day and the rest is integer arithmetic;
``format_ms`` gives exactly ``schemas.times.format_utc(ms / 1000)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# Sources that stamp local time (a mail gateway in Paris in winter) send this offset.
PARIS_WINTER_OFFSET = HOUR

_day_prefix: dict[int, str] = {}


def epoch_ms(day: date) -> int:
    """Midnight UTC of ``day`` in epoch milliseconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * SECOND


def _prefix(day_number: int) -> str:
    prefix = _day_prefix.get(day_number)
    if prefix is None:
        prefix = datetime.fromtimestamp(day_number * 86400, UTC).strftime("%Y-%m-%dT")
        _day_prefix[day_number] = prefix
    return prefix


def format_ms(ms: int) -> str:
    """``2026-01-05T09:00:00.000Z`` for epoch milliseconds."""
    day_number, rest = divmod(ms, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds, millis = divmod(rest, SECOND)
    return f"{_prefix(day_number)}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def format_ms_paris(ms: int) -> str:
    """The same instant as ``format_ms`` written with a ``+01:00`` offset."""
    day_number, rest = divmod(ms + PARIS_WINTER_OFFSET, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds, millis = divmod(rest, SECOND)
    return f"{_prefix(day_number)}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}+01:00"


class ReportingDays:
    """The days of a tenant's reporting time zone (kpis.md, Time attribution): the local day an
    instant falls on and when that day ends (a daylight-saving day lasts 23 or 25 hours).

    Consecutive look-ups mostly fall on the same day, so the last day found is kept."""

    __slots__ = ("_day", "_end", "_start", "zone")

    def __init__(self, time_zone: str = "UTC") -> None:
        self.zone = ZoneInfo(time_zone)
        self._start = self._end = 0
        self._day = ""

    def day_of(self, ms: int) -> str:
        """The local day (``2026-04-01``) of an instant in epoch milliseconds."""
        self._locate(ms)
        return self._day

    def end_of_day(self, ms: int) -> int:
        """The next local midnight after an instant, in epoch milliseconds."""
        self._locate(ms)
        return self._end

    def _locate(self, ms: int) -> None:
        if self._start <= ms < self._end:
            return
        local = datetime.fromtimestamp(ms // SECOND, self.zone).date()
        start = datetime.combine(local, time(), self.zone)
        end = datetime.combine(local + timedelta(days=1), time(), self.zone)
        self._start = int(start.timestamp()) * SECOND
        self._end = int(end.timestamp()) * SECOND
        self._day = local.isoformat()
