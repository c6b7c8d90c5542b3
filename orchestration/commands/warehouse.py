"""``omnicx warehouse build``: the analysts' DuckDB file, rebuilt from the lake."""

from __future__ import annotations

import click

from schemas.settings import Settings


@click.group()
def warehouse() -> None:
    """The DuckDB warehouse over the Parquet lake (docs/warehouse.md)."""


@warehouse.command()
@click.pass_obj
def build(settings: Settings) -> None:
    """Build the warehouse file aside and swap it in atomically: readers are never blocked.

    Views over the lake see every file landed later without a rebuild; rebuild after the SQL
    models change. Marts already in the file are kept.
    """
    from warehouse.build import build_warehouse

    path = build_warehouse(settings)
    click.echo(f"warehouse built at {path} (lake: {settings.lake_dir.resolve()})")
