"""The subcommands of ``omnicx``, one module each; ``orchestration.cli`` registers them by name
and imports a command's module only when that command runs (or ``--help`` lists them all), so
that ``omnicx sql`` does not pay for the Kafka client, the simulator and rich tables too."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" under orchestration.commands
COMMANDS = {
    "up": "up:up",
    "down": "up:down",
    "status": "status:status",
    "kafka": "kafka:kafka",
    "stream": "stream:stream",
    "lag": "lag:lag",
    "simulate": "simulate:simulate",
    "import": "importer:import_",
    "sink": "sink:sink",
    "sql": "sql:sql",
    "replay-dead-letters": "replay:replay_dead_letters",
    "warehouse": "warehouse:warehouse",
    "refresh": "refresh:refresh",
    "kpis": "kpis:kpis",
    "staffing": "staffing:staffing",
    "report": "report:report",
    "forecast": "forecast:forecast",
    "outbound": "outbound:outbound",
    "checks": "checks:checks",
    "alerts": "alerts:alerts",
    "erase": "erase:erase",
    "tenants": "tenants:tenants",
    "wallboard": "wallboard:wallboard",
}


def load_command(name: str) -> click.Command | None:
    """The command called ``name`` (None for an unknown name), its module imported now."""
    where = COMMANDS.get(name)
    if where is None:
        return None
    module, attribute = where.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
