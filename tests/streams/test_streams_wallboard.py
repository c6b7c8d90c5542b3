"""The wallboard stage over plain dicts: waiting, in progress, agents and today's counts, with the
reports' definitions, under late, duplicate and shuffled events (streams/wallboard.py)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson

from schemas.settings import Settings, TenantSettings
from schemas.times import format_utc, parse_rfc3339
from streams.wallboard import AlertTally, WallboardKnobs, WallboardStage

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
_ids = itertools.count()


def event(kind: str, contact: str | None, at: float, **fields: Any) -> dict[str, Any]:
    attributes = fields.pop("attributes", {})
    return {
        "event_id": f"e{next(_ids)}",
        "event_type": kind,
        "tenant": fields.pop("tenant", "acme"),
        "channel": fields.pop("channel", "voice"),
        "contact_id": contact,
        "ts": T0 + at,
        "occurred_at": format_utc(T0 + at),
        "attributes": attributes,
        **fields,
    }


def call(contact: str, queued: float, answered: float | None = None, **kw: Any) -> list[dict]:
    """A voice call queued at ``queued`` s after T0; answered, ended 60 s later and wrapped up
    10 s after that, or abandoned at ``abandoned``, or still waiting."""
    events = [
        event("contact.started", contact, queued - 5, direction="inbound"),
        event("contact.queued", contact, queued, queue=kw.get("queue", "billing")),
    ]
    if answered is not None:
        events.append(event("contact.answered", contact, answered, agent_id="a1"))
        if kw.get("ended", True):
            events.append(event("contact.ended", contact, answered + 60))
            events.append(event("contact.wrapped_up", contact, answered + 70))
    elif "abandoned" in kw:
        events.append(event("contact.abandoned", contact, kw["abandoned"]))
    return events


def board(produced: list[tuple[bytes | None, bytes]], tenant: str = "acme") -> dict:
    snapshots = [orjson.loads(value) for key, value in produced if key.startswith(tenant.encode())]
    assert snapshots, f"no snapshot of {tenant}"
    return snapshots[-1]


def test_waiting_in_progress_and_today_counts() -> None:
    stage = WallboardStage(WallboardKnobs(Settings()), {}, partition=0)
    events = [
        *call("c1", 0, answered=10),  # within 20 s
        *call("c2", 5, answered=40),  # 35 s: answered, not within
        *call("c3", 10, abandoned=12),  # short abandon (2 s)
        *call("c4", 20, abandoned=50),  # abandoned after 30 s
        *call("c5", 100, answered=110, ended=False),  # talking
        *call("c6", 200),  # waiting since 200
        *call("c7", 230),  # waiting since 230
        event("agent.state_changed", None, 0, agent_id="a1", attributes={"state": "busy"}),
        event("agent.state_changed", None, 0, agent_id="a2", attributes={"state": "available"}),
    ]
    snapshot = board(stage.process(events))
    tile = snapshot["tiles"]["billing|voice"]
    assert tile == {"waiting": 2, "oldest_waiting_ms": round((T0 + 200) * 1000), "in_progress": 1}
    assert snapshot["agents"] == {"busy": 1, "available": 1}
    assert snapshot["clock_ms"] == round((T0 + 230) * 1000)
    today = snapshot["days"]["2026-01-05"]["billing|voice"]
    assert today == {
        "offered": 6,  # 7 queued, one short abandon
        "answered": 3,
        "abandoned": 1,
        "short_abandons": 1,
        "answered_within_threshold": 2,  # c1 and c5 in 10 s
        "abandoned_within_threshold": 0,
        "answer_wait_ms": 10_000 + 35_000 + 10_000,
        "handled": 2,
        "handle_ms": 2 * 70_000,
    }


def test_a_later_event_moves_a_contact_and_duplicates_change_nothing() -> None:
    stage = WallboardStage(WallboardKnobs(Settings()), {}, partition=0)
    waiting = call("c1", 0)
    stage.process(waiting)
    answer = [event("contact.answered", "c1", 15, agent_id="a1")]
    snapshot = board(stage.process(answer))
    assert snapshot["tiles"]["billing|voice"] == {
        "waiting": 0,
        "oldest_waiting_ms": None,
        "in_progress": 1,
    }
    again = stage.process([*waiting, *answer])  # every event a second time
    assert again == []  # nothing changed, nothing published
    counts = snapshot["days"]["2026-01-05"]["billing|voice"]
    assert (counts["offered"], counts["answered"], counts["answered_within_threshold"]) == (1, 1, 1)


def test_any_arrival_order_gives_the_same_board() -> None:
    events = [
        *call("c1", 0, answered=10),
        *call("c2", 5, abandoned=30),
        *call("c3", 50),
        *call("c4", 60, answered=65, ended=False),
        event("agent.state_changed", None, 0, agent_id="a1", attributes={"state": "busy"}),
        event("agent.state_changed", None, 70, agent_id="a1", attributes={"state": "break"}),
    ]
    boards = []
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        stage = WallboardStage(WallboardKnobs(Settings()), {}, partition=0)
        for start in range(0, len(shuffled), 3):
            stage.process(shuffled[start : start + 3])
        boards.append(orjson.loads(stage.snapshot("acme")[1]))
    assert all(b == boards[0] for b in boards)
    assert boards[0]["agents"] == {"break": 1}  # the later state
    assert boards[0]["tiles"]["billing|voice"]["waiting"] == 1


def test_the_reporting_day_is_the_tenants() -> None:
    # 23:30 UTC on the 5th is already the 6th in Paris; short of the tenant table, UTC.
    settings = Settings(tenants={"paris": TenantSettings(time_zone="Europe/Paris")})
    stage = WallboardStage(WallboardKnobs(settings), {}, partition=0)
    late = 14.5 * 3600
    events = [
        *(dict(e, tenant="paris") for e in call("p1", late, answered=late + 5)),
        *call("u1", late, answered=late + 5),
    ]
    produced = stage.process(events)
    assert set(board(produced, "paris")["days"]) == {"2026-01-06"}
    assert set(board(produced, "acme")["days"]) == {"2026-01-05"}


def test_a_contact_quiet_for_the_idle_timeout_stops_waiting() -> None:
    settings = Settings()
    stage = WallboardStage(WallboardKnobs(settings), {}, partition=0)
    stage.process(call("c1", 0))
    later = settings.stream.idle_timeout_seconds + settings.stream.lateness_seconds + 1
    produced = stage.process(call("c2", later))
    tile = board(produced)["tiles"]["billing|voice"]
    assert tile["waiting"] == 1
    assert tile["oldest_waiting_ms"] == round((T0 + later) * 1000)  # c1 timed out


def test_a_restarted_stage_continues_from_its_store() -> None:
    store: dict[str, Any] = {}
    knobs = WallboardKnobs(Settings())
    events = [*call("c1", 0, answered=10), *call("c2", 5), *call("c3", 8, abandoned=40)]
    WallboardStage(knobs, store, partition=2).process(events[:5])
    produced = WallboardStage(knobs, store, partition=2).process(events[3:])
    key, value = produced[-1]
    assert key == b"acme|contacts|2"
    whole = WallboardStage(knobs, {}, partition=2).process(events)
    assert orjson.loads(value) == board(whole)


def test_alerts_count_once_per_tenant_and_day() -> None:
    tally = AlertTally(WallboardKnobs(Settings()), {}, partition=1)

    def alert(alert_id: str, at: str, tenant: str = "acme") -> dict:
        return {"alert_id": alert_id, "tenant": tenant, "trigger_occurred_at": at}

    tally.process(
        [alert("al-1", "2026-01-05T09:00:00.000Z"), alert("al-2", "2026-01-05T10:00:00Z")]
    )
    not_alerts = [{"tenant": "acme"}, alert("al-4", "yesterday"), {"alert_id": "al-5"}]
    produced = tally.process(
        [
            alert("al-1", "2026-01-05T09:00:00.000Z"),
            *not_alerts,
            alert("al-3", "2026-01-06T01:00:00Z"),
        ]
    )
    assert produced[0][0] == b"acme|alerts|1"
    assert orjson.loads(produced[0][1])["alerts"] == {"2026-01-05": 2, "2026-01-06": 1}
