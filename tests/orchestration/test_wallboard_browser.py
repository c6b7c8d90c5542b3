"""The wallboard in Debian's headless Chromium (driven by Playwright) while the simulator streams
into the real broker through a real stream worker.

A few hundred messages of a simulated morning (duplicates and disorder included) go in, in two
parts. At the pause after each part (the stream caught up) the page, open all along and pushed
by server-sent events, must show exactly what this test recomputes from the events produced so
far, by its own reading of kpis.md (below, independent of streams/wallboard.py). Between the
parts the worker is stopped and its local state deleted, so that the second part is counted on
state recovered from the changelog; a wallboard restarted then shows the same board. A tenant's
token gets 403 on the other tenant's page and JSON.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from orchestration.kafka.lag import wait_until_caught_up
from orchestration.wallboard.access import Access
from orchestration.wallboard.feed import SnapshotFeed
from orchestration.wallboard.web import create_app
from pipelines.producer import produce
from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, TenantSettings, with_overrides
from schemas.times import parse_rfc3339
from schemas.topics import topic_names
from tests.harness import isolated_settings, read_topic, stream_worker, wait_for_stream
from tests.orchestration.wallboard_server import get, serve

CHROMIUM = "/usr/bin/chromium"
MORNING = SimulationConfig(
    seed=21, days=1, agents=6, tenants=2, faults=FaultRates(malformed=0.0, max_late_seconds=300)
)
TOKYO = "bluewave-bank"  # its reporting day starts at 15:00 UTC
TOKENS = {"acme-telecom": "acme-token", TOKYO: "bluewave-token"}


# --- the recomputation: kpis.md read directly off the events --------------------------------


def expected_board(
    settings: Settings, tenant: str, messages: list[bytes], as_of_ms: int
) -> dict[str, Any]:
    """What the page must show for ``tenant`` once ``messages`` are all processed, at the
    board's "now" ``as_of_ms``: per tile (first queue, channel) the contacts waiting and in
    progress and the longest wait, and the day's counts and KPIs; the agents by latest state."""
    events = {}
    for raw in messages:
        event = orjson.loads(raw)
        events.setdefault(event["event_id"], event)  # a duplicate counts once
    ms = {eid: round(parse_rfc3339(e["occurred_at"]) * 1000) for eid, e in events.items()}
    clock_ms = max(ms.values())
    watermark_ms = clock_ms - settings.stream.lateness_seconds * 1000
    zone = ZoneInfo(settings.tenant(tenant).time_zone)

    def day(at_ms: int) -> str:
        return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone).date().isoformat()

    today = day(as_of_ms)
    agents: dict[str, tuple[int, str, str]] = {}
    by_contact: dict[str, list[tuple[int, str, dict]]] = defaultdict(list)
    for eid, event in events.items():
        if event["tenant"] != tenant:
            continue
        if event["event_type"] == "agent.state_changed":
            latest = agents.get(event["agent_id"])
            if latest is None or (ms[eid], eid) > latest[:2]:
                agents[event["agent_id"]] = (ms[eid], eid, event["attributes"]["state"])
        elif event.get("contact_id"):
            by_contact[event["contact_id"]].append((ms[eid], event["event_type"], event))
    tiles: dict[str, dict[str, Any]] = {}
    for contact in by_contact.values():
        first: dict[str, tuple[int, dict]] = {}
        for at, kind, event in sorted(contact, key=lambda item: item[0]):
            first.setdefault(kind, (at, event))
        started, queued = first.get("contact.started"), first.get("contact.queued")
        if queued is None or (started and started[1].get("direction") == "outbound"):
            continue
        at = {kind.split(".")[1]: when for kind, (when, _) in first.items()}
        queued_ms, answered = at["queued"], at.get("answered")
        tile_name = f"{queued[1]['queue']}|{queued[1]['channel']}"
        tile = tiles.setdefault(tile_name, defaultdict(int))
        closed = {"wrapped_up", "abandoned", "deflected"} & set(at)
        last = max(when for when, _, _ in contact)
        idle = settings.stream.idle_timeout_seconds * 1000
        is_open = not closed and watermark_ms < last + idle
        finished = {"abandoned", "ended", "deflected"} & set(at)
        if is_open and not finished:
            if answered is None:
                tile["waiting"] += 1
                tile["oldest"] = min(tile.get("oldest", queued_ms), queued_ms)
            else:
                tile["in_progress"] += 1
        attributed = started[0] if started else queued_ms
        if day(attributed) != today:
            continue
        threshold = settings.kpis.service_level_seconds(queued[1]["channel"]) * 1000
        abandoned = at.get("abandoned")
        short = (
            abandoned is not None
            and abandoned - queued_ms < settings.kpis.short_abandon_seconds * 1000
        )
        tile["offered"] += not short
        tile["abandoned"] += abandoned is not None and not short
        if answered is not None:
            tile["answered"] += 1
            tile["wait_ms"] += answered - queued_ms
            tile["within"] += answered - queued_ms <= threshold
    board_tiles = {}
    for name, tile in tiles.items():
        oldest = tile.get("oldest")
        board_tiles[name] = {
            "waiting": tile["waiting"],
            "in_progress": tile["in_progress"],
            "longest_wait_seconds": None if oldest is None else (as_of_ms - oldest) / 1000,
            "offered": tile["offered"],
            "answered": tile["answered"],
            "abandoned": tile["abandoned"],
            "service_level": _ratio(tile["within"], tile["answered"] + tile["abandoned"]),
            "asa_seconds": _ratio(tile["wait_ms"] / 1000, tile["answered"]),
            "abandon_rate": _ratio(tile["abandoned"], tile["offered"]),
        }
    states: dict[str, int] = defaultdict(int)
    for _, _, state in agents.values():
        states[state] += 1
    return {"day": today, "tiles": board_tiles, "agents": dict(states)}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


