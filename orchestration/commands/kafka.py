"""``omnicx kafka start | stop | status | topics``: the local broker and the project's topics."""

from __future__ import annotations

import click

from orchestration.kafka.broker import BrokerStartError, LocalBroker
from orchestration.kafka.jars import BrokerSetupError
from orchestration.kafka.topics import provision_topics
from pipelines.kafka_io import KafkaUnavailable
from schemas.settings import Settings

_FAILURES = (BrokerStartError, BrokerSetupError, KafkaUnavailable)


@click.group()
def kafka() -> None:
    """Run the local single-node Kafka broker (KRaft) and create the project's topics."""


@kafka.command()
@click.pass_obj
def start(settings: Settings) -> None:
    """Start the broker (formatting its storage the first time); no-op when it already runs."""
    _run(lambda: LocalBroker(settings).start())


@kafka.command()
@click.pass_obj
def stop(settings: Settings) -> None:
    """Stop the broker this directory started, and wait for it to exit."""
    _run(lambda: LocalBroker(settings).stop())


@kafka.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Say whether the broker runs and answers; exit code 1 when it does not."""
    state = LocalBroker(settings).status()
    click.echo(state.describe(settings.kafka.bootstrap))
    if not state.answering:
        raise SystemExit(1)


@kafka.command()
@click.pass_obj
def topics(settings: Settings) -> None:
    """Create the project's topics, or align their partitions and retention with the settings."""

    def provision() -> str:
        changes = provision_topics(settings)
        return "\n".join(changes) if changes else "topics already up to date"

    _run(provision)


def _run(action) -> None:
    try:
        click.echo(action())
    except _FAILURES as exc:
        raise click.ClickException(str(exc)) from None
