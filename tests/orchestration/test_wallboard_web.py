"""The wallboard's board (sums of the partitions' snapshots, KPIs coloured against targets), its
tokens, and its routes on a real uvicorn on loopback (orchestration/wallboard)."""

from __future__ import annotations

import stat
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.wallboard.access import Access, load_access
from orchestration.wallboard.feed import SnapshotFeed
from orchestration.wallboard.view import tenant_board
from orchestration.wallboard.web import COOKIE, create_app
from schemas.settings import (
    Settings,
    SettingsError,
    TenantSettings,
    WallboardSettings,
    with_overrides,
)
from schemas.times import parse_rfc3339
from streams.wallboard import COUNTERS
from tests.orchestration.wallboard_server import get, serve

NINE = round(parse_rfc3339("2026-01-05T09:00:00Z") * 1000)
WALL = round(parse_rfc3339("2026-11-30T12:00:00Z") * 1000)  # long after: the board is a replay


def counts(**values: int) -> dict[str, int]:
    return {counter: values.get(counter, 0) for counter in COUNTERS}


def contacts(tenant: str, partition: int, **parts: Any) -> tuple[bytes, bytes]:
    snapshot = {"tenant": tenant, "source": f"contacts|{partition}", **parts}
    return f"{tenant}|contacts|{partition}".encode(), orjson.dumps(snapshot)


def filled_feed() -> SnapshotFeed:
    feed = SnapshotFeed()
    feed.apply(
        *contacts(
            "acme",
            0,
            clock_ms=NINE,
            tiles={
                "billing|voice": {
                    "waiting": 2,
                    "oldest_waiting_ms": NINE - 50_000,
                    "in_progress": 1,
                }
            },
            agents={"busy": 2, "available": 1},
            days={
                "2026-01-04": {"billing|voice": counts(offered=99)},
                "2026-01-05": {
                    "billing|voice": counts(
                        offered=10,
                        answered=8,
                        abandoned=2,
                        answered_within_threshold=6,
                        answer_wait_ms=80_000,
                        handled=7,
                        handle_ms=7 * 300_000,
                    )
                },
            },
        )
    )
    feed.apply(
        *contacts(
            "acme",
            1,
            clock_ms=NINE - 5_000,
            tiles={
                "billing|voice": {
                    "waiting": 1,
                    "oldest_waiting_ms": NINE - 90_000,
                    "in_progress": 0,
                }
            },
            agents={"after_contact_work": 1},
            days={
                "2026-01-05": {
                    "billing|voice": counts(
                        offered=10, answered=10, answered_within_threshold=10, answer_wait_ms=20_000
                    )
                }
            },
        )
    )
    alerts = {"tenant": "acme", "source": "alerts|0", "alerts": {"2026-01-05": 3, "2026-01-04": 9}}
    feed.apply(b"acme|alerts|0", orjson.dumps(alerts))
    feed.apply(*contacts("nova", 0, clock_ms=NINE, tiles={}, agents={}, days={}))
    return feed


def test_the_board_adds_up_the_partitions_and_colours_against_the_targets() -> None:
    settings = Settings(tenants={"acme": TenantSettings(display_name="ACME Telecom")})
    board = tenant_board(settings, "acme", filled_feed().tenant_snapshots("acme"), WALL)
    assert board["as_of_ms"] == NINE and not board["live"]  # the newest event: a replay
    assert board["day"] == "2026-01-05" and board["display_name"] == "ACME Telecom"
    assert board["agents"] == {
        "available": 1,
        "busy": 2,
        "after_contact_work": 1,
        "break": 0,
        "offline": 0,
    }
    assert board["alerts_today"] == 3
    (tile,) = board["tiles"]
    assert (tile["queue"], tile["channel"]) == ("billing", "voice")
    assert (tile["waiting"], tile["in_progress"]) == (3, 1)
    assert tile["longest_wait_seconds"] == 90.0
    assert (tile["offered"], tile["answered"], tile["abandoned"]) == (20, 18, 2)
    assert tile["service_level"] == 16 / 20  # negative treatment: abandons in the denominator
    assert tile["asa_seconds"] == 100 / 18
    assert tile["abandon_rate"] == 2 / 20
    assert tile["aht_seconds"] == 300
    # voice targets: SL 80% (green), ASA 20 s (green), abandons 5% +3 (red at 10%), AHT 6:00
    assert tile["status"] == {
        "service_level": "green",
        "asa_seconds": "green",
        "abandon_rate": "red",
        "aht_seconds": "green",
    }
    ignore = with_overrides(settings, kpis={"abandon_treatment": "ignore"})
    (tile,) = tenant_board(ignore, "acme", filled_feed().tenant_snapshots("acme"), WALL)["tiles"]
    assert tile["service_level"] == 16 / 18


