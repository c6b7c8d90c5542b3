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

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration.partitions import DAILY, SINGLE_RUN, partition_days
from orchestration.resources import WarehouseResource
from warehouse.build import VIEW_LAYERS, in_dependency_order, layer_models
from warehouse.kpi_inputs import missing_inputs
from warehouse.kpi_marts import MARTS, knob_set_id, mart_knobs, refresh_marts

CHURN_MARTS = frozenset({"mart_churn_risk"})


def _view_specs() -> list[AssetSpec]:
    # In dependency order: a multi-asset reports its assets upstream first.
    models = in_dependency_order([m for layer in VIEW_LAYERS for m in layer_models(layer)])
    names = {model.name for model in models}
    return [
        AssetSpec(
            model.name,
            group_name=model.layer,
            deps=sorted(model.references(names)),
            kinds={"duckdb"},
            description=f"View `{model.name}` (warehouse/sql/{model.layer}/{model.name}.sql).",
        )
        for model in models
    ]


def _mart_specs() -> list[AssetSpec]:
    return [
        AssetSpec(
            mart.name,
            group_name="churn" if mart.name in CHURN_MARTS else "marts",
            deps=list(mart.reads),
            kinds={"duckdb"},
            description=f"{'Table' if mart.day_column else 'View'} `{mart.name}` "
            f"(warehouse/sql/marts/{mart.name}.sql).",
        )
        for mart in MARTS
    ]


VIEW_SPECS = _view_specs()
MART_SPECS = _mart_specs()


@multi_asset(
    name="warehouse_views",
    specs=VIEW_SPECS,
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
)
def warehouse_views(warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
    """Rebuild the warehouse file with fresh views over the lake and publish it."""
    path = warehouse.build()
    for spec in VIEW_SPECS:
        yield MaterializeResult(
            asset_key=spec.key, metadata={"warehouse": MetadataValue.path(path)}
        )


@multi_asset(
    name="kpi_marts",
    specs=MART_SPECS,
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
)
def kpi_marts(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[MaterializeResult]:
    """Recompute the marts' rows of the run's days with the current knobs, and publish them."""
    date_from, date_to = partition_days(context)
    settings = warehouse.settings()
    rows: dict[str, int] = {}

    def refresh(con) -> None:
        missing = missing_inputs(con)
        if missing:
            raise Failure(
                description=f"the intermediate layer lacks what the marts read: {missing}"
            )
        rows.update(refresh_marts(con, date_from, date_to, settings))

    path = warehouse.build(marts=refresh)
    knob_set = knob_set_id(mart_knobs(settings))
    for mart in MARTS:
        metadata = {
            "warehouse": MetadataValue.path(path),
            "days": f"{date_from}..{date_to}",
            "knob_set": knob_set,
        }
        if mart.name in rows:
            metadata["rows_of_the_days"] = rows[mart.name]
        yield MaterializeResult(asset_key=mart.name, metadata=metadata)


ASSETS = [warehouse_views, kpi_marts]
