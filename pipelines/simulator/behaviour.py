"""How customers and agents behave: every random draw of the simulation except calendars.

Each function takes the run's ``random.Random`` and returns milliseconds or a choice, so the
engine reads as a sequence of decisions and the numbers can be tuned in one place.
"""

from __future__ import annotations

import math
import random

from pipelines.simulator.catalog import LANGUAGES, REASONS, Reason
from pipelines.simulator.clock import HOUR, MINUTE, SECOND
from pipelines.simulator.model import Contact

_REASON_WEIGHTS = [r.weight for r in REASONS]
_LANGUAGE_NAMES = [name for name, _ in LANGUAGES]
_LANGUAGE_WEIGHTS = [w for _, w in LANGUAGES]

# Customers who hang up at once (short abandons), then a patience of this mean (seconds).
_IMPATIENT = {"voice": 0.05, "chat": 0.04}
_PATIENCE_MEAN = {"voice": 180.0, "chat": 600.0}
SURVEY_RESPONSE = {"voice": 0.12, "chat": 0.2, "email": 0.08, "sms": 0.1, "social": 0.06}


def between(rng: random.Random, low_seconds: float, high_seconds: float) -> int:
    return int(rng.uniform(low_seconds, high_seconds) * SECOND)


def reason(rng: random.Random) -> Reason:
    return rng.choices(REASONS, _REASON_WEIGHTS)[0]


def language(rng: random.Random) -> str:
    return rng.choices(_LANGUAGE_NAMES, _LANGUAGE_WEIGHTS)[0]


def patience(rng: random.Random, channel: str) -> int | None:
    """How long a queued customer waits before giving up; None: never (e-mail, SMS, social)."""
    if channel not in _PATIENCE_MEAN:
        return None
    if rng.random() < _IMPATIENT[channel]:
        return between(rng, 0.5, 4.9)
    return int(rng.expovariate(1.0 / _PATIENCE_MEAN[channel]) * SECOND) + 5 * SECOND


def answer_delay(rng: random.Random, channel: str) -> int:
    """From an agent taking the contact to ``contact.answered`` (ringing, first reply)."""
    if channel == "voice":
        return between(rng, 2, 8)
    if channel == "chat":
        return between(rng, 5, 20)
    if channel == "email":
        return between(rng, 20, 60)
    return between(rng, 10, 45)


def talk(rng: random.Random, median_seconds: float) -> int:
    seconds = rng.lognormvariate(math.log(median_seconds), 0.55)
    return int(min(max(seconds, 20.0), 30 * 60.0) * SECOND)


def after_contact_work(rng: random.Random, channel: str) -> int:
    if channel == "email":
        return between(rng, 30, 120)
    if channel == "voice":
        return between(rng, 15, 90)
    return between(rng, 10, 60)


def holds(rng: random.Random) -> int:
    """Number of holds in one agent's part of a call."""
    draw = rng.random()
    return 2 if draw < 0.08 else 1 if draw < 0.3 else 0


def disposition(rng: random.Random, c: Contact, tier: int, reason_info: Reason) -> str:
    if not reason_info.resolvable:
        return "follow_up" if rng.random() < 0.7 else "escalated"
    chance = 0.8 if tier > 1 else reason_info.resolve
    if c.attempt > 1:
        chance = min(0.95, chance + 0.1)
    if rng.random() < chance:
        return "resolved"
    draw = rng.random()
    return "unresolved" if draw < 0.45 else "follow_up" if draw < 0.8 else "escalated"


def return_delay(rng: random.Random, why: str) -> int | None:
    """When a customer comes back about the same issue, or None if they do not."""
    if why == "abandoned":
        return between(rng, 120, 1800) if rng.random() < 0.6 else None
    if why == "short_abandon":
        return between(rng, 30, 600) if rng.random() < 0.3 else None
    if why == "outage":
        return between(rng, 600, 4 * 3600) if rng.random() < 0.5 else None
    chance = {"unresolved": 0.7, "follow_up": 0.45, "escalated": 0.4, "self_service": 0.1}
    if rng.random() >= chance.get(why, 0.0):
        return None
    # Mostly within days; some well after the 7-day repeat window.
    return int(rng.lognormvariate(math.log(20 * HOUR), 1.1)) + 10 * MINUTE


def satisfaction(c: Contact, wait_ms: int, target_ms: float) -> float:
    """Latent satisfaction 0..1 from resolution, wait, transfers and holds."""
    score = 0.76
    if c.disposition == "resolved":
        score += 0.15
    elif c.disposition in ("unresolved", "escalated"):
        score -= 0.22
    else:
        score -= 0.08
    if wait_ms > 3 * target_ms:
        score -= 0.2
    elif wait_ms > target_ms:
        score -= 0.1
    score -= 0.07 * c.transfers + (0.05 if c.hold_ms > 60 * SECOND else 0.0)
    score -= 0.08 * (c.attempt - 1)
    if c.customer.planted:
        score -= 0.4
    return min(1.0, max(0.0, score))


def survey_scores(rng: random.Random, latent: float) -> dict[str, int]:
    """NPS 0-10, CSAT 1-5, CES 1-7 around the latent satisfaction; at least one of them."""
    noise = rng.gauss(0.0, 0.12)
    level = min(1.0, max(0.0, latent + noise))
    scores = {}
    if rng.random() < 0.85:
        scores["nps"] = min(10, max(0, round(level * 10 + rng.gauss(0, 0.8))))
    if rng.random() < 0.8:
        scores["csat"] = min(5, max(1, round(1 + 4 * level + rng.gauss(0, 0.4))))
    if rng.random() < 0.6 or not scores:
        scores["ces"] = min(7, max(1, round(1 + 6 * level + rng.gauss(0, 0.6))))
    return scores
