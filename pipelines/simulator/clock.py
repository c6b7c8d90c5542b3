"""Simulated time in integer epoch milliseconds, and its fast RFC 3339 formatting.

The engine keeps every instant as an int of milliseconds so that durations are exact
(``(b - a) / 1000``) and every emitted time has millisecond resolution. Formatting is the hot
spot of event generation, so the date part is cached per day and the rest is integer arithmetic;
``format_ms`` gives exactly ``schemas.times.format_utc(ms / 1000)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

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


def day_of(ms: int) -> str:
    """The UTC day (``2026-01-05``) an instant falls on."""
    return _prefix(ms // DAY)[:-1]
