"""``omnicx sink``: land the project's topics in the Parquet lake."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress

from orchestration.progress import progress_display
from schemas.settings import Settings

if TYPE_CHECKING:
    from warehouse.sink import LakeSink


@click.command()
@click.option(
    "--instance-id",
    default=None,
    help="Static group member id (default: [warehouse] sink_instance_id, else <host>-<n>, the "
    "first one no running sink holds). A second sink with an id in use is refused.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="First move the lake aside (to <lake>.layout<N>-<time>, kept) and land everything "
    "the topics still hold again, in the current layout. No other sink may be running.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Rows landed of those waiting, files, rate and lag on stderr (default: when stderr "
    "is a terminal).",
)
@click.pass_obj
def sink(settings: Settings, instance_id: str | None, rebuild: bool, progress: bool | None) -> None:
    """Land valid events, contacts, journeys, identity merges, customer keys, dead letters and
    alerts as Parquet files under the lake directory, exactly once; stop with Ctrl-C or SIGTERM.

    Start several to share the partitions (each gets its own instance id). Topics must exist
    (`omnicx kafka topics`). Files in the lake the sink did not write are moved to
    <lake>/_sink/quarantine and reported, never trusted. A lake landed by an older sink (another
    layout) is refused: --rebuild lands it again.
    """
    from pipelines.kafka_io import KafkaUnavailable
    from warehouse.instances import DuplicateInstance
    from warehouse.landing import SINK_DIR
    from warehouse.layout import LakeInUse, LakeLayoutOutdated, rebuild_lake
    from warehouse.sink import SinkFenced, run_sink

    if rebuild:
        try:
            moved = rebuild_lake(settings.lake_dir)
        except LakeInUse as exc:
            raise click.ClickException(str(exc)) from None
        if moved is not None:
            click.echo(f"moved the old lake to {moved} (delete it once the new one is complete)")
    try:
        # --progress draws even when stderr is not a terminal, --no-progress never; else when it is
        with progress_display(Console(stderr=True, force_terminal=progress)) as bar:
            landed = run_sink(settings, instance_id, on_loop=Landing(bar).update)
    except KafkaUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except (DuplicateInstance, SinkFenced, LakeLayoutOutdated) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"landed {landed.rows_landed} rows in {landed.files_landed} files")
    if landed.quarantined:
        where = settings.lake_dir / SINK_DIR / "quarantine"
        click.echo(f"quarantined {len(landed.quarantined)} files the sink did not write: {where}")


class Landing:
    """A running sink on a progress display: the rows it landed since it started, of those
    plus the records its partitions still hold (a total that grows as more arrive), the files
    written and the lag left."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task = bar.add_task("landing", total=None, unit="rows")

    def update(self, sink: LakeSink) -> None:
        self.bar.update(
            self.task,
            completed=sink.rows_landed,
            total=sink.rows_landed + sink.lag,
            description=f"landing: {sink.files_landed} files, lag {sink.lag}",
        )
