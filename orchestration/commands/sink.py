"""``omnicx sink``: land the project's topics in the Parquet lake."""

from __future__ import annotations

import logging

import click

from schemas.settings import Settings


@click.command()
@click.option(
    "--instance-id",
    default=None,
    help="Static group member id (default: [warehouse] sink_instance_id, else the host name); "
    "give each sink on one host its own.",
)
@click.pass_obj
def sink(settings: Settings, instance_id: str | None) -> None:
    """Land valid events, contacts, journeys, identity merges, customer keys, dead letters and
    alerts as Parquet files under the lake directory, exactly once; stop with Ctrl-C or SIGTERM.

    Start several (different --instance-id) to share the partitions. Topics must exist
    (`omnicx kafka topics`).
    """
    from pipelines.kafka_io import KafkaUnavailable
    from warehouse.sink import run_sink

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("warehouse").setLevel(logging.INFO)
    try:
        landed = run_sink(settings, instance_id)
    except KafkaUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"landed {landed.rows_landed} rows in {landed.files_landed} files")
