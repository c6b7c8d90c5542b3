"""The stream's live churn scoring and the batch mart agree (docs/alerts.md): a simulated run
goes through Kafka, a stream worker, the lake sink and the refresh; then the worker's own state,
read back from its changelog topics, must give every customer the score, flag and signals that
``mart_churn_risk`` gives it as of the end of each simulated day. The alerts the worker emitted
keep the alert record's schema, name customers the state flags, and carry unique ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from orchestration.commands.refresh import run_refresh
from pipelines.simulator.config import SimulationConfig
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from schemas.validation import record_problems
from streams.customers import CustomerStage
from tests.harness import isolated_settings, read_topic, stream_and_land
from tests.streams.test_stream_pipeline import Simulated
from warehouse.build import connect_read_only

FIRST_DAY = date(2026, 1, 5)
RUN = SimulationConfig(seed=11, days=2, agents=12, tenants=2, start=FIRST_DAY)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(RUN.days)]
# Low enough that a two-day run flags customers on several signals.
CHURN = {"threshold": 30}

Scores = dict[tuple[str, str], tuple[int, bool, list[str]]]


@pytest.fixture(scope="module")
def run(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("churn-agrees")
    settings = isolated_settings(kafka_settings, home)
    settings = with_overrides(
        settings,
        churn=CHURN,
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 1.0},
    )
    Simulated(settings, RUN)
    stream_and_land(settings, "churn")
    config = home / "omnicx.toml"  # the refresh reads its knobs from the settings file
    config.write_text("".join(f"[churn]\n{k} = {v}\n" for k, v in CHURN.items()))
    refresh = run_refresh(settings, DAYS[0], DAYS[-1], config)
    assert refresh.success
    with connect_read_only(settings) as con:
        marts = {day: mart_scores(con, day) for day in DAYS}
    return settings, marts, worker_state(settings)


def mart_scores(con: Any, day: date) -> Scores:
    rows = con.execute(
        "select tenant, customer_key, score, flagged, signals from mart_churn_risk "
        "where as_of_day = ?",
        [day],
    ).fetchall()
    return {(t, k): (score, flagged, list(signals)) for t, k, score, flagged, signals in rows}


def changelog(settings: Settings, table: str) -> dict[str, Any]:
    """A table of the worker as its changelog topic holds it (latest value per key)."""
    state: dict[str, Any] = {}
    for record in read_topic(settings, f"{settings.stream.app_id}-{table}-changelog"):
        key = record.key.decode()
        if record.value is None:
            state.pop(key, None)
        else:
            state[key] = orjson.loads(record.value)
    return state


def worker_state(settings: Settings) -> CustomerStage:
    """The worker's customer stage, rebuilt over the state it wrote."""
    return CustomerStage(
        settings,
        changelog(settings, "identity-state"),
        changelog(settings, "journey-state"),
        changelog(settings, "customer-key-state"),
        changelog(settings, "churn-state"),
    )


def stream_scores(stage: CustomerStage, day: date) -> Scores:
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    end_ms = round(end.timestamp() * 1000)
    customers = {
        tuple(key.split("|", 2)[1:])
        for key in stage.book.store
        if key.startswith("c|") and "|anonymous:" not in key
    }
    for key in stage.churn.store:  # opt-outs of customers without contacts
        if key.startswith("o|"):
            _, tenant, identifier = key.split("|", 2)
            customers.add((tenant, stage.graph.customer_key(tenant, [identifier])))
    scores: Scores = {}
    for tenant, customer in customers:
        if customer is None:
            continue
        score = stage.churn.score_as_of(tenant, customer, end_ms)
        if score.signals:
            signals = [signal for signal, _ in score.signals]
            scores[(tenant, customer)] = (score.score, score.flagged, signals)
    return scores


@pytest.mark.parametrize("day", DAYS)
def test_the_streams_scores_equal_the_marts_as_of_the_end_of_each_day(run, day: date) -> None:
    _, marts, stage = run
    mart, stream = marts[day], stream_scores(stage, day)
    assert sum(flagged for _, flagged, _ in mart.values()) >= 3  # a test that can fail
    assert len({signal for *_, signals in mart.values() for signal in signals}) >= 4
    different = {k: (mart.get(k), stream.get(k)) for k in mart.keys() | stream.keys()}
    different = {k: pair for k, pair in different.items() if pair[0] != pair[1]}
    assert different == {}


def test_the_workers_alerts_keep_the_contract_and_name_flagged_customers(run) -> None:
    settings, _, stage = run
    alerts = [orjson.loads(m.value) for m in read_topic(settings, topic_names(settings).alerts)]
    assert alerts, "the run raised no alert"
    assert [problems for a in alerts if (problems := record_problems("alert", a))] == []
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    for alert in alerts:
        assert alert["score"] >= alert["threshold"] == CHURN["threshold"]
        assert alert["reason"] in ("flagged", "rose")
    alerted = {(a["tenant"], a["customer_key"]) for a in alerts}
    held = {
        tuple(key.split("|", 2)[1:])
        for key, state in stage.churn.store.items()
        if key.startswith("a|") and state["alerted_ms"] is not None
    }
    # Every customer whose alert the state remembers was alerted (merges may retire a key).
    assert held <= alerted
