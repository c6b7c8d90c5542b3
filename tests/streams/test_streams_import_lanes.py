"""Imported history behind the stream's clock (docs/streams.md, Retention: import lanes).

Live events of today move a partition's clock; a call log of a day a year before is then
imported. Each imported contact is judged by the clock of its own import lane, so every one of
them is folded and emitted whole, whatever the batches it is split across, while the live
contacts keep their own clock and the too-late rule still protects both."""

import csv
import math
from pathlib import Path

import orjson
import pytest

from pipelines.importers.framework import IMPORTED_FROM
from schemas.routing import routing_key
from streams.contacts import ContactFold
from streams.ingest import PartitionIngest, RawMessage
from tests.pipelines.importing import imported
from tests.streams.conftest import T0
from tests.streams.test_streams_ingest import RAW_TOPIC, SETTINGS, voice_contact

MAPPING = Path(__file__).parents[2] / "docs" / "mappings" / "call-log.toml"
HEADER = ["call_id", "start_time", "queue", "agent", "answered", "wait_seconds",
          "talk_seconds", "hold_seconds", "acw_seconds", "resolved", "csat", "nps",
          "customer_id", "channel"]  # fmt: skip
RETAIN = SETTINGS.stream.contact_retention_days * 86400
IDLE = SETTINGS.stream.idle_timeout_seconds
DAY = 86400


def write_year_old_day(path: Path, calls: int = 60) -> dict[str, float]:
    """A call log of 2025-01-06 (a year before the live events of 2026-01-05), a call every
    10 minutes from 08:00, every fifth one abandoned; the talk seconds of each answered call."""
    talk = {}
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(calls):
            start = f"2025-01-06T{8 + n // 6:02d}:{n % 6 * 10:02d}:00Z"
            answered = n % 5 != 0
            if answered:
                talk[f"Y-{n}"] = 60.0 + n
            writer.writerow([
                f"Y-{n}", start, "care", "ana" if answered else "", "yes" if answered else "no",
                "12", str(60 + n) if answered else "", "0", "20" if answered else "",
                "yes" if answered else "", "", "", f"C{n:03d}", "voice",
            ])  # fmt: skip
    return talk


def messages(events, first_offset: int) -> list[RawMessage]:
    return [
        RawMessage(routing_key(e).encode(), orjson.dumps(e), 0, first_offset + i)
        for i, e in enumerate(events)
    ]


def feed(stage: PartitionIngest, events, size: int, first_offset: int = 0) -> dict[str, dict]:
    """The events in batches of ``size`` messages (a contact's events split across batches):
    the latest record emitted per contact."""
    latest: dict[str, dict] = {}
    for start in range(0, len(events), size):
        out = stage.process(messages(events[start : start + size], first_offset + start))
        for _, value in out.contacts:
            record = orjson.loads(value)
            latest[record["contact_id"]] = record
    return latest


def unmarked(events):
    """The events as a producer that is not an importer would send them."""
    return [
        {**e, "attributes": {k: v for k, v in e["attributes"].items() if k != IMPORTED_FROM}}
        for e in events
    ]


@pytest.fixture
def stores(json_store):
    return json_store(), json_store()  # contact states, dedup ids


@pytest.fixture
def history(tmp_path: Path):
    talk = write_year_old_day(tmp_path / "calls-2025.csv")
    events, rejections = imported("csv", tmp_path / "calls-2025.csv", mapping=MAPPING)
    assert rejections == [] and all(e["attributes"][IMPORTED_FROM] == "csv" for e in events)
    return events, talk


def live_stage(stores) -> PartitionIngest:
    """A partition that has streamed today's calls: its clock is at 2026-01-05 21:00."""
    stage = PartitionIngest(SETTINGS, RAW_TOPIC, *stores)
    live = [e for n in range(4) for e in voice_contact(f"live-{n}", at=n * 4 * 3600)]
    assert len(feed(stage, live, size=50)) == 4
    return stage


