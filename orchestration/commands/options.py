"""Options several commands share, so that they read and behave the same everywhere."""

from __future__ import annotations

import click

# Rows for people (a rich table) or for programs (exact CSV or JSON), as ``fmt``.
tabular_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
