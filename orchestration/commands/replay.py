"""``omnicx replay-dead-letters``: send dead letters back to the raw-events topic."""

from __future__ import annotations

import click

from schemas.settings import Settings
from schemas.topics import topic_names


@click.command("replay-dead-letters")
@click.option(
    "--where",
    default=None,
    help="SQL predicate over stg_dead_letters choosing what to replay, e.g. "
    "\"array_to_string(errors, ' ') like '%occurred_at%'\" (default: every dead letter).",
)
@click.option("--dry-run", is_flag=True, help="Only say how many would be re-published.")
@click.option(
    "--wait-seconds",
    default=120.0,
    show_default=True,
    help="How long to wait for the stream to process the replay before counting what failed "
    "again (0: do not wait, do not count).",
)
@click.pass_obj
def replay_dead_letters(
    settings: Settings, where: str | None, dry_run: bool, wait_seconds: float
) -> None:
    """Re-publish dead letters, with their original bytes, once the cause is fixed.

    Each rejected message is sent once per run, keyed like every producer keys raw events and
    carrying its dead-letter id; the stream validates it again. A message that still fails is
    the same dead letter again (one row per message in int_dead_letters), not a new one. Then
    it reports what was re-published, what became events and what failed again.
    """
    import duckdb

    from orchestration.kafka.lag import wait_until_caught_up
    from pipelines.kafka_io import KafkaUnavailable
    from warehouse import replay
    from warehouse.build import WarehouseMissing

    names = topic_names(settings)
    try:
        plan = replay.plan_replay(settings, where)
        if plan.tombstones or plan.lost:
            click.echo(
                f"{len(plan.tombstones)} tombstones have nothing to re-publish; the bytes of "
                f"{len(plan.lost)} dead letters are gone (past the retention of "
                f"{names.dead_letters_raw} and {names.raw_events})"
            )
        if dry_run:
            click.echo(
                f"{len(plan.messages)} dead letters would be re-published to {names.raw_events}"
            )
            return
        since = replay.send(settings, plan)
        click.echo(f"re-published {len(plan.messages)} dead letters to {names.raw_events}")
        if not plan.messages or wait_seconds <= 0:
            return
        topics = [names.raw_events, names.identity]
        lag = wait_until_caught_up(settings, settings.stream.app_id, topics, wait_seconds)
        if any(lag.values()):
            click.echo(
                f"the stream has not processed the replay after {wait_seconds:g} s (lag {lag}): "
                "run with a longer --wait-seconds once a worker is running to count the outcome"
            )
            return
        failed = replay.outcome(settings, plan.messages, since)
        click.echo(
            f"{len(plan.messages) - len(failed)} became events (or duplicates of events already "
            f"processed); {len(failed)} failed again (the same dead letters, not new ones)"
        )
    except (duckdb.Error, WarehouseMissing, KafkaUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
