"""``omnicx lag stream|sink|alerts``: how far the stream workers, the lake sink or the alert
delivery worker are behind."""

from __future__ import annotations

import click
from rich.progress import Progress

from orchestration.progress import progress_display
from schemas.settings import Settings


@click.command()
@click.argument("stage", type=click.Choice(["stream", "sink", "alerts"]))
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=None,
    help="Block until the lag is zero (exit code 1 if it is not within this many seconds).",
)
@click.pass_obj
def lag(settings: Settings, stage: str, wait_seconds: float | None) -> None:
    """Messages the stream workers (or the lake sink, or the alert delivery worker: alerts not
    yet delivered or failed on every channel) have not committed yet, per topic."""
    from orchestration.kafka.lag import consumer_lag, stage_consumers, wait_until_caught_up
    from pipelines.kafka_io import KafkaUnavailable

    group, topics = stage_consumers(settings, stage)
    try:
        if wait_seconds is None:
            behind = consumer_lag(settings, group, topics)
        else:
            with progress_display() as bar:
                caught_up = _CatchUp(bar, f"{stage} catch-up")
                behind = wait_until_caught_up(
                    settings, group, topics, wait_seconds, on_poll=caught_up.update
                )
    except KafkaUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    for topic, count in behind.items():
        click.echo(f"{topic}\t{count}")
    if wait_seconds is not None and any(behind.values()):
        raise SystemExit(1)


class _CatchUp:
    """Progress of a catch-up: the falls of the lag between polls count as consumed, of a total
    that starts at the first poll's lag and grows when more arrive than are consumed."""

    def __init__(self, bar: Progress, description: str) -> None:
        self.bar = bar
        self.task = bar.add_task(description, total=None, unit="msg")
        self.consumed = 0
        self.last: int | None = None

    def update(self, lag: dict[str, int]) -> None:
        remaining = sum(lag.values())
        if self.last is not None:
            self.consumed += max(self.last - remaining, 0)
        self.last = remaining
        self.bar.update(self.task, completed=self.consumed, total=self.consumed + remaining)
