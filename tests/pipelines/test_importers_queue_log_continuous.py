"""A growing queue_log followed as docs/importers.md (Running continuously) says: the current file
re-imported whole on a schedule, and with its rotated part after a rotation. The stream receives
the events of the whole log with the same ids, so each call counts once. Also the queue_log
events the other tests do not name (plain TRANSFER, JOINUNAVAIL)."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.importing import by_type, contacts, imported
from tests.pipelines.test_importers_queue_log import T0, log, only

# Two calls and an agent's pause, in the order Asterisk appends them: c.1 is transferred by a
# plain TRANSFER back into a queue and answered again, c.2 abandons.
GROWING = [
    f"{T0}|NONE|support|SIP/2001|ADDMEMBER|",
    f"{T0 + 1}|c.1|support|NONE|ENTERQUEUE||0612345678|1",
    f"{T0 + 4}|c.1|support|SIP/2001|CONNECT|3|x.1|2",
    f"{T0 + 34}|c.1|support|SIP/2001|TRANSFER|701|from-queue|3|30|1",
    f"{T0 + 36}|c.1|billing|NONE|ENTERQUEUE||0612345678|1",
    f"{T0 + 40}|c.2|support|NONE|ENTERQUEUE||0699999999|1",
    f"{T0 + 41}|c.1|billing|SIP/2002|CONNECT|5|x.2|1",
    f"{T0 + 47}|c.2|support|NONE|ABANDON|1|1|7",
    f"{T0 + 50}|NONE|support|SIP/2001|PAUSE|lunch",
    f"{T0 + 101}|c.1|billing|SIP/2002|COMPLETEAGENT|5|60|1",
]


def by_id(events: list[dict]) -> dict[str, dict]:
    return {event["event_id"]: event for event in events}


def test_a_log_rotated_mid_call_imported_with_its_rotated_part_gives_the_whole_log(
    tmp_path: Path,
) -> None:
    """Asterisk rotated the log while c.1 was being transferred: ``queue_log.1`` then
    ``queue_log``, given oldest first, are one log (docs/importers.md, Running an import)."""
    whole, _ = imported("queue-log", log(tmp_path, *GROWING, name="whole"))
    rotated = log(tmp_path, *GROWING[:4], name="queue_log.1")
    current = log(tmp_path, *GROWING[4:], name="queue_log")
    both, rejections = imported("queue-log", rotated, current)
    assert rejections == [] and by_id(both) == by_id(whole)
    call = contacts(both)
    transferred = next(c for c in call.values() if c["transfers"])
    # answered 3 s after queueing; talk 30 s + 60 s; 7 s between the agents (2 s transfer, 5 s
    # queued) on hold; one cold transfer (a plain TRANSFER is blind)
    assert transferred["talk_seconds"] == 90 and transferred["hold_seconds"] == 7
    assert transferred["cold_transfers"] == 1 and transferred["agents"] == ["SIP/2001", "SIP/2002"]
    assert sum(c["abandoned"] for c in call.values()) == 1


def test_a_log_imported_again_after_it_grew_resends_its_events_unchanged(tmp_path: Path) -> None:
    """The schedule's re-import: the unfinished call of the first run (c.1, still talking) and
    everything else it sent come again with the same ids and contents, which the stream drops
    as duplicates; the grown file adds the rest."""
    path = log(tmp_path, *GROWING[:7])
    before, _ = imported("queue-log", path)
    path.write_text("".join(f"{line}\n" for line in GROWING))
    after, _ = imported("queue-log", path)
    assert by_id(before).items() <= by_id(after).items()
    assert len(after) > len(before)
    assert by_type(after)["contact.wrapped_up"] and not by_type(before).get("contact.wrapped_up")


def test_joinunavail_never_reaches_a_queue(tmp_path: Path) -> None:
    events, rejections = imported("queue-log", log(tmp_path, f"{T0}|c.9|support|NONE|JOINUNAVAIL|"))
    contact = only(contacts(events))
    assert rejections == [] and contact["queues"] == []
    assert contact["reason"] == "queue_unavailable"
