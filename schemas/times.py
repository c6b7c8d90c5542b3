"""Event time: RFC 3339 in, UTC milliseconds out.

Every stored or emitted time is ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds), so that equal
instants have equal strings and strings sort like instants.
"""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp with offset; ValueError when it has none or is bad."""
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {text!r}")
    return (value - _EPOCH).total_seconds()


def format_utc(epoch_seconds: float) -> str:
    """``2026-01-05T09:00:00.000Z`` for an epoch time, rounded to the millisecond."""
    millis = round(epoch_seconds * 1000)
    value = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"


def utc_day(epoch_seconds: float) -> str:
    """The UTC calendar day (``2026-01-05``) an instant falls on."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")
