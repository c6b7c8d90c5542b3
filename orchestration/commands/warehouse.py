"""``omnicx warehouse build``: the analysts' DuckDB file, rebuilt from the lake, and the
tenant-scoped files derived from it (docs/tenancy.md)."""

from __future__ import annotations

import click

from schemas.settings import Settings


@click.group()
def warehouse() -> None:
    """The DuckDB warehouse over the Parquet lake (docs/warehouse.md)."""


@warehouse.command()
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    metavar="NAME",
    help="Build this tenant's own file from the published warehouse instead (repeatable): "
    "only its rows of every relation (docs/tenancy.md).",
)
@click.pass_obj
def build(settings: Settings, tenants: tuple[str, ...]) -> None:
    """Build the warehouse file aside and swap it in atomically: readers are never blocked.

    Views over the lake see every file landed later without a rebuild; rebuild after the SQL
    models change. Marts already in the file are kept, written into a fresh file (the refresh's
    builds copy the file instead, whose free space can keep deleted rows' bytes). With --tenant, the tenant's file is
    built from the published warehouse the same way (the refresh rebuilds the files of the
    tenants of [warehouse] tenant_warehouses by itself).
    """
    from schemas.settings import SettingsError, check_tenant_name
    from warehouse.build import WarehouseMissing, build_warehouse
    from warehouse.tenant_warehouse import build_tenant_warehouse

    if not tenants:
        path = build_warehouse(settings, fresh=True)
        click.echo(f"warehouse built at {path} (lake: {settings.lake_dir.resolve()})")
        return
    for tenant in tenants:
        try:
            check_tenant_name(tenant, "--tenant")
        except SettingsError as exc:
            raise click.BadParameter(
                str(exc).removeprefix("--tenant: "), param_hint="--tenant"
            ) from None
    for tenant in tenants:
        try:
            path = build_tenant_warehouse(settings, tenant)
        except WarehouseMissing as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"warehouse of tenant {tenant} built at {path}")