# --- what the page shows, as the page formats it -------------------------------------------


def percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds + 0.5)  # JavaScript's Math.round of a positive number
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def shown(expected: dict[str, Any]) -> dict[str, Any]:
    """``expected`` as the page's text."""
    tiles = {
        name: {
            "waiting": str(t["waiting"]),
            "in_progress": str(t["in_progress"]),
            "longest_wait_seconds": duration(t["longest_wait_seconds"]),
            "offered": str(t["offered"]),
            "answered": str(t["answered"]),
            "abandoned": str(t["abandoned"]),
            "service_level": percent(t["service_level"]),
            "asa_seconds": duration(t["asa_seconds"]),
            "abandon_rate": percent(t["abandon_rate"]),
        }
        for name, t in expected["tiles"].items()
    }
    agents = {
        state: str(expected["agents"].get(state, 0))
        for state in ("available", "busy", "after_contact_work", "break", "offline")
    }
    return {"day": expected["day"], "tiles": tiles, "agents": agents}


READ_PAGE = """() => {
  const text = (root, field) => root.querySelector(`[data-field="${field}"]`).textContent;
  const header = document.querySelector("header");
  const tiles = {};
  for (const tile of document.querySelectorAll("[data-tile]")) {
    tiles[tile.dataset.tile] = Object.fromEntries(["waiting", "in_progress",
      "longest_wait_seconds", "offered", "answered", "abandoned", "service_level",
      "asa_seconds", "abandon_rate"].map((f) => [f, text(tile, f)]));
  }
  const agents = Object.fromEntries(["available", "busy", "after_contact_work", "break",
    "offline"].map((s) => [s, text(header, "agents." + s)]));
  return {
    version: Number(document.body.dataset.version),
    as_of: header.querySelector('[data-field="as_of"]').dataset.value,
    alerts: text(header, "alerts_today"),
    page: { day: text(header, "day"), tiles, agents },
  };
}"""


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def settle(page: Any, settings: Settings, tenant: str, messages: list[bytes]) -> dict[str, Any]:
    """Poll the page (no reload: it is pushed) until it shows the recomputation of
    ``messages`` at the instant it shows; fail with the last difference after a deadline."""
    deadline = datetime.now(UTC).timestamp() + 60
    while True:
        seen = page.evaluate(READ_PAGE)
        as_of_ms = round(parse_rfc3339(seen["as_of"]) * 1000)
        want = shown(expected_board(settings, tenant, messages, as_of_ms))
        if seen["page"] == want:
            return seen
        if datetime.now(UTC).timestamp() > deadline:
            assert seen["page"] == want  # shows the difference
        page.wait_for_timeout(200)


