"""The wallboard counts each day as the reports do: the wallboard topic of the session's
simulated run (tests/simulated_pipeline.py; its stream worker runs the wallboard agents) against
the KPI marts its refresh built, per tenant, reporting day (a Tokyo tenant's own), queue and
channel. Reads the shared run only."""

from __future__ import annotations

from collections import defaultdict

from orchestration.wallboard.feed import SnapshotFeed
from schemas.knob_sets import knob_set_id, mart_knobs
from schemas.topics import topic_names
from tests.harness import read_topic
from tests.simulated_pipeline import TOKYO_TENANT, SimulatedPipeline
from warehouse.build import connect_read_only

# The wallboard's counters and the mart columns that hold the same sums.
COLUMNS = {
    "offered": "sum(offered)",
    "answered": "sum(answered)",
    "abandoned": "sum(abandoned)",
    "short_abandons": "sum(short_abandons)",
    "answered_within_threshold": "sum(answered_within_threshold)",
    "abandoned_within_threshold": "sum(abandoned_within_threshold)",
    "answer_wait_ms": "round(sum(answer_wait_seconds_sum) * 1000)",
}


def test_the_wallboard_counts_every_day_as_the_kpi_marts(
    simulated_pipeline: SimulatedPipeline,
) -> None:
    settings = simulated_pipeline.settings
    feed = SnapshotFeed()
    for message in read_topic(settings, topic_names(settings).wallboard):
        feed.apply(message.key, message.value)
    board: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for tenant in feed.snapshots:
        for snapshot in feed.tenant_snapshots(tenant):
            for day, tiles in snapshot.get("days", {}).items():
                for tile, counts in tiles.items():
                    queue, channel = tile.rsplit("|", 1)
                    sums = board[tenant, day, queue, channel]
                    for counter in COLUMNS:
                        sums[counter] += counts[counter]
    with connect_read_only(settings) as con:
        rows = con.execute(
            f"select tenant, cast(day as varchar), queue, channel, "
            f"{', '.join(COLUMNS.values())} from mart_contact_kpis_hourly "
            "where knob_set = ? and queue is not null group by all",
            [knob_set_id(mart_knobs(settings))],
        ).fetchall()
    marts = {tuple(row[:4]): dict(zip(COLUMNS, row[4:], strict=True)) for row in rows}
    nonzero = {key: sums for key, sums in board.items() if any(sums.values())}
    assert len(marts) > 10 and {key[1] for key in marts if key[0] == TOKYO_TENANT} >= {
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
    }
    assert nonzero == {key: sums for key, sums in marts.items() if any(sums.values())}
