"""Churn alerts on the real broker (docs/alerts.md): a customer already at risk (two abandoned
calls) sends a message saying they want to cancel and then a detractor survey; the stream
worker emits exactly one alert on the ``alerts`` topic, with those signals, and the raw CRM key
only on the operators' ``business-keys`` topic. A worker that starts over without any state
(as after losing it) replays the run and emits the same alert id again, never a new one; a
worker restarted on its state emits nothing new for the same events sent again.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from schemas.validation import record_problems
from streams.churn import alert_id
from tests.harness import isolated_settings, read_topic, stream_worker, wait_for_stream
from tests.streams.churn_events import CHURN, abandoned_call, cancelling_chat, send


def alerts(settings: Settings) -> list[dict]:
    return [orjson.loads(m.value) for m in read_topic(settings, topic_names(settings).alerts)]


def run_worker(settings: Settings, name: str = "worker-1") -> None:
    with stream_worker(settings, name) as worker:
        wait_for_stream(settings, [worker])


@pytest.fixture
def settings(kafka_settings: Settings, tmp_path: Path) -> Settings:
    return with_overrides(isolated_settings(kafka_settings, tmp_path), churn=CHURN)


def test_a_customer_at_risk_who_wants_to_cancel_raises_one_alert_and_replays_keep_its_id(
    settings: Settings,
) -> None:
    run = [*abandoned_call("c1", 0), *abandoned_call("c2", 10), *cancelling_chat("c3", 20)]
    send(settings, run)
    run_worker(settings)

    [alert] = alerts(settings)
    assert record_problems("alert", alert) == []
    assert (alert["reason"], alert["score"], alert["threshold"]) == ("flagged", 85, 80)
    assert [(s["signal"], s["weight"]) for s in alert["signals"]] == [
        ("cancellation_intent", 40),
        ("nps_detractor", 30),
        ("abandons", 15),
    ]
    evidence = {s["signal"]: [e["contact_id"] for e in s["evidence"]] for s in alert["signals"]}
    assert evidence == {
        "cancellation_intent": ["c3"],
        "nps_detractor": ["c3"],
        "abandons": ["c1", "c2"],
    }
    [hashed] = alert["customer_ids"]
    assert hashed.startswith("customer_id:") and alert["customer_key"] == hashed
    expected_id = alert_id("acme", hashed, alert["trigger_event_id"], "flagged")
    assert alert["alert_id"] == expected_id
    # The raw CRM key travels only on the operators' topic, keyed by its hash.
    keys = read_topic(settings, topic_names(settings).business_keys)
    assert [(m.key, orjson.loads(m.value)) for m in keys] == [
        (
            f"acme|{hashed}".encode(),
            {"tenant": "acme", "kind": "customer_id", "identifier": hashed, "value": "CUST-31337"},
        )
    ]
    assert all(
        b"CUST-31337" not in m.value for m in read_topic(settings, topic_names(settings).alerts)
    )

    # Restarted on its state, the same events sent again change nothing.
    send(settings, run)
    run_worker(settings)
    assert [a["alert_id"] for a in alerts(settings)] == [expected_id]

    # A worker without any state (another app id and state directory: empty tables, topics
    # read from the start) replays the whole run: the same alert again, under the same id.
    fresh = with_overrides(settings, stream={"app_id": settings.stream.app_id + "-fresh"})
    run_worker(fresh, "worker-fresh")
    replayed = alerts(settings)
    assert len(replayed) == 2
    assert {a["alert_id"] for a in replayed} == {expected_id}
    assert replayed[1]["signals"] == alert["signals"]
