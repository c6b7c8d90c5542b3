"""``omnicx``: the operators' command line. Each subcommand lives in ``orchestration/commands``.

Every failure ends the same way, on standard error: one line ``error: <what went wrong> (<what
to do next>)`` and exit code 1, or exit code 2 for a command line that cannot be used (an
unknown option, a bad value, ``--to`` before ``--from``). A traceback is shown only with
``--debug`` (or ``OMNICX_DEBUG=1``), for failures that omnicx did not expect.

Log records go to ``$OMNICX_HOME/logs/<command>.log``; standard error shows omnicx's own, and
the libraries' too with ``-v`` (``pipelines.logs``, docs/orchestration.md, Logs and output).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from orchestration.commands import COMMANDS, load_command
from pipelines.logs import configure_logging
from schemas.settings import SettingsError, load_settings, with_overrides

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class OmnicxGroup(click.Group):
    """A click group whose errors all read alike (see the module docstring)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra,
    ):
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get("OMNICX_DEBUG", "") not in ("", "0")
        try:
            returned = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            code = returned if isinstance(returned, int) else 0
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else prog_name or "omnicx"
            _error(f"{exc.format_message()} (see `{where} --help`)")
            code = EXIT_USAGE
        except click.ClickException as exc:
            _error(exc.format_message())
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            _error("interrupted")
            code = EXIT_INTERRUPTED
        except Exception as exc:
            if debug:
                raise
            _error(f"{exc} ({type(exc).__name__}; run with --debug for the traceback)")
            code = EXIT_FAILED
        if standalone_mode:
            sys.exit(code)
        return code


class OmnicxCommands(OmnicxGroup):
    """``omnicx`` itself: its subcommands are imported only when used (``orchestration.commands``),
    so a command starts without the imports of all the others."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)


def _error(message: str) -> None:
    text = " ".join(message.split())  # one line, whatever the message held
    click.echo(f"error: {text}", err=True)


@click.group(cls=OmnicxCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="omnicx", prog_name="omnicx")
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
@click.option(
    "--debug",
    is_flag=True,
    help="Show the traceback of an unexpected failure (also OMNICX_DEBUG=1).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the libraries' log records on stderr too (they always go to "
    "$OMNICX_HOME/logs/<command>.log; also OMNICX_LOG_VERBOSE=1).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log records as text lines or JSON objects, on stderr and in the log file "
    "(default: $OMNICX_LOG_FORMAT, else text).",
)
@click.pass_context
def main(
    ctx: click.Context,
    config: Path | None,
    home: Path | None,
    debug: bool,
    verbose: bool,
    log_format: str | None,
) -> None:
    """omnicx: omnichannel contact-centre analytics on Kafka, Faust, DuckDB and Dagster."""
    try:
        settings = load_settings(config_file=config)
    except SettingsError as exc:
        raise click.ClickException(f"{exc} (see the settings in README.md)") from None
    if home is not None:
        settings = with_overrides(settings, home=home)
    chosen = {"verbose": verbose or None, "format": log_format}  # else the settings' own
    settings = with_overrides(settings, log={k: v for k, v in chosen.items() if v is not None})
    configure_logging(settings, ctx.invoked_subcommand or "omnicx")
    ctx.obj = settings
