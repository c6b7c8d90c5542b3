"""KPI targets: red/amber/green status, the defaults, and overrides per tenant and channel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.settings import SettingsError, load_settings
from schemas.settings_env import settings_env
from schemas.targets import Target, resolve, target_set

SERVICE_LEVEL = Target("service_level.v1", 0.80, "higher", 0.05)
ABANDON_RATE = Target("abandon_rate.v1", 0.05, "lower", 0.03)


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.95, "green"), (0.80, "green"), (0.79, "amber"), (0.75, "amber"), (0.7499, "red")],
)
def test_a_higher_is_better_kpi_is_amber_within_the_band_below_its_target(value, status):
    assert SERVICE_LEVEL.status(value) == status


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "green"), (0.05, "green"), (0.0501, "amber"), (0.08, "amber"), (0.0801, "red")],
)
def test_a_lower_is_better_kpi_is_amber_within_the_band_above_its_target(value, status):
    assert ABANDON_RATE.status(value) == status


def test_no_value_has_no_status_and_no_band_means_straight_to_red():
    assert SERVICE_LEVEL.status(None) is None
    strict = Target("nps.v1", 30, "higher", 0)
    assert (strict.status(30), strict.status(29.9)) == ("green", "red")


def test_the_defaults_are_the_ones_docs_kpis_md_gives():
    assert resolve("service_level.v1", "email", {}) == SERVICE_LEVEL
    assert resolve("service_level.v1", None, {}) == SERVICE_LEVEL
    assert resolve("abandon_rate.v1", None, {}) == ABANDON_RATE
    assert resolve("asa.v1", "voice", {}) == Target("asa.v1", 20, "lower", 10)
    assert resolve("aht.v1", "chat", {}) == Target("aht.v1", 600, "lower", 120)
    assert resolve("nps.v1", None, {}) == Target("nps.v1", 30, "higher", 10)
    assert resolve("ces.v1", None, {}) == Target("ces.v1", 5, "higher", 0.5)
    # ASA and AHT mix channels with nothing in common: no all-channel target
    assert resolve("asa.v1", None, {}) is None
    assert resolve("occupancy.v1", None, {}) is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "omnicx.toml"
    path.write_text(text)
    return path


CONFIGURED = """
[targets.service_level]
target = 0.85
[targets.asa.channels.voice]
target = 30
[tenants.brand-a.targets.service_level]
amber = 0.1
direction = "higher"
[tenants.brand-a.targets.service_level.channels.email]
target = 0.9
[tenants.brand-b]
display_name = "Brand B"
"""


def test_the_tenant_and_the_channel_come_over_the_global_targets_field_by_field(tmp_path):
    settings = load_settings(environ={}, config_file=write(tmp_path, CONFIGURED))
    brand_a = settings.tenant("brand-a").targets
    assert resolve("service_level.v1", "email", settings.targets, brand_a) == Target(
        "service_level.v1", 0.9, "higher", 0.1
    )
    assert resolve("service_level.v1", "voice", settings.targets, brand_a) == Target(
        "service_level.v1", 0.85, "higher", 0.1
    )
    brand_b = settings.tenant("brand-b").targets
    assert resolve("service_level.v1", "email", settings.targets, brand_b) == Target(
        "service_level.v1", 0.85, "higher", 0.05
    )
    assert resolve("asa.v1", "voice", settings.targets, brand_b).value == 30
    assert resolve("asa.v1", "chat", settings.targets, brand_b).value == 60
    # subprocesses get the targets through the environment, unchanged
    assert load_settings(environ=settings_env(settings), config_file=None) == settings


def test_a_target_set_names_every_target_in_force_and_changes_with_any_of_them(tmp_path):
    settings = load_settings(environ={}, config_file=write(tmp_path, CONFIGURED))
    tenants = {"brand-a": settings.tenant("brand-a").targets}
    set_id, targets = target_set(settings.targets, tenants)
    assert set(targets) == {"*", "brand-a"}
    assert targets["brand-a"]["service_level.v1"]["email"] == {
        "value": 0.9,
        "direction": "higher",
        "amber": 0.1,
    }
    assert targets["*"]["asa.v1"]["voice"]["value"] == 30
    assert "all" not in targets["*"]["asa.v1"]
    assert target_set(settings.targets, tenants)[0] == set_id
    assert target_set({}, tenants)[0] != set_id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[targets.sl]\ntarget = 0.8",
            r"targets.sl: no KPI of that name has a target; choose among service_level, ",
        ),
        (
            "[targets.service_level]\ntarget = 80",
            r"targets.service_level.target: 80.0 is outside 0..1, in fractions of "
            r"service_level.v1 \(write 0.8 for 80%\)",
        ),
        ("[targets.nps]\ntarget = 120", r"targets.nps.target: 120.0 is outside -100..100"),
        ("[targets.ces]\ntarget = 0", r"targets.ces.target: 0.0 is outside 1..7"),
        ("[targets.aht]\ndirection = 'up'", "targets.aht.direction: 'up' is not one of higher"),
        ("[targets.asa]\namber = -5", r"targets.asa.amber: -5.0 must be 0 or more"),
        ("[targets.asa.channels.fax]\ntarget = 5", "targets.asa.channels.fax: 'fax' is not a"),
        ("[targets.asa]\ntarget = 'soon'", "targets.asa.target: expected float, got 'soon'"),
        ("[targets.asa]\ngoal = 5", r"unknown setting\(s\) in \[targets.asa\]: \['goal'\]"),
        (
            "[tenants.b.targets.csat]\ntarget = 4.5",
            r"tenants.b.targets.csat.target: 4.5 is outside 0..1",
        ),
        (
            "[tenants.b.targets.aht.channels.voice]\ndirection = 'down'",
            "tenants.b.targets.aht.channels.voice.direction: 'down' is not one of",
        ),
    ],
)
def test_a_bad_target_is_an_error_at_load_naming_the_field(text, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={}, config_file=write(tmp_path, text))


DOCS = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"


def test_the_example_of_docs_kpis_md_loads_and_its_errors_are_the_real_ones(tmp_path):
    section = DOCS.read_text().split("## Targets")[1].split("\n## ")[0]
    example, errors = re.findall(r"^```(?:toml)?\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    settings = load_settings(environ={}, config_file=write(tmp_path, example))
    brand_a = settings.tenant("brand-a").targets
    assert resolve("service_level.v1", "email", settings.targets, brand_a).value == 0.95
    assert resolve("service_level.v1", "voice", settings.targets, brand_a).value == 0.85
    assert resolve("asa.v1", "voice", settings.targets) == Target("asa.v1", 30, "lower", 15)
    assert resolve("abandon_rate.v1", None, settings.targets, brand_a).amber == 0.02
    causes = [
        "[targets.service_level]\ntarget = 80",
        "[tenants.brand-a.targets.asa.channels.fax]\ntarget = 5",
        "[targets.sl]\ntarget = 0.8",
    ]
    for cause, error in zip(causes, errors.strip().splitlines(), strict=True):
        with pytest.raises(SettingsError) as raised:
            load_settings(environ={}, config_file=write(tmp_path, cause))
        assert str(raised.value) == error
