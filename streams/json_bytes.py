"""JSON values as the stream sends and stores them: orjson's bytes, right-sized.

orjson (3.12 and later) writes into a buffer of at least 4 KiB and hands that allocation over as
the ``bytes`` object without shrinking it, so a 300-byte record holds 4 KiB for as long as it
lives (ijl/orjson#483). The stream holds every message of a batch until the broker acknowledges
it, and the customer stage's batch can hold a hundred thousand identity audit records while
catching up: 146 MiB of them in one worker, for about 30 MiB of JSON (docs/performance.md,
Memory). One copy into a bytes object of the right size costs about 0.2 µs.
"""

from __future__ import annotations

from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, in a bytes object no larger than its content."""
    return memoryview(orjson.dumps(value)).tobytes()
