"""``omnicx stream``: run one worker of the Faust stream processor."""

from __future__ import annotations

import click

from orchestration.commands.keyed import keyed
from schemas.settings import Settings


@click.command()
@click.option(
    "--worker",
    "worker_name",
    default="worker-1",
    show_default=True,
    help="Name of this worker; its RocksDB state lives in $OMNICX_HOME/stream/NAME.",
)
@click.option("--loglevel", default="warning", show_default=True, help="Faust log level.")
@click.pass_obj
def stream(settings: Settings, worker_name: str, loglevel: str) -> None:
    """Run a stream worker (validation, de-duplication, contacts, identity, journeys).

    Start several with different --worker names to share the partitions; stop with Ctrl-C or
    SIGTERM. Topics must exist (`omnicx kafka topics`).
    """
    import faust

    from streams.app import create_app

    app = create_app(keyed(settings), worker_name)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
