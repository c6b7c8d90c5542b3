"""The marts' KPIs against the simulator's ground truth (``ground_truth.json`` ``kpis``): what
``omnicx kpis`` reads, grouped as the truth groups them, and the comparison the end-to-end tests
share (exact for counts and ratios of counts, within 0.1% for means of times and scores)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from schemas.settings import Settings
from warehouse.kpis import kpi_values

# KPIs whose value is a mean (the warehouse stores times to the millisecond)
MEANS = ("asa.v1", "aht.v1", "csat.v1.mean", "ces.v1", "repeat_rate.v1", "first_response.v1")


def kpis_by(
    con: duckdb.DuckDBPyConnection, settings: Settings, first: date, last: date, by: list[str]
) -> dict[tuple[str, ...], dict[str, float | None]]:
    """Every KPI value of the days ``first..last``, by the ``by`` values as text."""
    values: dict[tuple[str, ...], dict[str, float | None]] = {}
    for row in kpi_values(con, first, last, by, settings):
        values.setdefault(tuple(str(row[d]) for d in by), {})[row["kpi"]] = row["value"]
    return values


def assert_kpis_equal(ours: dict, truth: dict, where: str) -> None:
    """Every KPI of ``truth`` in ``ours``: exact for counts and ratios, within 0.1% for means."""
    assert truth, where
    for kpi, expected in truth.items():
        got = ours.get(kpi)
        if expected is None:
            assert got is None, f"{where} {kpi}: {got} instead of no value"
        elif kpi.startswith(MEANS):
            assert got == pytest.approx(expected, rel=1e-3), f"{where} {kpi}"
        else:
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), f"{where} {kpi}"
