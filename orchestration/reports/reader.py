"""What every section of a report reads through: the KPI values of ``warehouse.kpis`` (the
reader of ``omnicx kpis``) for the report's period, tenant and knob set, and the counts of
``orchestration.reports.queries`` for the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from orchestration.reports import queries
from orchestration.reports.kpis import definition
from orchestration.reports.model import Period, Table
from orchestration.reports.queries import Scope
from schemas.settings import Settings
from schemas.targets import CHANNELS, KpiTargets, Target, resolve
from warehouse.kpis import KnobSetMissing, current_knob_set, kpi_values

Key = tuple[Any, ...]
Values = dict[Key, dict[str, Any]]  # (kpi id, *group values) -> a kpi_values row


@dataclass
class Reader:
    settings: Settings
    con: duckdb.DuckDBPyConnection
    period: Period
    tenant: str | None  # None: every tenant
    generated_at: datetime
    _cache: dict[tuple[Period, tuple[str, ...]], Values] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The knob set `omnicx kpis` reads by default: the current settings'.
        self.knob_set = current_knob_set(self.settings)
        self.scope = Scope(self.period.first_day, self.period.last_day, self.tenant, self.knob_set)
        self.own_targets: dict[str, KpiTargets] = (
            self.settings.tenant(self.tenant).targets if self.tenant else {}
        )

    def values(self, by: Iterable[str], period: Period | None = None) -> Values:
        """KPI values of the period (default: the report's) per group of ``by``, of the
        report's tenant only. The previous period's are {} when the marts hold it only under
        other knobs (nothing comparable); the report's own period then raises
        ``KnobSetMissing``."""
        by = tuple(by)
        period = period or self.period
        if (period, by) not in self._cache:
            dimensions = list(by)
            if self.tenant is not None and "tenant" not in by:
                dimensions.insert(0, "tenant")
            first, last = period.first_day, period.last_day
            try:
                rows = kpi_values(self.con, first, last, dimensions, self.settings, self.knob_set)
            except KnobSetMissing:
                if period == self.period:
                    raise
                rows = []
            self._cache[period, by] = {
                (row["kpi"], *(row[d] for d in by)): row
                for row in rows
                if self.tenant is None or row["tenant"] == self.tenant
            }
        return self._cache[period, by]

    def value(self, kpi: str, *key: Any, by: Iterable[str] = (), period: Period | None = None):
        row = self.values(by, period).get((kpi, *key))
        return None if row is None else row["value"]

    def channels(self, kpi: str) -> list[str]:
        """The channels with a value of ``kpi`` in the period or the previous one."""
        previous = self.period.previous()
        return [
            channel
            for channel in CHANNELS
            if self.value(kpi, channel, by=["channel"]) is not None
            or self.value(kpi, channel, by=["channel"], period=previous) is not None
        ]

    def target(self, kpi: str, channel: str | None) -> Target | None:
        return resolve(kpi, channel, self.settings.targets, self.own_targets)

    def definition(self, kpi: str) -> str:
        return definition(kpi, self.settings.kpis.abandon_treatment)

    def query(self, sql: str, **more: Any) -> list[dict[str, Any]]:
        """The rows of a query of ``orchestration.reports.queries`` for this report."""
        return queries.rows(self.con, sql, self.scope, **more)

    def by_tenant(self, *by: str) -> list[str]:
        """``by``, after the tenant when the report covers every tenant (the same queue or
        agent name in two tenants is two queues or agents)."""
        return list(by) if self.tenant else ["tenant", *by]

    def table(
        self, key: str, title: str, columns: Sequence[tuple[str, str]], rows: Iterable[tuple]
    ) -> Table:
        """A table of (column, unit) ``columns``, led by the tenant when the report covers every
        tenant and its rows are per tenant (see ``by_tenant``)."""
        if self.tenant is None:
            columns = [("Tenant", "text"), *columns]
        return plain_table(key, title, columns, rows)


def plain_table(
    key: str, title: str, columns: Sequence[tuple[str, str]], rows: Iterable[tuple]
) -> Table:
    """A table of (column, unit) ``columns``."""
    return Table(
        key, title, tuple(c for c, _ in columns), tuple(u for _, u in columns), tuple(rows)
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def field_of(values: Values, kpi: str, key: Key, name: str = "value") -> Any:
    """``name`` (value, numerator, denominator) of a KPI's row; None without a row."""
    row = values.get((kpi, *key))
    return None if row is None else row[name]
