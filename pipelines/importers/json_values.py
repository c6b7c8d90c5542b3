"""Read the JSON values of an export file one at a time, in constant memory.

Cloud platforms deliver JSON in three shapes, and one reader takes them all: one value per line
(Kinesis Data Firehose with a newline delimiter, the Genesys jobs API saved page by page), values
concatenated with nothing between them (Firehose without a delimiter: ``{...}{...}``), and one
pretty-printed document (a saved API response). A value that is not valid JSON is reported with
its line and the reader goes on at the next line, so one bad record never hides the rest.

Memory: the buffer holds the value being decoded plus one read chunk; a value larger than
``MAX_VALUE_CHARS`` is reported as too large instead of being buffered further.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.importers.framework import SourceRecord

CHUNK_CHARS = 1 << 20
MAX_VALUE_CHARS = 64 << 20
MAX_SOURCE_CHARS = 4096


@dataclass(frozen=True)
class BadJson:
    """A stretch of the file that is not a JSON value (reported, then skipped to its line end)."""

    reason: str  # the same for every stretch rejected for the same cause
    detail: str
    source: str  # the stretch as read, at most MAX_SOURCE_CHARS: for the operators' dead letter


# The key of the data of a SourceRecord standing for a stretch that is not a JSON object: the
# converter turns it into a Rejection with the reason it holds.
UNREADABLE = "__unreadable__"


def read_json_records(
    paths: Sequence[Path],
    expand: Callable[[Any], Iterable[Any]] = lambda value: (value,),
) -> Iterator[SourceRecord]:
    """One SourceRecord per JSON object of the files (``expand`` makes the objects of one
    top-level value, e.g. the conversations of an API page); anything else is an UNREADABLE
    record at its line."""
    for path in paths:
        for line, value, position in iter_json_values(path):
            if isinstance(value, BadJson):
                data = {UNREADABLE: value.reason, "detail": value.detail, "source": value.source}
                yield SourceRecord(str(path), line, data, position)
                continue
            for item in expand(value):
                if isinstance(item, Mapping):
                    yield SourceRecord(str(path), line, item, position)
                else:
                    data = {UNREADABLE: "not a JSON object", "detail": "", "source": ""}
                    yield SourceRecord(str(path), line, data, position)


def unreadable(record: SourceRecord) -> str | None:
    """The reason a record is not a JSON object, None for a readable one."""
    reason = record.data.get(UNREADABLE)
    return reason if isinstance(reason, str) else None


def iter_json_values(
    path: Path, *, chunk_chars: int = CHUNK_CHARS, max_value_chars: int = MAX_VALUE_CHARS
) -> Iterator[tuple[int, Any | BadJson, int]]:
    """``(line, value, bytes read)`` for every top-level JSON value of ``path``; ``line``
    (1-based) is where the value starts; the bytes read run ahead by a buffer at most. A
    byte-order mark is skipped."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8-sig", newline="") as stream:
        buffer = ""
        pos = 0
        line = 1
        eof = False
        while True:
            # Skip the whitespace between values, counting lines.
            while True:
                start = pos
                while pos < len(buffer) and buffer[pos] in " \t\r\n":
                    pos += 1
                line += buffer.count("\n", start, pos)
                if pos < len(buffer) or eof:
                    break
                buffer, pos = stream.read(chunk_chars), 0
                eof = not buffer
            if pos >= len(buffer):
                return
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as error:
                if not eof and len(buffer) - pos < max_value_chars and _cut_short(buffer, error):
                    # A value cut by the chunk boundary: read on (doubling, so a long value is
                    # not copied once per chunk) and decode again.
                    more = stream.read(max(chunk_chars, len(buffer) - pos))
                    eof = not more
                    buffer = buffer[pos:] + more
                    pos = 0
                    continue
                if len(buffer) - pos >= max_value_chars:
                    bad = BadJson(
                        "a JSON value too large", f"over {max_value_chars} characters", ""
                    )
                else:
                    newline = buffer.find("\n", pos)
                    stretch = buffer[pos : newline if newline >= 0 else len(buffer)]
                    bad = BadJson("not JSON", error.msg, stretch[:MAX_SOURCE_CHARS])
                yield line, bad, stream.buffer.tell()
                pos, line, buffer, eof = _skip_line(stream, buffer, pos, line, eof, chunk_chars)
                continue
            if end == len(buffer) and not eof and not isinstance(value, dict | list | str):
                # A bare number or literal may continue in the next chunk.
                more = stream.read(chunk_chars)
                if more:
                    buffer = buffer[pos:] + more
                    pos = 0
                    continue
                eof = True
            yield line, value, stream.buffer.tell()
            line += buffer.count("\n", pos, end)
            pos = end


def _cut_short(buffer: str, error: json.JSONDecodeError) -> bool:
    """Whether the decoding error may only mean that the buffer ends inside the value (a real
    syntax error earlier in the buffer is reported at once, without reading on)."""
    if error.pos >= len(buffer) - 8:  # the end of the buffer, or an escape cut in the middle
        return True
    # A string runs to the end of the buffer (a JSON string never holds a raw line break).
    return error.msg.startswith("Unterminated string") and "\n" not in buffer[error.pos :]


def _skip_line(
    stream: Any, buffer: str, pos: int, line: int, eof: bool, chunk_chars: int
) -> tuple[int, int, str, bool]:
    """Move past the end of the line at ``pos`` (reading on when the line is longer)."""
    while True:
        newline = buffer.find("\n", pos)
        if newline >= 0:
            return newline + 1, line + 1, buffer, eof
        if eof:
            return len(buffer), line, buffer, eof
        buffer, pos = stream.read(chunk_chars), 0
        eof = not buffer
