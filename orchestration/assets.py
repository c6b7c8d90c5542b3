"""The asset graph: the warehouse views (staging, intermediate: contacts and journeys) and the
KPI and churn marts, one asset per relation, all partitioned by day.

Two operations materialize them, because the warehouse file is never written in place
(``warehouse.build``: built aside and swapped in, so that readers are never blocked):

- ``warehouse_views`` rebuilds the file with the ``stg_*`` and ``int_*`` views of
  ``warehouse/sql/{staging,intermediate}`` (marts already in it are carried over);
- ``kpi_marts`` rebuilds it again, recomputing the marts' rows of the run's days in the new
  file before it is published.

The blocking checks of ``orchestration.checks`` run between the two, on the published views:
when one fails, ``kpi_marts`` does not run and the published KPIs stay as they were.
"""

import re
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration.partitions import SINGLE_RUN, partition_days
from orchestration.resources import WarehouseResource
from schemas.knob_sets import configured_targets
from schemas.settings import Settings
from warehouse.build import SQL_DIR, VIEW_LAYERS, Model, in_dependency_order, layer_models
from warehouse.catalog import load_catalog
from warehouse.kpi_inputs import missing_inputs
from warehouse.kpi_marts import MARTS, MartRefreshed, knob_set_id, mart_knobs, refresh_marts
from warehouse.materialize import FILE_VIEWS
from warehouse.tenant_warehouse import build_tenant_warehouses

CHURN_MARTS = frozenset({"mart_churn_risk"})


def sql_header(sql: str) -> str:
    """The leading ``--`` comment of a model, as text (its first ``name:`` dropped)."""
    paragraphs: list[str] = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        text = line.removeprefix("--").strip()
        # "Grain: ...", "Units: ...": a paragraph of their own in the UI
        if not paragraphs or re.match(r"[A-Z][a-z ]+: ", text):
            paragraphs.append(text)
        else:
            paragraphs[-1] += " " + text
    name, sep, rest = paragraphs[0].partition(": ") if paragraphs else ("", "", "")
    if sep and " " not in name:
        paragraphs[0] = rest
    return "\n\n".join(paragraphs)


def _spec(name: str, group: str, deps: list[str], sql_file: Path, owner: str) -> AssetSpec:
    """An asset of one relation: its SQL header as description, its grain from the catalogue."""
    grain = load_catalog().relation_comment(name) or ""
    path = sql_file.relative_to(SQL_DIR.parent.parent)
    return AssetSpec(
        name,
        group_name=group,
        deps=deps,
        kinds={"duckdb"},
        description=f"{sql_header(sql_file.read_text())}\n\nSource: `{path}`.",
        owners=[owner],
        metadata={"grain": grain, "sql": str(path)},
    )


def view_specs(owner: str) -> list[AssetSpec]:
    # The int_* models read the mat_* views (warehouse.materialize), which are the model they
    # are made from, materialised: in the asset graph they depend on that model.
    models = [
        Model(
            m.name, m.layer, re.sub(r"\bmat_[a-z_]+", lambda n: FILE_VIEWS.get(n[0], n[0]), m.sql)
        )
        for layer in VIEW_LAYERS
        for m in layer_models(layer)
    ]
    # In dependency order: a multi-asset reports its assets upstream first.
    models = in_dependency_order(models)
    names = {model.name for model in models}
    return [
        _spec(
            model.name,
            model.layer,
            sorted(model.references(names)),
            SQL_DIR / model.layer / f"{model.name}.sql",
            owner,
        )
        for model in models
    ]


def mart_specs(owner: str) -> list[AssetSpec]:
    return [
        _spec(
            mart.name,
            "churn" if mart.name in CHURN_MARTS else "marts",
            list(mart.reads),
            SQL_DIR / "marts" / f"{mart.name}.sql",
            owner,
        )
        for mart in MARTS
    ]


def build_assets(
    partitions: DailyPartitionsDefinition, settings: Settings
) -> list[AssetsDefinition]:
    """The two multi-assets over ``partitions``, their assets owned by the configured owner."""
    owner = settings.orchestration.asset_owner
    views = view_specs(owner)

    @multi_asset(
        name="warehouse_views",
        specs=views,
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
    )
    def warehouse_views(warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
        """Rebuild the warehouse file with fresh views over the lake and publish it."""
        path = warehouse.build()
        for spec in views:
            yield MaterializeResult(
                asset_key=spec.key, metadata={"warehouse": MetadataValue.path(path)}
            )

    @multi_asset(
        name="kpi_marts",
        specs=mart_specs(owner),
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
    )
    def kpi_marts(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        """Recompute the marts' rows of the run's days with the current knobs, and publish them."""
        date_from, date_to = partition_days(context)
        settings = warehouse.settings()
        refreshed: dict[str, MartRefreshed] = {}

        def refresh(con) -> None:
            missing = missing_inputs(con)
            if missing:
                raise Failure(
                    description=f"the intermediate layer lacks what the marts read: {missing}"
                )
            refreshed.update(refresh_marts(con, date_from, date_to, settings))

        path = warehouse.build(marts=refresh)
        # Each brand's own file, derived from the file just published (docs/tenancy.md).
        tenant_files = build_tenant_warehouses(settings)
        knob_set = knob_set_id(mart_knobs(settings))
        target_set, _ = configured_targets(settings)
        for mart in MARTS:
            metadata = {
                "warehouse": MetadataValue.path(path),
                "days": f"{date_from}..{date_to}",
                "knob_set": knob_set,
                "target_set": target_set,
            }
            if mart.name in refreshed:
                rows, seconds = refreshed[mart.name]
                metadata["rows_of_the_days"] = rows
                metadata["seconds"] = MetadataValue.float(round(seconds, 3))
            if tenant_files:
                metadata["tenant_warehouses"] = ", ".join(str(p) for p in tenant_files)
            yield MaterializeResult(asset_key=mart.name, metadata=metadata)

    return [warehouse_views, kpi_marts]
