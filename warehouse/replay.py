"""Re-publishing dead letters (``omnicx replay-dead-letters``).

Once the cause of a rejection is fixed (a validator bug, a new event type, a corrected source),
the rejected messages are sent again, with their original bytes, to the raw-events topic, keyed
as every producer keys them (``pipelines.producer``). The stream then treats them like new
messages: valid ones become events (an event_id seen before still counts once), the others are
dead-lettered again as new rows.
"""

from __future__ import annotations

import base64

from pipelines.producer import produce
from schemas.settings import Settings
from warehouse.build import connect_read_only


def dead_letters_to_replay(settings: Settings, where: str | None = None) -> list[bytes]:
    """The original bytes of the dead letters matching ``where`` (an SQL predicate over
    stg_dead_letters), once per rejected message, in the order they were first rejected."""
    predicate = f"({where})" if where else "true"
    with connect_read_only(settings) as con:
        rows = con.execute(
            f"""
            select any_value(raw_base64) as raw_base64
            from stg_dead_letters
            where {predicate}
            group by source_topic, source_partition, source_offset
            order by min(_kafka_timestamp), source_partition, source_offset
            """
        ).fetchall()
    return [base64.b64decode(raw) for (raw,) in rows]


def replay_dead_letters(settings: Settings, where: str | None = None) -> int:
    """Send the matching dead letters to the raw-events topic; how many were sent."""
    return produce(dead_letters_to_replay(settings, where), settings)
