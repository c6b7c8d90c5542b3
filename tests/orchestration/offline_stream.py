"""Events through the stream's own stages without a broker, landed in a lake by the sink's writer.

``PartitionIngest`` (one raw partition) and ``CustomerStage`` are the pure stages the worker
runs (streams/ingest.py, streams/customers.py); their outputs are landed as the sink lands each
topic (``tests.warehouse.lakes.land``: ``warehouse.landing``'s records, files and business
days). What this skips is Kafka itself, Faust and the sink's consumer loop, which the
real-broker tests cover; so a test can put a year of imported history in a lake in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from schemas.routing import routing_key
from schemas.settings import Settings
from schemas.topics import topic_names
from streams.customers import CustomerStage
from streams.ingest import PartitionIngest, RawMessage, identity_messages
from tests.warehouse.lakes import land
from warehouse.tables import (
    CONTACT_VERSIONS,
    CUSTOMER_KEYS,
    DEAD_LETTERS,
    EVENTS,
    IDENTITY_MERGES,
    JOURNEY_VERSIONS,
    LakeTable,
)


def stream_to_lake(
    settings: Settings, events: Iterable[dict[str, Any]], sent_at: float, batch: int = 500
) -> int:
    """The events (contract events, in the order a producer sends them) through both stages
    in batches of ``batch`` messages, as if the broker had appended them all at ``sent_at``
    (epoch seconds: the reference of the stream's bound on future times), everything landed; how many contact records were landed
    (a contact still open at the end has none, as in a live stream)."""
    ingest = PartitionIngest(settings, topic_names(settings).raw_events, {}, {})
    customers = CustomerStage(settings, {}, {}, {}, {}, now=lambda: 0.0)
    landed: dict[LakeTable, list[bytes]] = {
        table: []
        for table in (
            EVENTS,
            DEAD_LETTERS,
            CONTACT_VERSIONS,
            JOURNEY_VERSIONS,
            CUSTOMER_KEYS,
            IDENTITY_MERGES,
        )
    }
    pending = [orjson.dumps(event) for event in events]
    keys = [routing_key(orjson.loads(value)).encode() for value in pending]
    for first in range(0, len(pending), batch):
        messages = [
            RawMessage(key, value, 0, first + n, sent_at)
            for n, (key, value) in enumerate(
                zip(keys[first : first + batch], pending[first : first + batch], strict=True)
            )
        ]
        out = ingest.process(messages)
        assert out.rekeyed == []  # every event keyed as a producer keys it
        landed[EVENTS] += [value for _, value in out.events]
        landed[DEAD_LETTERS] += [value for _, value in out.dead_letters]
        landed[CONTACT_VERSIONS] += [value for _, value in out.contacts]
        stage = customers.process([value for _, value in identity_messages(out.identity)])
        landed[JOURNEY_VERSIONS] += [value for _, value in stage.journeys]
        landed[CUSTOMER_KEYS] += [value for _, value in stage.customers]
        landed[IDENTITY_MERGES] += [value for _, value in stage.merges]
    for table, values in landed.items():
        if values:
            land(settings, table, list(values))
    return len(landed[CONTACT_VERSIONS])
