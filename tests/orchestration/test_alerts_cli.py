"""``omnicx alerts list``, ``show``, ``summary`` and ``test-webhook`` on a hand-made lake and a real HTTP
receiver on loopback; int_alerts and int_alert_deliveries keep one row per alert and channel."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from schemas.records import ContactFacts
from tests.orchestration.alert_fixtures import SECRET, SECRET_ENV, alert_record, receiver
from tests.warehouse.lakes import lake_settings, land
from warehouse.build import build_warehouse, connect_read_only
from warehouse.tables import ALERT_DELIVERIES, ALERTS, CONTACT_VERSIONS


def _outcome(alert: dict, channel: str, status: str, attempts: int, **more) -> dict:
    return {
        "alert_id": alert["alert_id"], "tenant": alert["tenant"], "channel": channel,
        "status": status, "attempts": attempts, "last_error": None,
        "first_attempt_at": "2026-01-05T09:20:01.500Z", "finished_at": "2026-01-05T09:20:02.000Z",
        "latency_seconds": 0.877, **more,
    }  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A warehouse with two alerts (one published twice) and their deliveries."""
    settings = lake_settings(tmp_path)
    early = alert_record("brand-a", 1)
    late = alert_record("brand-b", 2, created_at="2026-01-06T10:00:00.000Z", score=85)
    land(settings, ALERTS, [early, late, early])  # the third: a stream replay
    land(
        settings,
        ALERT_DELIVERIES,
        [
            _outcome(early, "webhook:crm", "delivered", 2, last_error="HTTP 500"),
            _outcome(early, "email", "failed", 10, last_error="SMTP 451 (SMTPDataError)"),
            _outcome(early, "webhook:crm", "delivered", 2, last_error="HTTP 500"),  # again
            _outcome(late, "webhook:crm", "delivered", 1),
        ],
    )
    contact = ContactFacts(
        contact_id="ct-1-1", tenant="brand-a", channel="voice", queues=["billing"],
        started_at="2026-01-05T09:00:00.000Z", reason="billing_dispute",
    )  # fmt: skip
    land(settings, CONTACT_VERSIONS, [{**contact.to_dict(), "version": 1}])
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        counts = con.execute(
            "select (select count(*) from int_alerts), (select count(*) from stg_alerts), "
            "(select count(*) from int_alert_deliveries)"
        ).fetchone()
    assert counts == (2, 3, 3)
    return tmp_path


def _run(home: Path, *args: str):
    return CliRunner().invoke(main, ["--home", str(home), "alerts", *args])