@pytest.mark.timeout(600)
def test_the_page_follows_the_stream_and_survives_a_worker_restart(
    kafka_settings: Settings, tmp_path: Path, browser: Any
) -> None:
    settings = isolated_settings(kafka_settings, tmp_path / "h")
    settings = with_overrides(settings, tenants={TOKYO: TenantSettings(time_zone="Asia/Tokyo")})
    names = topic_names(settings)
    messages = list(Simulation(MORNING, settings).messages())
    # From midnight into the morning rush (the first day's contacts start after 06:00 UTC).
    first, second = messages[:250], messages[250:500]
    access = Access(operator="ops-token", tenants={t: tok for tok, t in _by_token().items()})

    def caught_up() -> None:
        wait_for_stream(settings, [worker])
        lag = wait_until_caught_up(
            settings, settings.stream.app_id, [names.events, names.alerts], 120
        )
        assert not any(lag.values()), lag

    with serve(create_app(settings, access, SnapshotFeed())) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        response = page.goto(f"{base}/t/acme-telecom?token=acme-token")
        assert response is not None and response.status == 200

        with stream_worker(settings) as worker:
            produce(first, settings)
            caught_up()
            before = settle(page, settings, "acme-telecom", first)
        assert before["page"]["tiles"], "the first part has no contact of acme-telecom"

        # the worker's local state is lost: it must come back from the changelog
        shutil.rmtree(settings.home / "stream" / "worker-1")
        with stream_worker(settings) as worker:
            produce(second, settings)
            caught_up()
            after = settle(page, settings, "acme-telecom", first + second)
        assert after["version"] > before["version"]  # pushed, never reloaded
        assert after["page"] != before["page"]
        alerts = [orjson.loads(m.value) for m in read_topic(settings, names.alerts)]
        today = after["page"]["day"]
        fired = {a["alert_id"] for a in alerts if a["tenant"] == "acme-telecom"
                 and a["trigger_occurred_at"].startswith(today)}  # fmt: skip
        assert after["alerts"] == str(len(fired))

        # the Tokyo brand's page, on its own local day, with its own token
        tokyo = browser.new_page()
        tokyo.goto(f"{base}/t/{TOKYO}?token=bluewave-token")
        settle(tokyo, settings, TOKYO, first + second)

        # the other brand's page and JSON are refused, in the browser and to a script
        assert tokyo.goto(f"{base}/t/acme-telecom").status == 403
        assert get(f"{base}/t/acme-telecom/board.json", "bluewave-token")[0] == 403
        assert get(f"{base}/t/{TOKYO}/board.json", "acme-token")[0] == 403
        status, body, _ = get(f"{base}/t/acme-telecom/board.json", "acme-token")
        assert status == 200
        board = orjson.loads(body)

    # a wallboard started afresh reads the same board back from the compacted topic
    with serve(create_app(settings, access, SnapshotFeed())) as base:
        deadline = datetime.now(UTC).timestamp() + 30
        while (
            again := orjson.loads(get(f"{base}/t/acme-telecom/board.json", "ops-token")[1])
        ) != board:
            assert datetime.now(UTC).timestamp() < deadline, (again, board)
            page.wait_for_timeout(200)


def _by_token() -> dict[str, str]:
    return {token: tenant for tenant, token in TOKENS.items()}
