"""Events per second through event validation: the compiled accept path of ``validate`` against
the full jsonschema check it falls back to for bad events.

    .venv/bin/python benchmarks/bench_validation.py --events 50000

The events are the examples of docs/events.md (one per event type), each sent many times with a
fresh ``event_id`` and ``occurred_at``, so every type's validator is exercised.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from schemas.times import format_utc, parse_rfc3339
from schemas.validation import find_problems, validate

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def generated_events(count: int, seed: int = 7) -> list[bytes]:
    """``count`` valid encoded events, varied copies of the documented examples."""
    examples = [orjson.loads(block) for block in JSON_BLOCK.findall(DOCS.read_text())]
    rng = random.Random(seed)
    events = []
    for number in range(count):
        event = dict(rng.choice(examples))
        event["event_id"] = f"bench-{number:09d}"
        shifted = parse_rfc3339(event["occurred_at"]) + rng.uniform(0, 30 * 86400)
        event["occurred_at"] = format_utc(shifted)
        events.append(orjson.dumps(event))
    return events


def rate(check: Callable[[bytes], object], events: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in events:
        check(raw)
    return len(events) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    events = generated_events(args.events)
    rejected = [raw for raw in events if not validate(raw).ok]  # also compiles every type once
    if rejected:
        raise SystemExit(f"{len(rejected)} generated events are invalid, e.g. {rejected[0]!r}")
    one_per_type = {orjson.loads(raw)["event_type"]: raw for raw in events}.values()
    for raw in one_per_type:  # build the jsonschema validators before timing
        find_problems(orjson.loads(raw))
    fast = rate(validate, events)
    full = rate(lambda raw: find_problems(orjson.loads(raw)), events[: max(1, len(events) // 5)])
    print(f"fast path (orjson + fastjsonschema): {fast:12,.0f} events/s")
    print(f"full path (orjson + jsonschema):     {full:12,.0f} events/s")
    print(f"ratio: {fast / full:.1f}x")


if __name__ == "__main__":
    main()
