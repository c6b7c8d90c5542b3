"""Fixed catalogues of the simulated centre: tenants, channels, intraday profiles, contact
reasons and names. Behaviour numbers live next to the code that draws them (behaviour.py)."""

from __future__ import annotations

from typing import NamedTuple

TENANT_NAMES = (
    "acme-telecom",
    "bluewave-bank",
    "nova-energy",
    "urban-retail",
    "skyline-air",
    "helio-insurance",
    "metro-transit",
    "vita-health",
)
TENANT_WEIGHTS = (1.0, 0.8, 0.65, 0.55, 0.5, 0.45, 0.4, 0.35)

CHANNELS = ("voice", "email", "chat", "sms", "social")
DIGITAL_CHANNELS = ("chat", "email", "sms", "social")

# Every channel is open 06:00-22:00 UTC: shifts cover exactly that span (centre.py), so
# every contact that starts is answered, abandoned or deflected the same day.
OPEN_HOUR = 6
CLOSE_HOUR = 22

# Relative arrivals per hour from 06:00 to 21:00 (intraday profile per channel).
PROFILES: dict[str, tuple[float, ...]] = {
    "voice": (1, 3, 6, 9, 10, 9, 7, 6, 7, 8, 8, 7, 5, 4, 3, 2),
    "chat": (1, 2, 4, 6, 7, 7, 6, 6, 6, 7, 7, 7, 7, 6, 5, 3),
    "email": (3, 4, 6, 7, 7, 6, 5, 5, 6, 6, 6, 5, 4, 3, 3, 2),
    "sms": (1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1),
    "social": (1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 3),
}
# Share of the digital team's work per channel.
DIGITAL_WORK = {"chat": 0.45, "email": 0.3, "sms": 0.12, "social": 0.13}
# Mean agent-busy seconds per handled contact (answer delay + talk + ACW), to size volumes.
HANDLE_SECONDS = {"voice": 330.0, "chat": 400.0, "email": 420.0, "sms": 400.0, "social": 400.0}
# Arrivals and staffing relative to a weekday, Monday first.
DAY_OF_WEEK_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.95, 0.5, 0.35)


class Reason(NamedTuple):
    name: str
    weight: float
    tier2: float  # share of voice contacts the first agent cannot solve (transfer to tier 2)
    resolve: float  # chance a tier-1 agent resolves it
    resolvable: bool  # resolvable_in_one_contact


REASONS = (
    Reason("billing", 0.22, 0.18, 0.85, True),
    Reason("technical_issue", 0.2, 0.55, 0.7, True),
    Reason("order_status", 0.14, 0.08, 0.9, True),
    Reason("account_change", 0.12, 0.15, 0.85, True),
    Reason("payment", 0.1, 0.12, 0.85, True),
    Reason("complaint", 0.08, 0.4, 0.55, True),
    Reason("claim", 0.06, 0.35, 0.0, False),
    Reason("technician_visit", 0.05, 0.3, 0.0, False),
    Reason("information", 0.03, 0.02, 0.95, True),
)
REASON_BY_NAME = {r.name: r for r in REASONS}
OUTAGE_REASON = Reason("service_outage", 0.0, 0.3, 0.6, True)
CANCELLATION = Reason("cancellation", 0.0, 0.2, 0.5, True)
REASON_BY_NAME[OUTAGE_REASON.name] = OUTAGE_REASON
REASON_BY_NAME[CANCELLATION.name] = CANCELLATION

LANGUAGES = (("fr", 0.7), ("en", 0.25), ("de", 0.05))

FIRST_NAMES = (
    "camille", "lea", "manon", "chloe", "ines", "sarah", "jade", "louise", "emma", "alice",
    "lucas", "hugo", "louis", "nathan", "gabriel", "jules", "adam", "arthur", "noah", "paul",
    "amina", "yasmine", "sofia", "omar", "karim", "mehdi", "nina", "elena", "marco", "anna",
)  # fmt: skip
LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux",
    "vincent", "fournier", "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet",
    "francois", "martinez", "legrand",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