def test_a_year_old_import_into_a_live_partition_folds_every_contact_whole(stores, history):
    events, talk = history
    stage = live_stage(stores)

    records = feed(stage, events, size=7, first_offset=1000)

    assert len(records) == 60 and stage.fold.too_late == 0
    assert {r["status"] for r in records.values()} == {"closed"}
    answered = {r["contact_id"]: r["talk_seconds"] for r in records.values() if r["answered_at"]}
    assert sorted(answered.values()) == sorted(talk.values())
    assert sum(r["abandoned"] for r in records.values()) == 12
    assert all(r["started_at"].startswith("2025-01-06") for r in records.values())
    assert all(r["version"] == 1 for r in records.values())  # never a half contact first


def test_without_its_lane_the_same_history_is_judged_too_late(stores, history):
    """What the lanes fix: by the partition's clock a year-old contact is timed out and pruned
    by the batch that starts it, and its events in later batches are too late."""
    events, _ = history
    stage = live_stage(stores)

    records = feed(stage, unmarked(events), size=7, first_offset=1000)

    assert stage.fold.too_late > 0
    whole = [r for r in records.values() if r["status"] == "closed" and r["started_at"]]
    assert len(whole) < 60


def imported_contact(ev, contact_id: str, at: float, close: bool = True) -> list[dict]:
    marked = {IMPORTED_FROM: "csv"}
    events = [
        ev("contact.started", at, contact_id, direction="inbound", attributes=marked),
        ev("contact.queued", at + 1, contact_id, queue="q1", attributes=marked),
    ]
    if close:
        events.append(ev("contact.abandoned", at + 30, contact_id, attributes=marked))
    return events


def lane_fold(store) -> ContactFold:
    return ContactFold(
        store,
        short_abandon_seconds=5,
        idle_timeout_seconds=IDLE,
        retention_seconds=RETAIN,
        lateness_seconds=3600,
    )


LIVE = T0 + 400 * DAY  # the partition's watermark, far ahead of the imported contacts


def test_an_import_lane_times_out_and_prunes_by_its_own_clock(ev, json_store):
    store = json_store()
    fold = lane_fold(store)
    fold.apply(imported_contact(ev, "unfinished", 0, close=False), LIVE)
    assert fold.sweep(LIVE) == [] and "unfinished" in store  # not timed out by the live clock

    later = imported_contact(ev, "later", IDLE + 3600)  # the lane's clock passes the deadline
    records = fold.apply(later, LIVE) + fold.sweep(LIVE)

    assert {r.facts.contact_id: r.facts.status for r in records} == {
        "later": "closed",
        "unfinished": "incomplete",
    }
    assert set(store) == {"unfinished", "later"}
    fold.apply(imported_contact(ev, "next-week", 7 * DAY), LIVE)
    fold.sweep(LIVE)
    assert set(store) == {"next-week"} and fold.pruned == 2


def test_a_straggler_of_a_pruned_imported_contact_is_too_late_in_its_lane(ev, json_store):
    store = json_store()
    fold = lane_fold(store)
    fold.apply(imported_contact(ev, "c1", 0), LIVE)
    fold.apply(imported_contact(ev, "c2", 10 * DAY), LIVE)
    fold.sweep(LIVE)
    assert "c1" not in store

    marked = {IMPORTED_FROM: "csv"}
    straggler = ev("survey.completed", 60, "c1", attributes={"csat": 5, **marked})
    assert fold.apply([straggler], LIVE) == [] and fold.too_late == 1
    # another importer's history of the same days is its own lane: folded
    other = {IMPORTED_FROM: "queue-log"}
    [record] = fold.apply([ev("contact.deflected", 60, "q1", attributes=other)], LIVE)
    assert record.facts.deflected and fold.too_late == 1


def test_a_restart_restores_the_lane_clock_from_the_stored_contacts(ev, json_store):
    store = json_store()
    lane_fold(store).apply(imported_contact(ev, "unfinished", 0, close=False), LIVE)
    lane_fold(store).apply(imported_contact(ev, "later", IDLE + 3600, close=False), LIVE)

    restarted = lane_fold(store)
    records = restarted.sweep(LIVE)

    assert [r.facts.contact_id for r in records] == ["unfinished"]
    assert [r.facts.status for r in restarted.sweep(math.inf)] == ["incomplete"]