def test_list_shows_each_alert_once_newest_first_with_its_outcomes(home: Path) -> None:
    listed = _run(home, "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = orjson.loads(listed.stdout)
    assert [(r["tenant"], r["score"]) for r in rows] == [("brand-b", 85), ("brand-a", 70)]
    assert rows[1]["signals"] == "cancellation_intent, nps_detractor"
    assert rows[1]["deliveries"] == "email failed, webhook:crm delivered"
    only_a = orjson.loads(_run(home, "list", "--tenant", "brand-a", "--format", "json").stdout)
    assert [r["alert_id"] for r in only_a] == [alert_record("brand-a", 1)["alert_id"]]
    since = orjson.loads(_run(home, "list", "--since", "2026-01-06", "--format", "json").stdout)
    assert [r["tenant"] for r in since] == ["brand-b"]
    table = _run(home, "list").stdout
    assert "(2 rows)" in table and "brand-b" in table


def test_summary_counts_the_days_alerts_their_top_reasons_and_shows_one_example(
    home: Path,
) -> None:
    """What ``./dev demo`` prints: alerts dated by their triggering event (both on 01-05, the
    brand-b one scored on 01-06), counted once; the example the highest score."""
    late = alert_record("brand-b", 2)["alert_id"]
    shown = _run(home, "summary", "--from", "2026-01-05")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines() == [
        "alerts fired:   2  (brand-a 1, brand-b 1; flagged 2)",
        "top reasons:    cancellation_intent 2, nps_detractor 2  (alerts naming each signal)",
        f"example:        {late}  brand-b  score 85 (threshold 50): "
        "cancellation_intent +40, nps_detractor +30",
    ]
    assert "customer_id:" not in shown.stdout  # no customer identifier, not even hashed
    later = _run(home, "summary", "--from", "2026-01-06", "--to", "2026-01-07")
    assert later.stdout.splitlines() == ["alerts fired:   0"]
    found = orjson.loads(_run(home, "summary", "--from", "2026-01-05", "--format", "json").stdout)
    assert (found["alerts"], found["by_reason"], found["example"]["alert_id"]) == (
        2,
        {"flagged": 2},
        late,
    )
    backwards = _run(home, "summary", "--from", "2026-01-06", "--to", "2026-01-05")
    assert backwards.exit_code == 2 and "is before --from" in backwards.output


def test_show_explains_the_alert_signal_by_signal_with_its_contacts(home: Path) -> None:
    alert = alert_record("brand-a", 1)
    shown = _run(home, "show", alert["alert_id"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert "score         70 (threshold 50, previously 40): became at risk" in lines
    signals = lines[
        lines.index("why, signal by signal (weight, then the contacts that raised it):") :
    ]
    assert signals[1].split() == ["cancellation_intent", "+40"]
    assert signals[2].split()[:3] == ["ct-1-2", "2026-01-05", "09:20:00"]
    assert "not in the warehouse (yet)" in signals[2]
    assert signals[3].split() == ["nps_detractor", "+30"]
    assert "voice, queue billing, reason billing_dispute" in signals[4]
    assert signals[5].split() == ["total", "70"]
    assert (
        "  email                failed (10 attempts, 0.9 s after): SMTP 451 (SMTPDataError)"
        in lines
    )
    assert "  webhook:crm          delivered (2 attempts, 0.9 s after)" in lines


def test_show_of_an_unknown_alert_is_one_error_line(home: Path) -> None:
    shown = _run(home, "show", "al-nope")
    assert shown.exit_code == 1
    assert shown.stderr == "error: no alert al-nope in the warehouse (see `omnicx alerts list`)\n"


def test_test_webhook_sends_a_signed_sample(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with receiver({"/down": lambda *_: 503}) as http:
        sent = _run(tmp_path, "test-webhook", http.url("/crm"), "--secret-env", SECRET_ENV)
        refused = _run(tmp_path, "test-webhook", http.url("/down"), "--secret-env", SECRET_ENV)
        unnamed = _run(tmp_path, "test-webhook", http.url("/crm"))
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(f"{http.url('/crm')} answered HTTP 200 in ")
    [request] = http.on("/crm")
    payload = request.verified()
    assert (payload["sample"], payload["alert_id"]) == (True, request.webhook_id)
    assert payload["business_keys"] == {"customer_id": [], "account_id": []}
    assert refused.exit_code == 1
    assert refused.stderr == f"error: {http.url('/down')} did not take the sample: HTTP 503\n"
    assert unnamed.exit_code == 2 and "--secret-env" in unnamed.stderr


def test_deliver_without_a_channel_says_how_to_configure_one(tmp_path: Path) -> None:
    refused = _run(tmp_path, "deliver")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: no alert channel configured")


def test_a_second_delivery_worker_on_the_same_log_is_refused(tmp_path: Path) -> None:
    from orchestration.alerts.worker import DeliveryWorker, WorkerRunning

    settings = lake_settings(tmp_path)
    first = DeliveryWorker(settings)
    with pytest.raises(WorkerRunning, match=r"another delivery worker uses .*delivery\.sqlite3"):
        DeliveryWorker(settings)
    assert oct(settings.alert_delivery_log.stat().st_mode & 0o777) == "0o600"  # business keys
    first.log.close()


def test_show_as_json_carries_each_contact_and_delivery(home: Path) -> None:
    shown = _run(home, "show", alert_record("brand-a", 1)["alert_id"], "--format", "json")
    alert = orjson.loads(shown.stdout)
    evidence = {e["contact_id"]: e["contact"] for s in alert["signals"] for e in s["evidence"]}
    assert evidence["ct-1-2"] is None
    assert (evidence["ct-1-1"]["channel"], evidence["ct-1-1"]["queue"]) == ("voice", "billing")
    assert [(d["channel"], d["status"]) for d in alert["deliveries"]] == [
        ("email", "failed"),
        ("webhook:crm", "delivered"),
    ]


def test_since_takes_a_duration_or_a_utc_time() -> None:
    from datetime import UTC, datetime

    from orchestration.alerts.report import since_time

    now = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
    assert since_time("6h", now) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
    assert since_time("30m", now) == datetime(2026, 1, 6, 11, 30, tzinfo=UTC)
    assert since_time("7d", now) == datetime(2025, 12, 30, 12, 0, tzinfo=UTC)
    assert since_time("2026-01-05T09:00", now) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        since_time("yesterday", now)
