"""KPI values as people read them: percent, hh:mm:ss, NPS points, survey scores and counts.

The report model (and the marts) hold exact base units: fractions for rates, seconds for times,
points for NPS, the survey scale for CSAT and CES means. These functions only format; a missing
value is shown as an em dash, never as 0 and never as an error.
"""

from __future__ import annotations

import math
from datetime import date, datetime

MISSING = "—"
MINUS = "−"  # a typographic minus: the same width as the plus sign in tabular figures

# What a change of each unit is called after its number ("+2.1 pp").
_CHANGE_SUFFIX = {"fraction": " pp", "points": " pts", "score": "", "count": "", "seconds": ""}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(fraction: float, decimals: int = 1) -> str:
    return f"{fraction * 100:.{decimals}f}%"


def hhmmss(seconds: float) -> str:
    """00:04:12; a negative duration (a change) with a leading minus."""
    sign = MINUS if seconds < 0 else ""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"


def signed(number: float, decimals: int) -> str:
    text = f"{abs(number):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        return f"±{text}"
    return f"+{text}" if number > 0 else f"{MINUS}{text}"


def format_value(value: object, unit: str) -> str:
    """One value of ``unit`` (fraction, seconds, points, score, count, text, day) for people."""
    if _missing(value):
        return MISSING
    if unit == "fraction":
        return percent(float(value))
    if unit == "seconds":
        return hhmmss(float(value))
    if unit == "points":
        return signed(float(value), 1).replace("±", "")
    if unit == "score":
        return f"{float(value):.2f}"
    if unit == "count":
        return f"{round(float(value)):,}"
    if unit == "day" and isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def format_change(value: float | None, previous: float | None, unit: str) -> str:
    """The change from ``previous`` to ``value`` in the unit's own terms: percentage points for
    rates, a signed duration for times, points for NPS, the plain difference otherwise."""
    if _missing(value) or _missing(previous):
        return MISSING
    delta = float(value) - float(previous)
    if unit == "fraction":
        return signed(delta * 100, 1) + _CHANGE_SUFFIX[unit]
    if unit == "seconds":
        return hhmmss(delta) if round(delta) != 0 else "±00:00:00"
    if unit == "count":
        return signed(delta, 0)
    return signed(delta, 1 if unit == "points" else 2) + _CHANGE_SUFFIX.get(unit, "")


def axis_scale(unit: str, highest: float = 0.0) -> tuple[float, str]:
    """The factor a chart multiplies base values by, and its axis label: percent for rates,
    seconds or (from 3 minutes up) minutes for times, the base unit otherwise."""
    if unit == "seconds":
        return (1.0, "seconds") if highest < 180 else (1 / 60, "minutes")  # ticks in m:ss
    return {
        "fraction": (100.0, "%"),
        "points": (1.0, "points"),
        "score": (1.0, "score"),
        "count": (1.0, "contacts"),
    }.get(unit, (1.0, ""))
