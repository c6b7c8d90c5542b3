"""Contract events, one JSON object a line: an ``events.jsonl`` that ``omnicx import --to file``
or ``omnicx simulate --to file`` wrote, sent on as they are (``omnicx import events``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from pipelines.importers.framework import Rejection, SourceRecord, text_lines


class EventsImporter:
    name = "events"

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        for path in paths:
            for number, line, position in text_lines(path):
                if line.strip():
                    yield SourceRecord(str(path), number, {"line": line}, position)

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        """Each line as it is, its own tenant included (``tenant`` is not used); the framework
        checks it against the contract."""
        for record in records:
            try:
                event = orjson.loads(record.data["line"])
            except orjson.JSONDecodeError as exc:
                yield Rejection(
                    record.file, record.line, "not JSON", str(exc), source=record.data["line"]
                )
                continue
            if not isinstance(event, dict):
                yield Rejection(
                    record.file, record.line, "not a JSON object", source=record.data["line"]
                )
                continue
            yield event
