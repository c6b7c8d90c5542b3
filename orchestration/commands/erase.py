"""``omnicx erase``: the right to be forgotten (GDPR art. 17) for one tenant's customers
(orchestration.erasure; docs/tenancy.md, Erasure and offboarding)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from schemas.settings import Settings, SettingsError

if TYPE_CHECKING:
    from orchestration.erasure import ErasurePlan


@click.command()
@click.option("--tenant", required=True, help="The tenant (client brand) the customer is of.")
@click.option(
    "--identifier",
    "identifiers",
    multiple=True,
    metavar="KIND=VALUE",
    help="An identifier of the customer as the source systems know it (phone=+33612345678, "
    "email=..., customer_id=...); repeatable.",
)
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of KIND=VALUE lines (one identifier a line; # comments).",
)
@click.option(
    "--refresh/--no-refresh",
    default=True,
    show_default=True,
    help="Recompute the KPI and churn marts of the days the erased rows are on, so that the "
    "warehouse's materialized marts hold no old customer key either.",
)
@click.pass_obj
def erase(
    settings: Settings,
    tenant: str,
    identifiers: tuple[str, ...],
    file_: Path | None,
    refresh: bool,
) -> None:
    """Forget the stitched customers behind these identifiers, everywhere omnicx keeps data:
    their rows in the lake and the warehouse are anonymised (KPI totals unchanged), their
    identity, journey and churn state is deleted from the stream, and the compacted topics
    are tombstoned or anonymised. Run it with the stream workers and the sink stopped
    (`omnicx down`, `omnicx kafka start`), the broker running. An interrupted erasure is
    finished by the next `omnicx erase`. The log ($OMNICX_HOME/erasure/log.jsonl) says what
    was touched, never the identifiers."""
    from orchestration.erasure import (
        ErasureError,
        identifiers_file,
        parse_identifier,
        plan_customers,
    )

    texts = [*identifiers, *(identifiers_file(file_) if file_ else [])]
    if not texts:
        raise click.UsageError("give at least one --identifier KIND=VALUE or a --file of them")
    try:
        parsed = [parse_identifier(text) for text in texts]
    except ErasureError as exc:
        raise click.BadParameter(str(exc), param_hint="--identifier") from None
    finish_pending(settings, refresh)
    try:
        plan = plan_customers(settings, tenant, parsed)
    except (ErasureError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    if not plan.customers:
        click.echo(f"nothing of tenant {tenant} is linked to these identifiers: nothing to erase")
        return
    apply_and_say(settings, plan, refresh)


def finish_pending(settings: Settings, refresh: bool) -> None:
    """Finish the erasures a crash interrupted, with the tokens they had chosen."""
    from orchestration.erasure import pending_plans

    for plan in pending_plans(settings):
        click.echo(f"finishing erasure {plan.erasure_id}, interrupted earlier")
        apply_and_say(settings, plan, refresh)


def apply_and_say(settings: Settings, plan: ErasurePlan, refresh: bool) -> None:
    """Apply an erasure plan, say what it touched, and refresh the marts of its days."""
    from orchestration.erasure import ErasureError, apply_plan, refresh_range
    from pipelines.kafka_io import KafkaUnavailable
    from warehouse.erasure import LakeBusy
    from warehouse.landing import SINK_DIR

    try:
        report = apply_plan(settings, plan)
    except (ErasureError, LakeBusy, KafkaUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    who = f"tenant {plan.tenant}" if plan.whole_tenant else f"{report.customers} customer(s)"
    click.echo(f"erasure {report.erasure_id}: {who}, {report.contacts} contact(s)")
    for what, counts in (
        ("lake rows", report.lake_rows),
        ("stream state entries", report.state_entries),
        ("topic records", report.topic_records),
    ):
        listed = ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"
        click.echo(f"  {what}: {listed}")
    quarantined = sum(1 for _ in (settings.lake_dir / SINK_DIR / "quarantine").rglob("*.parquet*"))
    if quarantined:
        click.echo(
            f"  not erased: {quarantined} quarantined lake files in "
            f"{settings.lake_dir / SINK_DIR / 'quarantine'} (check them, delete them)"
        )
    days = refresh_range(report.days)
    if days is None:
        return
    if not refresh:
        click.echo(
            f"  not refreshed: run `omnicx refresh --from {days[0]} --to {days[1]}` so that the "
            "materialized marts drop the old customer keys, then `omnicx warehouse build` so "
            "that no byte of them stays in the warehouse file"
        )
        return
    refresh_marts(settings, *days)


def refresh_marts(settings: Settings, first: date, last: date) -> None:
    from orchestration.commands.refresh import run_refresh
    from orchestration.partitions import partitions_start, today
    from warehouse.build import build_warehouse

    now = today(settings)
    first, last = max(first, partitions_start(settings, now)), min(last, now)
    if first > last:
        return
    config_file = click.get_current_context().find_root().params.get("config")
    result = run_refresh(settings, first, last, config_file)
    if not result.success:
        raise click.ClickException(
            f"the refresh of {first}..{last} failed: run `omnicx refresh --from {first} --to "
            f"{last}` again (the erasure itself is complete)"
        )
    # The refresh's builds copy the file, whose free space can keep the old rows' bytes.
    build_warehouse(settings, fresh=True)
    click.echo(f"  refreshed the marts of {first}..{last}")
