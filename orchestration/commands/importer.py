"""``omnicx import``: a platform's export into the event contract, to Kafka or to files."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import click
import orjson
from rich.progress import Progress, TaskID

from orchestration.progress import progress_display
from pipelines.importers import FORMATS, importer_for
from pipelines.importers.framework import (
    ImportFailed,
    ImportSummary,
    Rejection,
    require_files,
    run_import,
)
from schemas.routing import routing_key
from schemas.settings import Settings
from schemas.topics import topic_names
from streams.dead_letters import import_rejection_records

EVENTS_FILE = "events.jsonl"  # as the simulator writes it: `omnicx import events` replays it
DEAD_LETTERS_FILE = "dead_letters.jsonl"  # the analysts' records the stream would publish


@click.command("import")
@click.argument("format_name", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML mapping file: which column holds what (csv; docs/importers.md).",
)
@click.option(
    "--tenant",
    default="default",
    show_default=True,
    help="The tenant (brand, line of business) every imported contact belongs to.",
)
@click.option("--to", "target", type=click.Choice(["kafka", "file"]), required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"With --to file: the directory of {EVENTS_FILE} and {DEAD_LETTERS_FILE}.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress (bytes read of the total, records, events) on stderr "
    "(default: when stderr is a terminal).",
)
@click.pass_obj
def import_(
    settings: Settings,
    format_name: str,
    paths: tuple[Path, ...],
    mapping: Path | None,
    tenant: str,
    target: str,
    out: Path | None,
    progress: bool | None,
) -> None:
    """Import FORMAT export files into the event contract (docs/importers.md).

    \b
    omnicx import queue-log /var/log/asterisk/queue_log --tenant acme --to kafka
    omnicx import csv calls-2021.csv --mapping calls.toml --tenant acme --to file --out out/

    Files are streamed (constant memory). Every record becomes events or a dead letter with its
    file, line and reason; importing the same file again sends the same event ids, which the
    stream counts once.
    """
    if target == "file" and out is None:
        raise click.UsageError("--to file needs --out DIR")
    from rich.console import Console

    console = Console(stderr=True, force_terminal=progress)
    try:
        importer = importer_for(format_name, mapping)
        require_files(paths)  # before connecting to anything
        with ExitStack() as stack:
            if target == "file":
                on_event, on_rejection = _file_outputs(stack, out, importer.name, tenant)
                where = str(out)
            else:
                on_event, on_rejection = _kafka_outputs(stack, settings, importer.name, tenant)
                where = f"{topic_names(settings).raw_events} at {settings.kafka.bootstrap}"
            bar = stack.enter_context(progress_display(console))
            summary = run_import(
                importer, list(paths), tenant, on_event, on_rejection, _Bar(bar, format_name)
            )
    except ImportFailed as exc:
        raise click.ClickException(str(exc)) from None
    for line in summary_lines(summary, where):
        click.echo(line)


def summary_lines(summary: ImportSummary, where: str) -> list[str]:
    """The closing summary: records read, events converted (by type), rejected by reason."""
    lines = [
        f"read {summary.read:,} records from {summary.files} file(s)",
        f"converted into {summary.events:,} events to {where}",
    ]
    lines += [
        f"  {kind:<24} {count:>10,}" for kind, count in sorted(summary.events_by_type.items())
    ]
    lines.append(f"rejected {summary.rejected_total:,} records (each a dead letter)")
    lines += [f"  {reason:<40} {count:>10,}" for reason, count in summary.rejected.most_common()]
    return lines


class _Bar:
    """The framework's progress on a rich bar: bytes of the files read of their total."""

    def __init__(self, bar: Progress, format_name: str) -> None:
        self.bar = bar
        self.format_name = format_name
        self.task: TaskID | None = None

    def started(self, total_bytes: int) -> None:
        self.task = self.bar.add_task(f"import {self.format_name}", total=total_bytes, unit="B")

    def advanced(self, bytes_done: int, read: int, events: int, rejected: int) -> None:
        description = f"{read:,} read, {events:,} events, {rejected:,} rejected"
        self.bar.update(self.task, completed=bytes_done, description=description)


def _dead_letter(rejection: Rejection, importer: str, tenant: str, max_bytes: int) -> Any:
    return import_rejection_records(
        importer=importer,
        file_name=Path(rejection.file).name,
        line=rejection.line,
        reason=rejection.message,
        tenant=tenant,
        occurred_at=rejection.occurred_at,
        raw=None if rejection.source is None else rejection.source.encode(),
        max_stored_bytes=max_bytes,
    )


def _file_outputs(
    stack: ExitStack, out: Path, importer: str, tenant: str
) -> tuple[Callable[[dict], None], Callable[[Rejection], None]]:
    out.mkdir(parents=True, exist_ok=True)
    events: IO[bytes] = stack.enter_context((out / EVENTS_FILE).open("wb"))
    dead: IO[bytes] = stack.enter_context((out / DEAD_LETTERS_FILE).open("wb"))

    def on_event(event: dict) -> None:
        events.write(orjson.dumps(event) + b"\n")

    def on_rejection(rejection: Rejection) -> None:
        records = _dead_letter(rejection, importer, tenant, 0)
        dead.write(orjson.dumps(records.analyst) + b"\n")

    return on_event, on_rejection


def _kafka_outputs(
    stack: ExitStack, settings: Settings, importer: str, tenant: str
) -> tuple[Callable[[dict], None], Callable[[Rejection], None]]:
    """Events to raw-events keyed like every producer keys them; rejections as the stream's
    dead letters: redacted ones for analysts, the line's bytes for operators. Every send is
    checked when the client is flushed at the end (a failure is an error, never a silent loss)."""
    from pipelines.kafka_io import KafkaUnavailable, producer

    names = topic_names(settings)
    try:
        client = producer(settings, linger_ms=50, batch_size=512 * 1024, enable_idempotence=True)
    except KafkaUnavailable as exc:
        raise ImportFailed(str(exc)) from None
    failures: list[BaseException] = []
    sent = [0]

    def send(topic: str, key: str | None, value: dict) -> None:
        future = client.send(
            topic, value=orjson.dumps(value), key=None if key is None else key.encode()
        )
        future.add_errback(failures.append)
        sent[0] += 1

    def close() -> None:
        try:
            client.flush()
        finally:
            client.close()
        if failures:
            raise ImportFailed(
                f"{len(failures)} of {sent[0]} messages were not sent: {failures[0]!r} "
                "(import the files again once the broker is back: the ids are the same)"
            )

    stack.callback(close)
    max_bytes = settings.stream.max_message_bytes

    def on_event(event: dict) -> None:
        send(names.raw_events, routing_key(event), event)

    def on_rejection(rejection: Rejection) -> None:
        records = _dead_letter(rejection, importer, tenant, max_bytes)
        key = f"{records.analyst['topic']}/{rejection.line}"
        send(names.dead_letters, key, records.analyst)
        send(names.dead_letters_raw, key, records.operator)

    return on_event, on_rejection
