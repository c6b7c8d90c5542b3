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
@click.pass_obj
def replay_dead_letters(settings: Settings, where: str | None, dry_run: bool) -> None:
    """Re-publish dead letters, with their original bytes, once the cause is fixed.

    Each rejected message is sent once per run, keyed like every producer keys raw events; the
    stream validates it again (a message that still fails is dead-lettered again).
    """
    import duckdb

    from pipelines.kafka_io import KafkaUnavailable
    from warehouse import replay
    from warehouse.build import WarehouseMissing

    topic = topic_names(settings).raw_events
    try:
        if dry_run:
            count = len(replay.dead_letters_to_replay(settings, where))
            click.echo(f"{count} dead letters would be re-published to {topic}")
        else:
            count = replay.replay_dead_letters(settings, where)
            click.echo(f"re-published {count} dead letters to {topic}")
    except (duckdb.Error, WarehouseMissing, KafkaUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
