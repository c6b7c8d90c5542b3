"""Vendor definition profiles (docs/kpis.md, Vendor definitions): each contact-centre vendor's
published formula mapped onto omnicx's knobs, so that ``omnicx kpis --profile NAME`` and
``--compare a,b`` show why a vendor's number differs from omnicx's.

A profile is data: the definition knobs baked into the marts (``knobs``, fields of
``KpiSettings``; a profile therefore has a knob set of its own, made by ``omnicx refresh
--profile NAME``), the read-time choices (``abandon_treatment``; ``formulas``: a KPI read from
other stored counts, by the name of a formula of ``warehouse.kpis.FORMULAS``), which KPIs the
vendor's definition cannot be reproduced for from the contract's events (``not_reproducible``,
with why), what is only approximated (``caveats``) and the pages it comes from. The service-level
thresholds T stay the settings' own: every vendor makes T a per-queue choice, so a comparison
at the same T isolates the definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from schemas.settings import Settings, with_overrides

# The KPI ids of kpis.md whose vendor counterpart is a resolution figure.
_FCR_IDS = ("fcr.v1", "fcr_net.v1", "fcr_channel.v1", "repeat_rate.v1")


@dataclass(frozen=True)
class Profile:
    """One named definition set; see the module's docstring."""

    name: str
    title: str
    # None: the vendor leaves the short-abandon interval to its administrator and publishes no
    # default; the settings' short_abandon_seconds stands for it.
    short_abandon_seconds: float | None
    abandon_treatment: str
    sources: tuple[str, ...]
    formulas: Mapping[str, str] = field(default_factory=dict)
    not_reproducible: Mapping[str, str] = field(default_factory=dict)
    caveats: Mapping[str, str] = field(default_factory=dict)

    @property
    def knobs(self) -> dict[str, float | str]:
        """The ``KpiSettings`` values this profile sets (the others stay the settings')."""
        knobs: dict[str, float | str] = {"abandon_treatment": self.abandon_treatment}
        if self.short_abandon_seconds is not None:
            knobs["short_abandon_seconds"] = self.short_abandon_seconds
        return knobs


DEFAULT = "default"

_PROFILES = (
    Profile(
        name=DEFAULT,
        title="omnicx, kpis.md version 1",
        short_abandon_seconds=5.0,
        abandon_treatment="negative",
        sources=("../shared/spec/kpis.md",),
    ),
    Profile(
        name="amazon-connect",
        title="Amazon Connect historical metrics",
        # Service level X: contacts removed from the queue within X s / contacts queued, so an
        # abandon within X meets it and no abandon is left out as short.
        short_abandon_seconds=0.0,
        abandon_treatment="positive",
        sources=(
            "https://docs.aws.amazon.com/connect/latest/adminguide/historical-metrics-definitions.html",
            "https://docs.aws.amazon.com/connect/latest/adminguide/metrics-definitions.html",
        ),
        not_reproducible={
            kpi: "Amazon Connect publishes no first-contact resolution of contacts (only of "
            "Cases, which the contract's events do not carry)"
            for kpi in _FCR_IDS
        },
        caveats={
            "service_level.v1": "contacts removed from the queue by a flow (transfer to another "
            "queue, callback) also count in Amazon Connect; the contract's events have no "
            "flow-out, so omnicx counts answered and abandoned contacts only",
        },
    ),
    Profile(
        name="genesys",
        title="Genesys Cloud, abandons included, short abandons excluded, no flow-outs",
        # answered within / (answered + abandoned - short abandons); the short-abandon interval
        # is the organisation's (Configure abandon intervals): the settings' stands for it
        short_abandon_seconds=None,
        abandon_treatment="negative",
        sources=(
            "https://help.mypurecloud.com/articles/configure-the-service-level-calculation/",
            "https://developer.genesys.cloud/analyticsdatamanagement/analytics/aggregate/resolutions-query",
        ),
        formulas={"fcr.v1": "no_next_contact"},
        not_reproducible={
            "fcr_net.v1": "Genesys Cloud has no net resolution",
            "fcr_channel.v1": "Genesys Cloud publishes no single-channel resolution",
            "repeat_rate.v1": "Genesys Cloud publishes no contacts per journey",
        },
        caveats={
            "fcr.v1": "next contact avoided: contacts the customer did not follow with another "
            "within 7 days (Genesys's default window; omnicx's repeat window), i.e. journeys / "
            "their contacts; Genesys counts handled conversations of a known external contact, "
            "omnicx every offered contact of the stitched customer, abandoned ones included",
        },
    ),
    Profile(
        name="genesys-no-abandons",
        title="Genesys Cloud with Include Abandons in Calculation off",
        short_abandon_seconds=None,
        abandon_treatment="ignore",
        sources=("https://help.mypurecloud.com/articles/configure-the-service-level-calculation/",),
        formulas={"fcr.v1": "no_next_contact"},
        not_reproducible={
            "fcr_net.v1": "Genesys Cloud has no net resolution",
            "fcr_channel.v1": "Genesys Cloud publishes no single-channel resolution",
            "repeat_rate.v1": "Genesys Cloud publishes no contacts per journey",
        },
    ),
    Profile(
        name="talkdesk",
        title="Talkdesk Live (contacts data model), short-abandon filter at its default (off)",
        # Answered within the threshold / (inbound contacts - short abandoned); "Filter Short
        # Abandoned Calls" is No by default, so no contact is a short abandon.
        short_abandon_seconds=0.0,
        abandon_treatment="negative",
        sources=(
            "https://support.talkdesk.com/hc/en-us/articles/4409690831259-Service-Level",
            "https://support.talkdesk.com/hc/en-us/articles/206581085--Preferences-Short-Abandons",
        ),
        not_reproducible={
            kpi: "Talkdesk publishes no first-contact resolution metric" for kpi in _FCR_IDS
        },
        caveats={
            "service_level.v1": "with the filter on, Talkdesk removes short abandons timed from "
            "the call entering the system (before the IVR), omnicx from the first queueing: "
            "that is omnicx's default definition with the account's threshold as "
            "short_abandon_seconds, equal when the IVR takes no time",
        },
    ),
    Profile(
        name="talkdesk-classic",
        title="Talkdesk calls data model (classic reports)",
        # Answered and missed calls only: abandons do not enter service level at all.
        short_abandon_seconds=0.0,
        abandon_treatment="ignore",
        sources=(
            "https://support.talkdesk.com/hc/en-us/articles/206579815--Preferences-Configuring-your-Service-Level",
            "https://data-dictionary.talkdesk.com/docs/service-level",
        ),
        not_reproducible={
            kpi: "Talkdesk publishes no first-contact resolution metric" for kpi in _FCR_IDS
        },
        caveats={
            "service_level.v1": "Talkdesk counts only calls within business hours; the contract "
            "has no business hours, so omnicx counts every call",
        },
    ),
)
PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in _PROFILES})


class UnknownProfile(ValueError):
    """A profile name omnicx does not define."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no profile {name!r} (choose among {', '.join(PROFILES)})")


def profile(name: str) -> Profile:
    """The profile called ``name``; ``UnknownProfile`` names the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(name) from None


def profile_settings(settings: Settings, name: str) -> Settings:
    """``settings`` with the KPI definition knobs of profile ``name`` (thresholds, tenants,
    time zones and churn knobs unchanged)."""
    return with_overrides(settings, kpis=profile(name).knobs)
