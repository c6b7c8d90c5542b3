"""File output of a run: a directory that a test, a replay or a person can read.

- ``events.jsonl``: one raw message per line, exactly the bytes sent to Kafka (bad ones too);
- ``ground_truth.json``: knobs, fault ledger, KPIs, churn-risk customers ...;
- ``ground_truth_contacts.jsonl``: ``ContactFacts.to_dict()`` per contact, sorted by contact_id;
- ``ground_truth_journeys.jsonl``: ``JourneyFacts.to_dict()`` per journey, sorted by journey_id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from pipelines.simulator.run import Simulation

EVENTS = "events.jsonl"
GROUND_TRUTH = "ground_truth.json"
CONTACTS = "ground_truth_contacts.jsonl"
JOURNEYS = "ground_truth_journeys.jsonl"
_CHUNK = 4096


def write_events(messages: Iterable[bytes], path: Path) -> int:
    """Write messages one per line; how many."""
    count = 0
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for raw in messages:
            if b"\n" in raw:
                raise ValueError(f"message {count} contains a newline and cannot be a line")
            chunk.append(raw)
            count += 1
            if len(chunk) == _CHUNK:
                out.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")
    return count


def write_ground_truth(simulation: Simulation, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / GROUND_TRUTH).write_bytes(
        orjson.dumps(simulation.ground_truth(), option=orjson.OPT_INDENT_2) + b"\n"
    )
    _write_lines(directory / CONTACTS, (f.to_dict() for f in simulation.contact_facts()))
    _write_lines(directory / JOURNEYS, (j.to_dict() for j in simulation.journey_facts()))


def write_run(
    simulation: Simulation, directory: Path, messages: Iterable[bytes] | None = None
) -> int:
    """Write a whole run to ``directory``; ``messages`` may wrap ``simulation.messages()``
    (a progress bar). Returns the number of messages."""
    directory.mkdir(parents=True, exist_ok=True)
    count = write_events(
        simulation.messages() if messages is None else messages, directory / EVENTS
    )
    write_ground_truth(simulation, directory)
    return count


def read_events(path: Path) -> Iterator[bytes]:
    """The messages of an ``events.jsonl``, byte for byte as they were written."""
    with path.open("rb") as lines:
        for line in lines:
            yield line[:-1] if line.endswith(b"\n") else line


def _write_lines(path: Path, records: Iterable[dict]) -> None:
    with path.open("wb") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")
