"""``omnicx tenants remove``: offboarding, a tenant's data deleted everywhere (orchestration.
erasure; docs/tenancy.md, Erasure and offboarding)."""

from __future__ import annotations

import click

from schemas.settings import Settings


@click.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--refresh/--no-refresh",
    default=True,
    show_default=True,
    help="Recompute the marts of the tenant's days, so that no mart row of it is left.",
)
@click.pass_obj
def remove(settings: Settings, name: str, yes: bool, refresh: bool) -> None:
    """Delete every row, stream state entry and compacted-topic record of tenant NAME, e.g.
    when a BPO's contract with that brand ends. Irreversible; asks first unless --yes. Run it
    with the stream workers and the sink stopped, the broker running (as `omnicx erase`).
    Remove the tenant's [tenants.NAME] settings yourself afterwards."""
    from orchestration.commands.erase import apply_and_say, finish_pending
    from orchestration.erasure import plan_tenant

    if not yes:
        click.confirm(
            f"Delete every record of tenant {name!r} from the lake, the warehouse, the "
            "stream's state and the compacted topics? This cannot be undone",
            abort=True,
        )
    finish_pending(settings, refresh)
    apply_and_say(settings, plan_tenant(name), refresh)
