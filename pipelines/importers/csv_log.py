"""A call log as CSV (an ACD's or a ticket tool's export, Excel's "Save as CSV" included), with a
TOML mapping naming which column holds what (docs/importers.md, Call-log CSV; examples in
docs/mappings/).

One row is one inbound contact. From the row's start (date and time in the mapping's format and
time zone), its speed of answer, hold, talk and wrap-up durations the contact's events are laid
out in time: queued at the start, answered after the speed of answer (or abandoned after it, for
an unanswered row), on hold first, talking, ended, wrapped up; a survey when the row has a score.

Tolerant of what exports do: a BOM, Excel's ``sep=;`` first line, comma, semicolon or tab
delimiters (sniffed from the header), Windows line ends, blank cells, columns the mapping does not
name, cells beyond the header, thousands separators, durations in seconds or H:MM:SS. Each row
stands alone, so the converter keeps nothing between rows (constant memory).
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.importers.framework import (
    ImportFailed,
    Rejection,
    SourceRecord,
    contact_id,
    envelope,
    text_lines,
)
from schemas.times import format_utc

NAME = "csv"
CHANNELS = ("voice", "email", "chat", "sms", "social")
COLUMN_KEYS = (
    "call_id", "agent", "start", "date", "time", "queue", "answered", "speed_of_answer",
    "talk", "hold", "wrap_up", "resolved", "satisfaction", "nps", "customer_id", "channel",
)  # fmt: skip
_TRUE = ("1", "y", "yes", "true", "t", "x", "answered", "resolved", "oui", "ja", "si", "sí")
_FALSE = ("0", "n", "no", "false", "f", "", "unanswered", "abandoned", "unresolved", "non", "nein")
_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:[.,]\d+)?)")


class MappingError(ImportFailed):
    """A mapping file that cannot be used; names the key and what it allows."""


@dataclass(frozen=True)
class CsvMapping:
    """The mapping file (docs/importers.md, Call-log CSV, every key)."""

    columns: Mapping[str, str]  # key of COLUMN_KEYS -> header of the column holding it
    time_format: str = "iso"  # strptime format, "iso" (ISO 8601) or "epoch" (Unix seconds)
    time_zone: str = "UTC"
    delimiter: str | None = None  # sniffed from the header when not given
    encoding: str = "utf-8-sig"
    decimal: str = "."
    channel: str = "voice"  # of rows without a channel column or cell
    channels: Mapping[str, str] = field(default_factory=dict)  # cell value -> contract channel
    queue: str = "default"  # of rows without a queue cell
    satisfaction_min: float = 1
    satisfaction_max: float = 5
    true_values: tuple[str, ...] = _TRUE
    false_values: tuple[str, ...] = _FALSE

    @classmethod
    def load(cls, path: Path) -> CsvMapping:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MappingError(f"mapping {path}: {exc}") from None
        return cls.from_table(table, str(path))

    @classmethod
    def from_table(cls, table: dict[str, Any], name: str = "mapping") -> CsvMapping:
        known = {"columns", "time", "csv", "values", "satisfaction", "channels"}
        if unknown := set(table) - known:
            raise MappingError(f"{name}: unknown sections {sorted(unknown)} (known: {known})")
        columns = table.get("columns", {})
        if bad := set(columns) - set(COLUMN_KEYS):
            raise MappingError(f"{name}: [columns] has unknown keys {sorted(bad)}")
        if "start" not in columns and "date" not in columns:
            raise MappingError(f"{name}: [columns] needs start (date and time) or date")
        time = table.get("time", {})
        options = table.get("csv", {})
        values = table.get("values", {})
        satisfaction = table.get("satisfaction", {})
        mapping = cls(
            columns=dict(columns),
            time_format=time.get("format", "iso"),
            time_zone=time.get("time_zone", "UTC"),
            delimiter=options.get("delimiter"),
            encoding=options.get("encoding", "utf-8-sig"),
            decimal=options.get("decimal", "."),
            channel=options.get("channel", "voice"),
            channels={k.lower(): v for k, v in table.get("channels", {}).items()},
            queue=options.get("queue", "default"),
            satisfaction_min=satisfaction.get("min", 1),
            satisfaction_max=satisfaction.get("max", 5),
            true_values=tuple(v.lower() for v in values.get("true", _TRUE)),
            false_values=tuple(v.lower() for v in values.get("false", _FALSE)),
        )
        for channel in (mapping.channel, *mapping.channels.values()):
            if channel not in CHANNELS:
                raise MappingError(f"{name}: channel {channel!r} is not one of {CHANNELS}")
        if mapping.decimal not in (".", ","):
            raise MappingError(f"{name}: [csv] decimal must be '.' or ','")
        if mapping.satisfaction_max <= mapping.satisfaction_min:
            raise MappingError(f"{name}: [satisfaction] max must be above min")
        try:
            ZoneInfo(mapping.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError(f"{name}: unknown time_zone {mapping.time_zone!r}") from None
        return mapping


class RowError(ValueError):
    """A cell that cannot be read: ``reason`` is the summary's key, the column its detail."""

    def __init__(self, reason: str, key: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


class CsvImporter:
    name = NAME

    def __init__(self, mapping: Path | None = None) -> None:
        if mapping is None:
            raise ImportFailed("format csv needs --mapping FILE (examples in docs/mappings/)")
        self.mapping = CsvMapping.load(mapping)
        self.zone = ZoneInfo(self.mapping.time_zone)

    # -- reading ----------------------------------------------------------------------------

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        """One record per data row: ``row`` maps each mapped key to its cell (stripped; None
        when blank or missing), ``line`` is the row as read."""
        for path in paths:
            yield from self._read_file(path)

    def _read_file(self, path: Path) -> Iterator[SourceRecord]:
        position = [0]
        last_text = [""]

        def lines() -> Iterator[str]:
            for _, text, at in text_lines(path, self.mapping.encoding):
                position[0] = at
                last_text[0] = text
                yield text

        source = lines()
        header_line = next(source, None)
        delimiter = self.mapping.delimiter
        before = 1  # lines before the first data row: the header (and Excel's hint)
        if header_line is not None and header_line.lower().startswith("sep="):
            delimiter = delimiter or header_line[4:5]  # Excel's hint of its delimiter
            header_line = next(source, None)
            before = 2
        if header_line is None:
            return
        delimiter = delimiter or max(",;\t", key=header_line.count)
        header = [cell.strip() for cell in next(csv.reader([header_line], delimiter=delimiter))]
        where = {name.lower(): index for index, name in enumerate(header)}
        missing = [h for h in self.mapping.columns.values() if h.lower() not in where]
        if missing:
            raise ImportFailed(f"{path}: no column {', '.join(map(repr, missing))} in its header")
        indexes = {key: where[h.lower()] for key, h in self.mapping.columns.items()}
        reader = csv.reader(source, delimiter=delimiter)
        done = 0  # lines the reader consumed before this row
        for cells in reader:
            line, done = before + done + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            row = {
                key: (cells[i].strip() or None) if i < len(cells) else None
                for key, i in indexes.items()
            }
            yield SourceRecord(str(path), line, {"row": row, "line": last_text[0]}, position[0])

    # -- converting -------------------------------------------------------------------------

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        for record in records:
            row = record.data["row"]
            try:
                yield from self._contact(record, row, tenant)
            except RowError as exc:
                yield Rejection(
                    record.file, record.line, exc.reason, exc.key, None, record.data["line"]
                )

    def _contact(
        self, record: SourceRecord, row: Mapping[str, str | None], tenant: str
    ) -> Iterator[dict[str, Any]]:
        m = self.mapping
        start = self._start(row)
        source_id = row.get("call_id") or f"{Path(record.file).name}:{record.line}"
        channel = self._channel(row.get("channel"))
        contact = contact_id(NAME, tenant, source_id)
        queue = row.get("queue") or m.queue
        wait = self._seconds(row, "speed_of_answer") or 0.0
        answered = self._flag(row, "answered")
        if answered is None:  # no answered column: a row with an agent or talk time was
            answered = bool(row.get("agent")) or bool(self._seconds(row, "talk"))

        def event(event_type: str, at: float, **fields: Any) -> dict[str, Any]:
            return envelope(
                NAME, tenant, source_id, event_type, format_utc(at),
                channel=channel, contact_id=contact, **fields,
            )  # fmt: skip

        # validate every cell before emitting anything: a bad row gives no partial contact
        hold = self._seconds(row, "hold") or 0.0
        talk = self._seconds(row, "talk") or 0.0
        wrap = self._seconds(row, "wrap_up")
        resolved = self._flag(row, "resolved")
        csat = self._csat(row)
        nps = self._nps(row)
        events = []
        customer = row.get("customer_id")
        if customer:
            started = event("contact.started", start, direction="inbound")
            events.append({**started, "customer": {"customer_id": customer}})
        events.append(event("contact.queued", start, queue=queue))
        if answered:
            at = start + wait
            agent = row.get("agent") or "unknown"
            events.append(event("contact.answered", at, agent_id=agent, queue=queue))
            if hold:
                events.append(event("contact.hold_started", at))
                events.append(event("contact.hold_ended", at + hold))
            ended = at + hold + talk
            events.append(event("contact.ended", ended))
            disposition = None if resolved is None else ("resolved" if resolved else "unresolved")
            last = ended + (wrap or 0.0)
            attributes = None if disposition is None else {"disposition": disposition}
            events.append(event("contact.wrapped_up", last, attributes=attributes))
        else:
            last = start + wait
            events.append(event("contact.abandoned", last, queue=queue))
        scores = {"csat": csat, "nps": nps}
        scores = {name: value for name, value in scores.items() if value is not None}
        if scores:
            events.append(event("survey.completed", last, attributes=scores))
        yield from events

    def _start(self, row: Mapping[str, str | None]) -> float:
        text = row.get("start") or " ".join(
            cell for cell in (row.get("date"), row.get("time")) if cell
        )
        if not text:
            raise RowError("no date", "start" if "start" in self.mapping.columns else "date")
        fmt = self.mapping.time_format
        try:
            if fmt == "epoch":
                return float(self._number(text))
            value = datetime.fromisoformat(text) if fmt == "iso" else datetime.strptime(text, fmt)
        except ValueError:
            raise RowError("unreadable date or time", "start") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC).timestamp()

    def _number(self, text: str) -> str:
        """A number's text without thousands separators, with a '.' decimal point."""
        text = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
        if self.mapping.decimal == ",":
            return text.replace(".", "").replace(",", ".")
        return text.replace(",", "")

    def _seconds(self, row: Mapping[str, str | None], key: str) -> float | None:
        text = row.get(key)
        if text is None:
            return None
        clock = _CLOCK.fullmatch(text)
        try:
            if clock is not None:
                hours, minutes, seconds = clock.groups()
                value = (
                    int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds.replace(",", "."))
                )
            else:
                value = float(self._number(text))
        except ValueError:
            raise RowError("unreadable duration", key) from None
        if value < 0:
            raise RowError("negative duration", key)
        return value

    def _flag(self, row: Mapping[str, str | None], key: str) -> bool | None:
        if key not in self.mapping.columns:
            return None
        text = (row.get(key) or "").lower()
        if not text:  # blank: not answered; resolution unknown
            return False if key == "answered" else None
        if text in self.mapping.true_values:
            return True
        if text in self.mapping.false_values:
            return False
        raise RowError("unreadable yes/no", key)

    def _csat(self, row: Mapping[str, str | None]) -> int | None:
        """The satisfaction score on the contract's 1-5, linearly from the mapping's scale."""
        text = row.get("satisfaction")
        if text is None:
            return None
        low, high = self.mapping.satisfaction_min, self.mapping.satisfaction_max
        try:
            score = float(self._number(text))
        except ValueError:
            raise RowError("unreadable satisfaction score", "satisfaction") from None
        if not low <= score <= high:
            raise RowError("satisfaction score off its scale", "satisfaction")
        return int(1 + (score - low) * 4 / (high - low) + 0.5)  # halves round up

    def _nps(self, row: Mapping[str, str | None]) -> int | None:
        text = row.get("nps")
        if text is None:
            return None
        try:
            score = float(self._number(text))
        except ValueError:
            raise RowError("unreadable NPS answer", "nps") from None
        if score != int(score) or not 0 <= score <= 10:
            raise RowError("NPS answer not 0-10", "nps")
        return int(score)

    def _channel(self, text: str | None) -> str:
        if not text:
            return self.mapping.channel
        value = self.mapping.channels.get(text.lower(), text.lower())
        if value not in CHANNELS:
            raise RowError("unknown channel", "channel")
        return value
