"""``omnicx simulate``: generate a contact centre's events with their ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from orchestration.commands.keyed import keyed
from orchestration.progress import progress_display
from pipelines.simulator.catalog import TENANT_NAMES
from pipelines.simulator.clock import HOUR
from pipelines.simulator.config import ConfigError, FaultRates, SimulationConfig, parse_closed
from pipelines.simulator.files import write_events, write_ground_truth
from pipelines.simulator.run import Simulation
from schemas.settings import Settings


class ClosedDays(click.ParamType):
    """``--closed sat,sun,2021-12-25``: weekdays closed every week and single closed dates."""

    name = "days"

    def convert(self, value, param, ctx) -> tuple[tuple[int, ...], tuple[date, ...]]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_closed(value)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same bytes.")
@click.option("--days", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--agents", type=click.IntRange(min=3), default=60, show_default=True)
@click.option("--tenants", type=click.IntRange(1, len(TENANT_NAMES)), default=3, show_default=True)
@click.option(
    "--load",
    type=click.FloatRange(0.05, 2.0),
    default=SimulationConfig.load,
    show_default=True,
    help="Offered work / staffed capacity; 0.1 gives a few hundred events a day.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-01-05",
    show_default=True,
    help="First simulated day (UTC). Another first day or seed adds to what is there.",
)
@click.option(
    "--closed",
    type=ClosedDays(),
    default="",
    help="Days the centre stays closed: weekdays (sun, or sat,sun) and dates (2021-12-25), "
    "comma-separated. No contact and no agent on them.",
)
@click.option("--to", "target", type=click.Choice(["file", "kafka"]), required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (required with --to file; with --to kafka, for the ground truth).",
)
@click.option("--duplicates", type=click.FloatRange(0, 1), help="Share of events re-sent.")
@click.option("--disorder", type=click.FloatRange(0, 1), help="Share of events sent out of order.")
@click.option("--malformed", type=click.FloatRange(0, 1), help="Broken messages per event.")
@click.option(
    "--no-faults", is_flag=True, help="A clean feed: no duplicates, disorder or bad messages."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress (messages sent, rate) on stderr (default: when stderr is a terminal).",
)
@click.pass_obj
def simulate(
    settings: Settings,
    seed: int,
    days: int,
    agents: int,
    tenants: int,
    load: float,
    start: datetime,
    closed: tuple[tuple[int, ...], tuple[date, ...]],
    target: str,
    out: Path | None,
    duplicates: float | None,
    disorder: float | None,
    malformed: float | None,
    no_faults: bool,
    progress: bool | None,
) -> None:
    """Simulate a multichannel contact centre and send its events to Kafka or to files.

    \b
    omnicx simulate --seed 7 --days 1 --to kafka
    omnicx simulate --seed 7 --days 1 --to file --out runs/day1

    Ids are unique per seed and first day, so runs can be added to one deployment; the same
    seed and first day again sends the same events (dropped as duplicates).
    """
    rates = {"duplicates": duplicates, "disorder": disorder, "malformed": malformed}
    chosen = {name: rate for name, rate in rates.items() if rate is not None}
    if no_faults and chosen:
        raise click.UsageError("--no-faults cannot be combined with fault rates")
    if target == "file" and out is None:
        raise click.UsageError("--to file needs --out DIR")
    faults = replace(FaultRates.none() if no_faults else FaultRates(), **chosen)
    settings = keyed(settings)
    try:
        config = SimulationConfig(
            seed=seed,
            days=days,
            agents=agents,
            tenants=tenants,
            load=load,
            start=start.date(),
            faults=faults,
            closed_weekdays=closed[0],
            closed_dates=closed[1],
        )
        simulation = Simulation(config, settings)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    # --progress draws even when stderr is not a terminal, --no-progress never; else when it is
    console = Console(stderr=True, force_terminal=progress)
    with progress_display(console) as bar:
        count, where = _send(_shown(simulation, bar), target, out, settings)
    if out is not None:
        write_ground_truth(simulation, out)
    faults_seen = simulation.faults or {}
    click.echo(
        f"sent {count} messages ({simulation.events} events, "
        f"{faults_seen.get('duplicates', 0)} duplicates, "
        f"{faults_seen.get('out_of_order', 0)} out of order, "
        f"{faults_seen.get('malformed', 0)} malformed) to {where}"
    )
    if out is not None:
        click.echo(f"ground truth in {out}")


def _shown(simulation: Simulation, bar: Progress, every: int = 1000) -> Iterator[bytes]:
    """The simulation's messages, with the simulated hours done of the total and the messages
    sent so far on ``bar``."""
    engine = simulation.engine
    hours = bar.add_task("simulated hours", total=(engine.end - engine.start) / HOUR, unit="h")
    sent = bar.add_task("messages sent", total=None, unit="msg")
    count = 0
    for count, message in enumerate(simulation.messages(), 1):
        yield message
        if count % every == 0:
            done = min(simulation.sent_until_ms, engine.end) - engine.start
            bar.update(hours, completed=done / HOUR)
            bar.update(sent, completed=count)
    bar.update(hours, completed=(engine.end - engine.start) / HOUR)
    bar.update(sent, completed=count, total=count)


def _send(messages, target: str, out: Path | None, settings: Settings) -> tuple[int, str]:
    """Write or produce ``messages``; how many, and where to."""
    if target == "file":
        out.mkdir(parents=True, exist_ok=True)
        return write_events(messages, out / "events.jsonl"), str(out)
    from pipelines.kafka_io import KafkaUnavailable
    from pipelines.producer import produce, raw_events_topic

    try:
        count = produce(messages, settings)
    except KafkaUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    return count, f"{raw_events_topic(settings)} at {settings.kafka.bootstrap}"
