"""The fault ledger in ground_truth.json describes exactly what is in events.jsonl."""

from __future__ import annotations

from collections import Counter

import orjson

from pipelines.simulator.config import FaultRates, SimulationConfig
from schemas.settings import Settings
from schemas.times import parse_rfc3339
from schemas.validation import validate
from tests.pipelines import replay
from tests.pipelines.conftest import Run, simulate_to


def test_the_file_holds_exactly_the_messages_the_ledger_counts(small_run: Run) -> None:
    faults = small_run.truth["faults"]
    assert len(small_run.lines) == faults["messages"]
    events, _ = replay.read(small_run.lines)
    assert len(events) == faults["events"]
    assert faults["messages"] == faults["events"] + faults["duplicates"] + faults["malformed"]


def test_duplicates_are_identical_bytes_of_one_event_id(small_run: Run) -> None:
    by_id: dict[str, set[bytes]] = {}
    copies = Counter()
    for raw in small_run.lines:
        event = replay.parse(raw)
        if event is not None:
            by_id.setdefault(event["event_id"], set()).add(raw)
            copies[event["event_id"]] += 1
    assert sum(n - 1 for n in copies.values()) == small_run.truth["faults"]["duplicates"] > 20
    assert all(len(variants) == 1 for variants in by_id.values())


def test_malformed_messages_are_where_and_what_the_ledger_says(small_run: Run) -> None:
    faults = small_run.truth["faults"]
    _, broken = replay.read(small_run.lines)
    listed = faults["malformed_messages"]
    assert broken == [m["index"] for m in listed]
    assert Counter(m["kind"] for m in listed) == Counter(
        {k: n for k, n in faults["malformed_by_kind"].items() if n}
    )
    assert set(faults["malformed_by_kind"]) == {
        "not_json", "missing_field", "wrong_type", "unknown_event_type", "bad_time",
    }  # fmt: skip
    assert all(n >= 1 for n in faults["malformed_by_kind"].values())
    assert all(b"\n" not in small_run.lines[m["index"]] for m in listed)


def test_out_of_order_and_late_counts_match_the_send_order(small_run: Run) -> None:
    faults = small_run.truth["faults"]
    newest = -1.0
    out_of_order = late = 0
    worst = 0.0
    for raw in small_run.lines:
        event = replay.parse(raw)
        if event is None:
            continue
        at = parse_rfc3339(event["occurred_at"])
        if at < newest:
            out_of_order += 1
            late += newest - at > faults["late_after_seconds"]
            worst = max(worst, newest - at)
        else:
            newest = at
    assert (out_of_order, late) == (faults["out_of_order"], faults["late"])
    assert out_of_order > 50 and late > 5
    assert faults["max_lateness_seconds"] == round(worst, 3)
    assert worst <= Settings().stream.lateness_seconds


def test_every_valid_message_passes_validation_and_every_bad_one_fails_where_listed(
    small_run: Run,
) -> None:
    listed = {m["index"]: m for m in small_run.truth["faults"]["malformed_messages"]}
    for index, raw in enumerate(small_run.lines):
        result = validate(raw)
        if index in listed:
            assert not result.ok, listed[index]
            assert listed[index]["path"] in [p.path for p in result.problems], listed[index]
        else:
            assert result.ok, (index, [str(p) for p in result.problems])


def test_a_clean_feed_has_no_faults_and_the_same_events(small_run: Run, tmp_path) -> None:
    from tests.pipelines.conftest import SMALL

    clean = simulate_to(tmp_path, SimulationConfig(**{**vars(SMALL), "faults": FaultRates.none()}))
    faults = clean.truth["faults"]
    assert (faults["duplicates"], faults["out_of_order"], faults["malformed"]) == (0, 0, 0)
    # Faults only add and move messages: the centre, its events and its truth are the same.
    assert clean.contacts == small_run.contacts
    assert clean.truth["kpis"] == small_run.truth["kpis"]
    faulty_events, _ = replay.read(small_run.lines)
    assert [orjson.loads(raw) for raw in clean.lines] == [
        {k: v for k, v in e.items() if k != "_ms"} for e in faulty_events
    ]
