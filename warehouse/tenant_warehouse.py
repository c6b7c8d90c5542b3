"""Tenant-scoped warehouse files: one brand's rows of every relation of the warehouse, in a
DuckDB file of its own that its analysts, BI tools and reports open (docs/tenancy.md).

The file is derived from the published warehouse, relation by relation, from what that file's
catalog holds (so a relation added later is scoped without a change here):

- the ``lake_*`` views become tables of the tenant's rows (every lake table has a ``tenant``
  column): the tenant file holds data, not views over the lake, so that it needs no file access;
  so do the ``mat_*`` views over the materialised latest versions (``warehouse.materialize``),
  which read Parquet files of every tenant;
- every other view is created again from its own SQL, over those tables: it computes from the
  tenant's rows only (``int_event_id_collisions`` then names only the tenant's collisions);
- a table that is a staging or intermediate model materialized as a table is computed again from
  its model file in the same way;
- any other table (the marts) with a ``tenant`` column keeps the tenant's rows (a row of no
  tenant, like the forecast backtest's pooled row, is nobody's and stays out);
- the few tables without a ``tenant`` column are the knobs and targets: ``_SETTINGS_TABLES``
  says how each is scoped. Any other such table stops the build (``TenantScopeError``): a new
  relation is never copied whole by accident.

The file is built aside and renamed over the previous one (``warehouse.build.publish``), with
the same comments; ``connect_tenant_analyst`` opens it with no file access at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from schemas.settings import Settings
from warehouse.build import (
    VIEW_LAYERS,
    Model,
    WarehouseMissing,
    in_dependency_order,
    layer_models,
    publish,
)
from warehouse.catalog import relations_of
from warehouse.materialize import FILE_VIEWS
from warehouse.query import lock_down

SOURCE = "source"  # the published warehouse, attached read-only while a tenant file is built
LAKE_VIEW_PREFIX = "lake_"
# Views over files outside the warehouse: the tenant file holds their tenant's rows instead.
_FILE_VIEWS = frozenset(FILE_VIEWS)


class TenantScopeError(RuntimeError):
    """A relation of the warehouse that the tenant build does not know how to scope."""


def _knob_sets(rows: list[tuple[Any, ...]], tenant: str) -> list[tuple[Any, ...]]:
    """kpi_knob_sets: the knobs name every tenant's reporting time zone; keep the tenant's."""
    scoped = []
    for knob_set, definitions, knobs in rows:
        values = json.loads(knobs)
        zones = values.pop("time_zones", None)
        if zones and tenant in zones:
            values["time_zones"] = {tenant: zones[tenant]}
        scoped.append((knob_set, definitions, json.dumps(values, sort_keys=True)))
    return scoped


def _target_sets(rows: list[tuple[Any, ...]], tenant: str) -> list[tuple[Any, ...]]:
    """kpi_target_sets: targets per tenant ("*": every other); keep the tenant's and "*"."""
    scoped = []
    for target_set, targets in rows:
        values = {k: v for k, v in json.loads(targets).items() if k in ("*", tenant)}
        scoped.append((target_set, json.dumps(values, sort_keys=True)))
    return scoped


def _whole(rows: list[tuple[Any, ...]], tenant: str) -> list[tuple[Any, ...]]:
    """A table of knob values that names no tenant: the same for every tenant."""
    return rows


Scoping = Callable[[list[tuple[Any, ...]], str], list[tuple[Any, ...]]]
# The tables without a tenant column, and how a tenant's file gets them.
_SETTINGS_TABLES: dict[str, Scoping] = {
    "kpi_knobs": _whole,
    "kpi_knob_sets": _knob_sets,
    "kpi_target_sets": _target_sets,
}


def build_tenant_warehouse(settings: Settings, tenant: str) -> Path:
    """Build the tenant's warehouse file from the published warehouse and swap it in; its path."""
    source = settings.duckdb_file.resolve()
    if not source.exists():
        raise WarehouseMissing(f"no warehouse at {source}: run `omnicx warehouse build` first")
    target = settings.tenant_warehouse_file(tenant).resolve()
    return publish(target, lambda con: _fill(con, source, tenant))


