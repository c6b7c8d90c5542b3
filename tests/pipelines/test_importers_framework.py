"""The importers' framework: deterministic ids, the contract check that turns a converter bug
into a rejection, the summary and the progress a run reports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pipelines.importers import importer_for
from pipelines.importers.framework import (
    ImportFailed,
    Rejection,
    SourceRecord,
    contact_id,
    envelope,
    event_id,
    run_import,
    text_lines,
)


class Lines:
    """A toy format: each line "contact,queue" queues a contact; "bug" makes the converter
    produce an event without its queue; "bad" is a record it rejects."""

    name = "toy"

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        for path in paths:
            for number, text, position in text_lines(path):
                yield SourceRecord(str(path), number, {"text": text}, position)

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        for record in records:
            text = record.data["text"]
            if text == "bad":
                yield Rejection(record.file, record.line, "bad toy line", source=text)
                continue
            contact, _, queue = text.partition(",")
            yield envelope(
                self.name, tenant, contact, "contact.queued", "2021-01-04T09:00:00Z",
                channel="voice", contact_id=contact_id(self.name, tenant, contact),
                queue=queue or None,
            )  # fmt: skip


class Recorded:
    def __init__(self) -> None:
        self.total: int | None = None
        self.seen: list[tuple[int, int, int, int]] = []

    def started(self, total_bytes: int) -> None:
        self.total = total_bytes

    def advanced(self, bytes_done: int, read: int, events: int, rejected: int) -> None:
        self.seen.append((bytes_done, read, events, rejected))


def test_ids_are_deterministic_and_differ_by_every_part() -> None:
    base = event_id("csv", "acme", "A-1", "contact.queued", 0)
    assert base == event_id("csv", "acme", "A-1", "contact.queued", 0)
    others = {
        event_id("queue-log", "acme", "A-1", "contact.queued", 0),
        event_id("csv", "globex", "A-1", "contact.queued", 0),
        event_id("csv", "acme", "A-2", "contact.queued", 0),
        event_id("csv", "acme", "A-1", "contact.answered", 0),
        event_id("csv", "acme", "A-1", "contact.queued", 1),
    }
    assert base not in others and len(others) == 5
    assert contact_id("queue-log", "acme", "1609491600.1").startswith("ql-")
    assert len(base) <= 128


def test_a_converter_bug_is_a_rejection_never_a_bad_event(tmp_path: Path) -> None:
    path = tmp_path / "toy.txt"
    path.write_text("c1,support\nc2\nbad\nc3,billing\n")
    events: list[dict] = []
    rejections: list[Rejection] = []
    progress = Recorded()
    summary = run_import(
        Lines(), [path], "acme", events.append, rejections.append, progress, every=2
    )
    assert [e["queue"] for e in events] == ["support", "billing"]
    assert [(r.line, r.reason) for r in rejections] == [
        (2, "converted event breaks the contract"),
        (3, "bad toy line"),
    ]
    assert rejections[0].detail == "contact.queued: queue: expected non-empty string"
    assert rejections[0].occurred_at == "2021-01-04T09:00:00Z"
    assert (summary.read, summary.events, summary.rejected_total) == (4, 2, 2)
    assert summary.rejected == {"converted event breaks the contract": 1, "bad toy line": 1}
    size = path.stat().st_size
    assert progress.total == size
    assert progress.seen[-1] == (size, 4, 2, 2)


def test_missing_files_and_unknown_formats_stop_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        run_import(Lines(), [tmp_path / "nope"], "acme", print, print)
    with pytest.raises(ImportFailed, match="unknown format 'fax'"):
        importer_for("fax")
    with pytest.raises(ImportFailed, match="format events takes no --mapping"):
        importer_for("events", tmp_path / "mapping.toml")


def test_text_lines_drops_the_bom_and_reads_any_line_end(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\nd")
    assert [(n, text) for n, text, _ in text_lines(path)] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
    ]
