"""What every importer shares: the records it reads, its rejections, its ids, the contract check
and the run that streams a set of files through it (docs/importers.md, Framework).

An importer reads a platform's export record by record (``read``, streaming: constant memory on
multi-GB files) and turns the records into contract events (``convert``, schemas/json/). It never
publishes anything itself: :func:`run_import` checks every event against the contract, so that a
converter bug becomes a :class:`Rejection` (a dead letter), never a bad message, and hands the
events and rejections to the caller's outputs (Kafka or files, ``orchestration/commands``).

Ids are deterministic (:func:`event_id`, :func:`contact_id`): importing the same file again
publishes the same event ids, which the stream's de-duplication counts once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from schemas.validation import validate_event

SCHEMA_VERSION = 1
# The attribute every imported event carries: the importer's name. The stream judges the
# contacts an importer creates by the clock of their own import (streams.contacts, lanes), so
# history older than what it has already seen is folded, not dropped as too late.
IMPORTED_FROM = "imported_from"
_ID_SEPARATOR = "\x1f"  # cannot occur in a name, tenant or source id read from a text export


@dataclass(frozen=True)
class SourceRecord:
    """One record read from a source file."""

    file: str  # path as given
    line: int  # 1-based line (or record ordinal for JSON streams)
    data: Mapping[str, Any]  # parsed record
    position: int = 0  # bytes of the file read so far (for progress; may run ahead a buffer)


@dataclass(frozen=True)
class Rejection:
    """A record that cannot be converted: it goes to the dead letters, never silently dropped.

    ``reason`` is one line without personal data (no phone numbers, e-mails or texts) and the
    same for every record rejected for the same cause, so the closing summary can count by it
    (``"unknown queue_log event"``, not ``"unknown event FOO on line 7"``); ``detail`` may say
    more (a field name, an event name), still without personal data. ``occurred_at`` (RFC
    3339) dates the dead letter by business day when the record's time could be read;
    ``source`` (the line as read) reaches only the operators' dead letter.
    """

    file: str
    line: int
    reason: str
    detail: str = ""
    occurred_at: str | None = None
    source: str | None = None  # the record as read: operators' dead letter only, for a fix

    @property
    def message(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class Importer(Protocol):
    """One platform's export format (one module of ``pipelines/importers`` each)."""

    name: str  # "amazon-connect-ctr", "amazon-connect-agent-events", "genesys", "queue-log", "csv"

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]: ...

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        """Contract event dicts in a deterministic order with deterministic ids, and a
        Rejection for each record that cannot be converted."""
        ...


class ImportFailed(Exception):
    """An import that cannot run at all (a missing file, a mapping that cannot be used): the
    CLI says it in one line, nothing is published."""