def build_tenant_warehouses(settings: Settings) -> list[Path]:
    """The files of every tenant of ``[warehouse] tenant_warehouses``, rebuilt."""
    return [build_tenant_warehouse(settings, t) for t in settings.warehouse.tenant_warehouses]


def _fill(con: duckdb.DuckDBPyConnection, source: Path, tenant: str) -> None:
    (own,) = con.execute("select current_database()").fetchone()
    con.execute(f"attach {_literal(str(source))} as {SOURCE} (read_only)")
    try:
        con.execute(f"use {SOURCE}")
        relations = relations_of(con)
        views = dict(
            con.execute(
                "select view_name, sql from duckdb_views() "
                "where database_name = ? and schema_name = 'main' and not internal",
                [SOURCE],
            ).fetchall()
        )
        con.execute(f"use {_ident(own)}")
        models = {m.name: m.sql for layer in VIEW_LAYERS for m in layer_models(layer)}
        derived: list[Model] = []
        for relation in relations:
            name = relation.name
            columns = {c.name for c in relation.columns}
            if relation.kind == "view" and (
                name.startswith(LAKE_VIEW_PREFIX) or name in _FILE_VIEWS
            ):
                _copy_rows(con, name, tenant)
            elif relation.kind == "view":
                derived.append(Model(name, "view", views[name]))
            elif name in models:
                derived.append(Model(name, "table", f"create table {name} as {models[name]}"))
            elif "tenant" in columns:
                _copy_rows(con, name, tenant)
            elif name in _SETTINGS_TABLES:
                _copy_scoped(con, name, tenant, _SETTINGS_TABLES[name])
            else:
                raise TenantScopeError(
                    f"table {name} of the warehouse has no tenant column and no rule for a "
                    "tenant's file: add one to _SETTINGS_TABLES in warehouse/tenant_warehouse.py"
                )
    finally:
        con.execute(f"use {_ident(own)}")
        con.execute(f"detach {SOURCE}")
    # The views and recomputed models read the tenant's tables just copied, not the source.
    for model in in_dependency_order(derived):
        con.execute(model.sql)


def _copy_rows(con: duckdb.DuckDBPyConnection, name: str, tenant: str) -> None:
    con.execute(
        f"create table {_ident(name)} as "
        f"select * from {SOURCE}.main.{_ident(name)} where tenant = $tenant",
        {"tenant": tenant},
    )


def _copy_scoped(con: duckdb.DuckDBPyConnection, name: str, tenant: str, scope: Scoping) -> None:
    source = f"{SOURCE}.main.{_ident(name)}"
    con.execute(f"create table {_ident(name)} as select * from {source} limit 0")
    rows = scope(con.execute(f"select * from {source}").fetchall(), tenant)
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"insert into {_ident(name)} values ({marks})", rows)


def connect_tenant_read_only(settings: Settings, tenant: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the tenant's published file (WarehouseMissing without one)."""
    path = settings.tenant_warehouse_file(tenant)
    if not path.exists():
        raise WarehouseMissing(
            f"no warehouse file of tenant {tenant} at {path}: run "
            f"`omnicx warehouse build --tenant {tenant}` first"
        )
    return duckdb.connect(str(path), read_only=True)


def connect_tenant_analyst(settings: Settings, tenant: str) -> duckdb.DuckDBPyConnection:
    """The tenant's file, read-only, reaching no other file at all (its data is inside it), no
    extension and no setting: for analysts' SQL through ``warehouse.query.run``."""
    return lock_down(connect_tenant_read_only(settings, tenant), [])


def connect_scope(settings: Settings, tenant: str | None) -> duckdb.DuckDBPyConnection:
    """Where a reader of one tenant's numbers (a report) reads: the tenant's file when it has
    one, else the warehouse (whose readers then filter by tenant)."""
    from warehouse.build import connect_read_only

    if tenant is not None and settings.tenant_warehouse_file(tenant).exists():
        return connect_tenant_read_only(settings, tenant)
    return connect_read_only(settings)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
