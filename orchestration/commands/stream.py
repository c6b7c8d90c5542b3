"""``omnicx stream``: run one worker of the Faust stream processor, supervised."""

from __future__ import annotations

import sys

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
    SIGTERM. Topics must exist (`omnicx kafka topics`). Without a broker the worker waits for
    one, retrying with backoff, and it is restarted when the broker comes back after an outage
    (docs/streams.md, Broker outages).
    """
    from streams.supervisor import Supervisor

    sys.exit(Supervisor(keyed(settings), worker_name, loglevel).run())