def _digest(*parts: object) -> str:
    text = _ID_SEPARATOR.join(str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def event_id(importer: str, tenant: str, source_id: str, event_type: str, ordinal: int = 0) -> str:
    """The id of an imported event: the same for the same importer, tenant, source record
    identity (a call id, a contact id, a file name and line), event type and ordinal (the
    n-th event of that type from that record), so a re-import sends the same ids."""
    return f"imp-{_digest(importer, tenant, source_id, event_type, ordinal)}"


def contact_id(importer: str, tenant: str, source_contact_id: str) -> str:
    """The contract ``contact_id`` of a source's contact: a source's ids are unique only
    within that source (Asterisk uniqueids restart on another server, two tenants may use the
    same CSV numbering), so they are scoped by importer and tenant. Readable prefix, hashed
    rest: ``ql-`` for queue_log and so on, from the importer's name."""
    prefix = "".join(part[0] for part in importer.split("-"))
    return f"{prefix}-{_digest(importer, tenant, source_contact_id)}"


def envelope(
    importer: str,
    tenant: str,
    source_id: str,
    event_type: str,
    occurred_at: str,
    ordinal: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    """An event of the contract with its deterministic id; ``fields`` are the rest of the
    envelope (channel, contact_id, customer, agent_id, queue, attributes ...), None ones left
    out."""
    event = {
        "event_id": event_id(importer, tenant, source_id, event_type, ordinal),
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": occurred_at,
        "tenant": tenant,
    }
    event.update({name: value for name, value in fields.items() if value is not None})
    event["attributes"] = {**event.get("attributes", {}), IMPORTED_FROM: importer}
    return event


def contract_problems(event: dict[str, Any]) -> str | None:
    """None when the event keeps the contract, else its problems as paths and expectations
    only: the values are left out, since a phone that failed its pattern must not be echoed
    into a dead letter."""
    result = validate_event(event)
    if result.ok:
        return None
    return "; ".join(f"{p.path}: expected {p.expected}" for p in result.problems[:5])


def checked(
    outputs: Iterable[dict[str, Any] | Rejection], file_of: Callable[[], tuple[str, int]]
) -> Iterator[dict[str, Any] | Rejection]:
    """The converter's outputs with every event checked against the contract: an event that
    breaks it becomes a Rejection at ``file_of()`` (the file and line last read)."""
    for output in outputs:
        if isinstance(output, Rejection):
            yield output
            continue
        problems = contract_problems(output)
        if problems is None:
            yield output
        else:
            file, line = file_of()
            occurred = output.get("occurred_at")
            yield Rejection(
                file,
                line,
                "converted event breaks the contract",
                f"{output.get('event_type')}: {problems}",
                occurred if isinstance(occurred, str) else None,
            )


@dataclass
class ImportSummary:
    """What an import did: records read, events converted, records rejected by reason."""

    files: int = 0
    read: int = 0
    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class Progress(Protocol):
    """Where a run reports how far it got (a rich progress bar in the CLI)."""

    def started(self, total_bytes: int) -> None: ...
    def advanced(self, bytes_done: int, read: int, events: int, rejected: int) -> None: ...


def require_files(paths: Sequence[Path]) -> None:
    """ImportFailed naming the paths that are not files."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ImportFailed(f"no such file: {', '.join(missing)}")


def run_import(
    importer: Importer,
    paths: Sequence[Path],
    tenant: str,
    on_event: Callable[[dict[str, Any]], None],
    on_rejection: Callable[[Rejection], None],
    progress: Progress | None = None,
    every: int = 1000,
) -> ImportSummary:
    """Stream ``paths`` through ``importer``: each event that keeps the contract goes to
    ``on_event``, each rejection to ``on_rejection``, in the converter's order. Raises
    ImportFailed when a file is missing (before anything is sent)."""
    require_files(paths)
    sizes = {str(path): path.stat().st_size for path in paths}
    before: dict[str, int] = {}  # bytes of the files before each one
    total = 0
    for name, size in sizes.items():
        before[name] = total
        total += size
    if progress is not None:
        progress.started(total)
    summary = ImportSummary(files=len(paths))
    last = SourceRecord("", 0, {})

    def report() -> None:
        if progress is not None:
            read = before.get(last.file, 0) + min(last.position, sizes.get(last.file, 0))
            progress.advanced(read, summary.read, summary.events, summary.rejected_total)

    def counted(records: Iterator[SourceRecord]) -> Iterator[SourceRecord]:
        nonlocal last
        for record in records:
            last = record
            summary.read += 1
            if summary.read % every == 0:
                report()
            yield record

    outputs = importer.convert(counted(importer.read(paths)), tenant)
    for output in checked(outputs, lambda: (last.file, last.line)):
        if isinstance(output, Rejection):
            summary.rejected[output.reason] += 1
            on_rejection(output)
        else:
            summary.events += 1
            summary.events_by_type[output["event_type"]] += 1
            on_event(output)
    if progress is not None:
        progress.advanced(total, summary.read, summary.events, summary.rejected_total)
    return summary


def text_lines(path: Path, encoding: str = "utf-8-sig") -> Iterator[tuple[int, str, int]]:
    """(1-based line number, line without its end, bytes read so far) of a text file, streamed;
    a BOM is dropped, Windows and old Mac line ends are line ends, undecodable bytes are
    replaced (the record they are in is then rejected by its parser, not the whole file)."""
    with path.open("r", encoding=encoding, errors="replace", newline=None) as text:
        for number, line in enumerate(text, 1):
            yield number, line.rstrip("\n"), text.buffer.tell()
