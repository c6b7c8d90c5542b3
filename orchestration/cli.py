"""``omnicx``: the operators' command line. Each subcommand lives in ``orchestration/commands``."""

from __future__ import annotations

from pathlib import Path

import click

from orchestration.commands import COMMANDS
from schemas.settings import SettingsError, load_settings, with_overrides


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (default: $OMNICX_CONFIG, else ./omnicx.toml when present).",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory (broker, stream state, lake, warehouse); overrides $OMNICX_HOME.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None, home: Path | None) -> None:
    """omnicx: omnichannel contact-centre analytics on Kafka, Faust, DuckDB and Dagster."""
    try:
        settings = load_settings(config_file=config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = settings if home is None else with_overrides(settings, home=home)


for command in COMMANDS:
    main.add_command(command)