def test_a_live_board_counts_waits_on_the_wall_clock() -> None:
    wall = NINE + 30_000  # the newest event is 30 s old: live
    board = tenant_board(Settings(), "acme", filled_feed().tenant_snapshots("acme"), wall)
    assert board["live"] and board["as_of_ms"] == wall
    assert board["tiles"][0]["longest_wait_seconds"] == 120.0


def test_tokens_come_from_the_environment_and_production_needs_one(tmp_path: Path) -> None:
    configured = with_overrides(
        Settings(home=tmp_path),
        wallboard={"operator_token_env": "OPS_TOKEN", "tenant_token_envs": {"acme": "ACME_TOKEN"}},
    )
    access = load_access(configured, {"OPS_TOKEN": "ops-secret", "ACME_TOKEN": "acme-secret"})
    assert access.tenants_of("ops-secret") is None  # every tenant
    assert access.tenants_of("acme-secret") == {"acme"}
    assert access.tenants_of("guess") == frozenset() and access.tenants_of(None) == frozenset()
    with pytest.raises(SettingsError, match="ACME_TOKEN is not set"):
        load_access(configured, {"OPS_TOKEN": "ops-secret"})
    production = with_overrides(Settings(home=tmp_path), environment="production")
    with pytest.raises(SettingsError, match="production"):
        load_access(production, {})
    first = load_access(Settings(home=tmp_path), {}).operator
    assert first and load_access(Settings(home=tmp_path), {}).operator == first
    mode = stat.S_IMODE((tmp_path / "wallboard.token").stat().st_mode)
    assert mode == 0o600
    with pytest.raises(SettingsError, match="environment variable"):
        WallboardSettings(tenant_token_envs={"acme": "not a name"})


def test_routes_refuse_other_tenants_and_push_the_board(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    access = Access(operator="ops", tenants={"acme": "acme-token", "nova": "nova-token"})
    feed = filled_feed()
    app = create_app(settings, access, feed, follow=False, clock=lambda: WALL)
    with serve(app) as base:
        assert get(f"{base}/healthz")[0] == 200
        for path in ("/t/acme", "/t/acme/board.json", "/t/acme/events"):
            assert get(base + path)[0] == 401
            assert get(base + path, "wrong")[0] == 401
            assert get(base + path, "nova-token")[0] == 403
        status, body, _ = get(f"{base}/t/acme/board.json", "acme-token")
        assert status == 200
        assert orjson.loads(body) == tenant_board(
            settings, "acme", feed.tenant_snapshots("acme"), WALL
        )
        assert get(f"{base}/t/nova/board.json", "ops")[0] == 200  # the operator sees all
        status, body, _ = get(f"{base}/", "ops")
        assert status == 200 and b"/t/acme" in body and b"/t/nova" in body
        assert get(f"{base}/", "nova-token")[2]["location"] == "/t/nova"
        status, body, _ = get(f"{base}/t/acme", "acme-token")
        assert status == 200 and b"billing" in body and b"EventSource" in body

        # a wall screen's link: the token becomes a cookie, the address loses it
        status, _, headers = get(f"{base}/t/acme?token=acme-token&x=1")
        assert status == 303 and headers["location"] == "/t/acme?x=1"
        assert f"{COOKIE}=acme-token" in headers["set-cookie"]
        assert "httponly" in headers["set-cookie"].lower()

        request = urllib.request.Request(f"{base}/t/acme/events")
        request.add_header("Cookie", f"{COOKIE}=acme-token")
        with urllib.request.urlopen(request, timeout=30) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = stream.readline()
            assert orjson.loads(first.removeprefix(b"data: "))["alerts_today"] == 3
            assert stream.readline() == b"\n"
            alerts = {"tenant": "acme", "source": "alerts|1", "alerts": {"2026-01-05": 4}}
            feed.apply(b"acme|alerts|1", orjson.dumps(alerts))  # pushed without asking
            pushed = orjson.loads(stream.readline().removeprefix(b"data: "))
            assert pushed["alerts_today"] == 7


def test_the_wallboard_command_refuses_production_without_a_token(tmp_path: Path) -> None:
    from tests.harness import run_omnicx

    settings = with_overrides(Settings(home=tmp_path), environment="production")
    done = run_omnicx(settings, "wallboard")
    assert done.returncode == 1
    assert "no wallboard operator token" in done.stderr
