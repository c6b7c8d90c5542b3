"""A SIGKILL at any point of the ingest agent's batch cycle loses nothing (no broker).

``Worker`` follows the agent's write order over plain stores (``streams.agents.ingest``):
contact states and the outbox, then the outputs, then the dedup ids and the emptied outbox. A
kill drops the state changes not yet written and everything after them; a restart builds a new
stage over the stores and reads the partition again from an earlier offset (the committed one,
which lags what was written). Batches re-form differently after a restart, as fetches do on a
real broker: that is what once gave one contact version two different records, the first of
them without the contact's survey.
"""

import orjson
import pytest

from streams.ingest import PartitionIngest
from streams.tables import WriteBehind
from tests.streams.conftest import JsonStore
from tests.streams.test_streams_ingest import RAW_TOPIC, SETTINGS, batch, raw, voice_contact

HOUR = 3600
# where a kill can fall in a batch's cycle (after the last, the batch is done)
CRASH_POINTS = ("processed", "written", "published")


class Worker:
    def __init__(self) -> None:
        self.stores = (JsonStore(), JsonStore(), JsonStore())  # contact states, dedup, outbox
        self.published: list[dict] = []  # the contacts topic, in order
        self.start()

    def start(self) -> None:
        """A new worker process over what the stores hold."""
        self.contacts, self.dedup, self.outbox = (WriteBehind(s) for s in self.stores)
        self.stage = PartitionIngest(
            SETTINGS, RAW_TOPIC, self.contacts, self.dedup, outbox=self.outbox
        )

    def run(self, messages, crash_after: str | None = None) -> None:
        """One batch, as the agent handles it; killed right ``crash_after`` that point."""
        out = self.stage.process(messages)
        if crash_after == "processed":
            return
        self.contacts.flush()
        self.outbox.flush()
        if crash_after == "written":
            return
        self.published += [orjson.loads(value) for _, value in out.contacts]
        if crash_after == "published":
            return
        self.stage.published()
        self.dedup.flush()
        self.outbox.flush()


def latest(published: list[dict]) -> dict[str, dict]:
    """Each contact's record with the highest version (the first of equals), without it."""
    best: dict[str, dict] = {}
    for record in published:
        known = best.get(record["contact_id"])
        if known is None or record["version"] > known["version"]:
            best[record["contact_id"]] = record
    return {cid: {k: v for k, v in r.items() if k != "version"} for cid, r in best.items()}


def records_per_version(published: list[dict]) -> dict[tuple[str, int], set[bytes]]:
    seen: dict[tuple[str, int], set[bytes]] = {}
    for record in published:
        key = (record["contact_id"], record["version"])
        seen.setdefault(key, set()).add(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    return seen


def survey(contact_id: str, at: float, nps: int, csat: int) -> dict:
    attributes = {"nps": nps, "csat": csat}
    return raw("survey.completed", at, contact_id, attributes=attributes)


def partition_log() -> list[dict]:
    """One partition's events in arrival order: surveys after their call and before it, a call
    that times out and is closed late, a duplicate, and calls that move event time on by
    hours (past the lateness and the idle timeout)."""
    c0, c1 = voice_contact("c0", at=0), voice_contact("c1", at=600)
    c2_start, c2_queued = voice_contact("c2", at=1200)[:2]
    later = [voice_contact(f"c{n}", at=n * HOUR) for n in range(3, 7)]
    return [
        *c0,
        survey("c1", 1000, 8, 5),  # before its call
        *c1,
        survey("c0", 400, 9, 4),
        c2_start,
        c2_queued,
        *later[0],
        survey("c3", 3 * HOUR + 400, 3, 2),
        *later[1],
        c0[-1],  # a duplicate of c0's wrap-up
        survey("c4", 4 * HOUR + 400, 10, 5),
        *later[2],
        *later[3],
        raw("contact.abandoned", 1300, "c2"),  # after c2 timed out as incomplete
        survey("c5", 5 * HOUR + 400, 7, 3),
        survey("c6", 6 * HOUR + 400, 6, 4),
    ]


def batches(messages, size: int):
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def no_crash(messages) -> dict[str, dict]:
    worker = Worker()
    for chunk in batches(messages, 4):
        worker.run(chunk)
    return latest(worker.published)


MESSAGES = batch(partition_log())
TRUTH = no_crash(MESSAGES)
BATCHES = batches(MESSAGES, 4)


def test_the_log_without_a_crash_holds_every_survey_and_a_late_close() -> None:
    assert {cid: (r["nps"], r["csat"]) for cid, r in TRUTH.items() if r["nps"]} == {
        "c0": (9, 4),
        "c1": (8, 5),
        "c3": (3, 2),
        "c4": (10, 5),
        "c5": (7, 3),
        "c6": (6, 4),
    }
    assert (TRUTH["c2"]["status"], TRUTH["c2"]["abandoned"]) == ("closed", True)


@pytest.mark.parametrize("point", CRASH_POINTS)
@pytest.mark.parametrize("killed", range(len(BATCHES)))
def test_a_kill_at_any_point_of_any_batch_loses_nothing_and_versions_name_one_record(
    killed: int, point: str
) -> None:
    worker = Worker()
    for chunk in BATCHES[:killed]:
        worker.run(chunk)
    worker.run(BATCHES[killed], crash_after=point)
    # Restarted: the partition is read again from two batches earlier, in larger batches.
    worker.start()
    replayed = MESSAGES[4 * max(0, killed - 2) :]
    for chunk in batches(replayed, 7):
        worker.run(chunk)

    versions = records_per_version(worker.published)
    assert [key for key, records in versions.items() if len(records) > 1] == []
    assert latest(worker.published) == TRUTH


def test_a_kill_after_publishing_a_closed_contact_keeps_its_later_survey() -> None:
    """The kill-9 case: the call closes in one batch, the worker dies once its record is out,
    and the replay reads the call and its survey in one batch."""
    call = voice_contact("c1")
    worker = Worker()
    worker.run(batch(call), crash_after="published")
    worker.start()
    worker.run(batch([*call, survey("c1", 400, 9, 4)]))

    record = latest(worker.published)["c1"]
    assert (record["nps"], record["csat"]) == (9, 4)
