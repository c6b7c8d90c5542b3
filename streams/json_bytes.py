"""JSON values as the stream sends and stores them: orjson's bytes, right-sized.

orjson (3.12 and later) writes into a buffer of at least 4 KiB and hands that allocation over as
the ``bytes`` object without shrinking it, so a 300-byte record holds 4 KiB for as long as it
lives (ijl/orjson#483). The stream holds every message of a batch until the broker acknowledges
it: one customer-stage batch of a worker catching up held 102,078 identity audit records in
146 MiB (docs/performance.md, Memory: the stream worker). One copy into a bytes object of the
right size costs 0.15 µs for a 360-byte journey record.
"""

from __future__ import annotations

from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, in a bytes object no larger than its content."""
    return memoryview(orjson.dumps(value)).tobytes()
