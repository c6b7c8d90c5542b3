"""``omnicx tenants``: the tenants (client brands) of the deployment (docs/tenancy.md)."""

from __future__ import annotations

import click

from orchestration.commands.tenants_remove import remove


@click.group()
def tenants() -> None:
    """The tenants (client brands) of this deployment."""


tenants.add_command(remove)
