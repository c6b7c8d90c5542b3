"""Which records of a fetch the batch agent gets (``streams.batches.undelivered``)."""

from typing import NamedTuple

from streams.batches import undelivered


class Record(NamedTuple):
    offset: int


def offsets(records: list[Record]) -> list[int]:
    return [r.offset for r in records]


def test_first_fetch_of_a_partition_delivers_everything():
    fresh, gaps = undelivered([Record(0), Record(1), Record(2)], None)
    assert (offsets(fresh), gaps) == ([0, 1, 2], [])


def test_records_before_the_read_offset_are_dropped_and_the_one_at_it_is_delivered():
    # Right after a seek to 5 (the committed offset), 5 is the next record to process.
    fresh, gaps = undelivered([Record(3), Record(4), Record(5), Record(6)], 5)
    assert (offsets(fresh), gaps) == ([5, 6], [])


def test_skipped_offsets_become_gaps_before_and_between_records():
    # Offsets 3-4 (say, a transaction's commit marker) come before the fetch, 7 inside it.
    fresh, gaps = undelivered([Record(5), Record(6), Record(8)], 2)
    assert offsets(fresh) == [5, 6, 8]
    assert gaps == [range(3, 5), range(7, 8)]


def test_a_fetch_wholly_behind_the_read_offset_yields_nothing():
    assert undelivered([Record(3), Record(4)], 5) == ([], [])
