"""``omnicx up`` / ``omnicx down``: the whole product in the background, and stopping it.

``up`` starts the local broker (unless ``[kafka] bootstrap_servers`` names a cluster), creates
the topics, and has supervisord run the stream worker(s), the lake sink and the Dagster
webserver and daemon (``orchestration.services``); ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import click

from schemas.settings import Settings, SettingsError, with_overrides, with_pii_key


@click.command()
@click.option(
    "--no-dagster",
    is_flag=True,
    help="Leave out the Dagster webserver and daemon (default: [services] dagster).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=None,
    help="Stream workers to run (default: [services] stream_workers).",
)
@click.pass_obj
def up(settings: Settings, no_dagster: bool, workers: int | None) -> None:
    """Start the broker (unless a cluster is configured), create the topics, and run the
    stream worker(s), the lake sink and the Dagster webserver and daemon in the background,
    each logging to $OMNICX_HOME/logs. `omnicx status` shows how they do; `omnicx down` stops
    them."""
    from orchestration.kafka.broker import BrokerStartError, LocalBroker
    from orchestration.kafka.jars import BrokerSetupError
    from orchestration.kafka.topics import provision_topics
    from orchestration.services import (
        Services,
        ServicesError,
        dagster_url,
        planned_services,
        wallboard_url,
    )
    from orchestration.wallboard.access import TOKEN_FILE, load_access
    from pipelines.kafka_io import KafkaUnavailable

    if workers is not None:
        settings = with_overrides(settings, services={"stream_workers": workers})
    try:
        with_pii_key(settings)  # fail now, not in a background service; announce a new key
        load_access(settings)  # the wallboard's tokens, likewise
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    services = Services(settings)
    try:
        if not settings.kafka.bootstrap_servers:
            broker = LocalBroker(settings)
            was_running = broker.status().running
            click.echo(broker.start())
            services.record_broker_started(not was_running)
        changes = provision_topics(settings)
        click.echo(
            f"topics: {len(changes)} created or updated" if changes else "topics: up to date"
        )
        planned = planned_services(settings, settings.services.dagster and not no_dagster)
        services.start(planned)
    except (BrokerStartError, BrokerSetupError, KafkaUnavailable, ServicesError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"services running under supervisord (logs in {services.logs_dir}):")
    for state in services.states():
        where = {
            "dagster-webserver": f"  {dagster_url(settings)}",
            "wallboard": f"  {wallboard_url(settings)}",
        }.get(state.name, "")
        click.echo(f"  {state.name:<18} pid {state.pid}{where}")
    if not settings.wallboard.operator_token_env:
        token = settings.home / TOKEN_FILE
        click.echo(f"wallboard: {wallboard_url(settings)}?token=$(cat {token})  (operator token)")
    click.echo("`omnicx status` shows how they do; `omnicx down` stops them")


@click.command()
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop what `omnicx up` started (the services, and the broker if `up` started it), and
    wait until every process is gone."""
    from orchestration.kafka.broker import LocalBroker
    from orchestration.services import Services

    services = Services(settings)
    if not services.stop(click.echo):
        click.echo("no services running")
    if services.recorded().get("broker_started"):
        click.echo(LocalBroker(settings).stop())
        services.record_broker_stopped()
