"""Every check of a refresh over a long range of days, run as one Dagster run over those days
would run it, without Dagster: each expectation suite on the rows of the range
(``orchestration.checks.suites``, the same queries whatever the range) and the journey
reconciliation. A Dagster run over a year of partitions takes about 18 minutes on the 2-core
machine (docs/orchestration.md); the tests of a year of history (imported, simulated) use this,
and ``test_dagster_history.py`` runs the checks through Dagster on weeks with closed days."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson

from orchestration.checks.gx_validation import validate
from orchestration.checks.suites import SUITES
from schemas.settings import Settings, with_overrides
from schemas.times import parse_rfc3339
from tests.orchestration.offline_stream import stream_to_lake
from tests.pii import keyed_settings
from warehouse.build import build_warehouse, connect_read_only
from warehouse.kpi_checks import journey_mismatches
from warehouse.kpi_marts import refresh_marts

# The stream's wall clock when a year of history is landed: the Monday after its last day.
LANDED_AT = parse_rfc3339("2022-01-03T06:00:00Z")


def land_year(home: Path, events_jsonl: Path, first: date, last: date) -> Settings:
    """The events of ``events_jsonl`` (one JSON object a line) through the stream's stages into
    the lake of ``home``, then the warehouse published with the marts of ``first..last``; the
    settings of that home."""
    events = [orjson.loads(line) for line in events_jsonl.read_bytes().splitlines() if line]
    settings = with_overrides(keyed_settings(), home=home)
    stream_to_lake(settings, events, LANDED_AT)
    build_warehouse(settings, lambda con: refresh_marts(con, first, last, settings))
    return settings


def assert_every_check_passes(
    settings: Settings, first: date, last: date, run_name: str
) -> dict[str, dict[str, Any]]:
    """Assert that every suite passes on the days ``first..last`` of the published warehouse
    and that the stream's journeys equal the SQL recomputation (at least one compared); the
    metadata details of each suite that has some (``events_volume``: flagged and closed days)."""
    details: dict[str, dict[str, Any]] = {}
    with connect_read_only(settings) as con:
        days = {"date_from": first, "date_to": last}
        for suite in SUITES:
            frame = con.execute(suite.query, days).df()
            result = validate(
                frame, suite.name, suite.expectations(settings), settings, run_name=run_name
            )
            assert result.success, (suite.name, result.failed)
            if suite.details is not None:
                details[suite.name] = suite.details(frame, settings)
        compared, mismatches = journey_mismatches(con, first, last)
    assert mismatches == [] and compared > 0
    return details
