"""Vendor definition profiles on a hand-made centre: each profile's service level, abandon rate
and resolution are the vendor's published formula worked out by hand, and differ from omnicx's
default definitions where the formulas differ."""

from __future__ import annotations

import pytest

from schemas.profiles import DEFAULT, PROFILES, UnknownProfile, profile, profile_settings
from tests.warehouse.kpi_fixtures import DAY, contact, handled_call, settings
from tests.warehouse.kpi_fixtures import refreshed as refreshed_layer
from warehouse.kpi_marts import knob_set_id, mart_knobs, refresh_marts
from warehouse.kpis import kpi_values

KNOBS = settings()  # voice service level T = 20 s, short abandons under 5 s
# A Genesys organisation whose short-abandon interval is 10 s (Genesys leaves it to the admin:
# the settings' short_abandon_seconds stands for it)
GENESYS_10 = settings(short_abandon_seconds=10.0)


def centre():
    """Five voice calls, T = 20 s:

    - alice: answered after 10 s (within T, resolved), then again an hour later after 30 s;
    - dave: abandoned after 3 s, bob after 8 s, carol after 40 s.

    Short abandons: under 5 s (omnicx) dave's; under a 10 s interval dave's and bob's; none
    for Amazon Connect and Talkdesk (no short-abandon filter by default).
    """
    return [
        handled_call("a1", "2026-01-05T09:00:00", answered=10.0),
        handled_call("a2", "2026-01-05T10:00:00", answered=30.0, disposition="unresolved"),
        contact("d3", "2026-01-05T11:00:00", customer="dave", abandoned=3.0),
        contact("b8", "2026-01-05T11:10:00", customer="bob", abandoned=8.0),
        contact("c40", "2026-01-05T11:20:00", customer="carol", abandoned=40.0),
    ]


@pytest.fixture(scope="module")
def con():
    """The centre's marts refreshed under every profile's knobs."""
    con = refreshed_layer(centre(), knobs=KNOBS)
    for name in PROFILES:
        refresh_marts(con, DAY, DAY, profile_settings(KNOBS, name))
    refresh_marts(con, DAY, DAY, profile_settings(GENESYS_10, "genesys"))
    return con


def values(con, name: str, knobs=KNOBS) -> dict[str, dict]:
    rows = kpi_values(con, DAY, DAY, ["channel"], knobs, profile=profile(name))
    return {r["kpi"]: r for r in rows}


# (profile, service level as numerator / denominator, the vendor's formula by hand)
SERVICE_LEVELS = [
    # answered within T / (answered + abandoned not short): 1 / (2 + bob + carol)
    (DEFAULT, 1, 4),
    # removed from the queue within T / queued: alice's 10 s, dave's and bob's abandons
    ("amazon-connect", 3, 5),
    # answered within / (answered + abandoned - short abandons): with the same short-abandon
    # interval, omnicx's definition: 1 / (2 + 3 - 1)
    ("genesys", 1, 4),
    # Include Abandons off: answered within / answered
    ("genesys-no-abandons", 1, 2),
    # answered within / (inbound contacts - short abandoned, none with the filter off)
    ("talkdesk", 1, 5),
    # calls model: answered within / answered (abandons are not in service level)
    ("talkdesk-classic", 1, 2),
]


@pytest.mark.parametrize(("name", "met", "total"), SERVICE_LEVELS)
def test_each_profile_gives_its_vendors_service_level(con, name, met, total):
    row = values(con, name)["service_level.v1"]
    assert (row["numerator"], row["denominator"], row["value"]) == (met, total, met / total)
    assert row["knobs"]["abandon_treatment"] == profile(name).abandon_treatment
    assert row["knobs"]["service_level_voice_seconds"] == 20.0  # T stays the settings'


def test_genesys_removes_the_short_abandons_of_its_organisations_interval(con):
    # answered within / (answered + abandoned - short abandons under 10 s): 1 / (2 + 3 - 2)
    sl = values(con, "genesys", GENESYS_10)["service_level.v1"]
    assert (sl["numerator"], sl["denominator"], sl["value"]) == (1, 3, 1 / 3)
    assert sl["knobs"]["short_abandon_seconds"] == 10.0


def test_abandon_rates_follow_each_vendors_short_abandons(con):
    rates = {name: values(con, name)["abandon_rate.v1"] for name in PROFILES}
    rates["genesys"] = values(con, "genesys", GENESYS_10)["abandon_rate.v1"]
    # omnicx: bob and carol of the 4 offered (dave is short); Genesys at 10 s: carol of 3
    assert (rates[DEFAULT]["numerator"], rates[DEFAULT]["denominator"]) == (2, 4)
    assert (rates["genesys"]["numerator"], rates["genesys"]["denominator"]) == (1, 3)
    # Amazon Connect: abandoned / queued, every abandon counts
    assert (rates["amazon-connect"]["numerator"], rates["amazon-connect"]["denominator"]) == (3, 5)


def test_genesys_resolution_is_contacts_without_a_next_contact_within_the_window(con):
    genesys, default = values(con, "genesys"), values(con, DEFAULT)
    # journeys: alice's two calls, bob's, carol's (dave's short abandon joins none): 4 contacts,
    # of which only alice's first is followed by another within 7 days
    assert (genesys["fcr.v1"]["numerator"], genesys["fcr.v1"]["denominator"]) == (3, 4)
    # omnicx's gross FCR: no journey was resolved at its first contact and had no second one
    assert (default["fcr.v1"]["numerator"], default["fcr.v1"]["denominator"]) == (0, 3)
    assert default["fcr.v1"]["value"] == 0.0 and genesys["fcr.v1"]["value"] == 0.75


def test_kpis_a_vendor_cannot_give_have_no_row_and_the_others_stay_omnicx_s(con):
    amazon, default = values(con, "amazon-connect"), values(con, DEFAULT)
    assert not {"fcr.v1", "fcr_net.v1", "fcr_channel.v1", "repeat_rate.v1"} & set(amazon)
    assert "fcr_net.v1" not in values(con, "genesys")
    # AHT and ASA do not depend on any profile knob: the same under every profile
    for kpi in ("aht.v1", "asa.v1"):
        assert amazon[kpi]["value"] == default[kpi]["value"] is not None
    # talk 300 s and 280 s (answered after 10 and 30 s, ended at 310 s) + 30 s ACW each
    assert default["aht.v1"]["value"] == (330.0 + 310.0) / 2


def test_the_default_profile_is_the_spec_defaults_and_reads_their_knob_set(con):
    assert knob_set_id(mart_knobs(profile_settings(KNOBS, DEFAULT))) == knob_set_id(
        mart_knobs(KNOBS)
    )
    # a profile keeps the settings' thresholds and changes only its definition knobs
    stricter = settings(service_level_voice_seconds=30.0, short_abandon_seconds=2.0)
    amazon = profile_settings(stricter, "amazon-connect").kpis
    assert (amazon.service_level_voice_seconds, amazon.short_abandon_seconds) == (30.0, 0.0)
    assert amazon.abandon_treatment == "positive"
    # Genesys's interval is the organisation's: the settings' one stands for it
    assert profile_settings(stricter, "genesys").kpis.short_abandon_seconds == 2.0


def test_an_unknown_profile_names_the_choices():
    with pytest.raises(UnknownProfile, match="choose among default, amazon-connect, genesys"):
        profile("avaya")


def test_every_profile_cites_its_sources():
    for p in PROFILES.values():
        assert p.sources and all(s.startswith(("https://", "../shared/spec/")) for s in p.sources)
