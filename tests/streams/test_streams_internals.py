"""The Faust, mode and aiokafka internals that ``streams.batches`` and ``streams.tables`` rely on.

They are private: an upgrade may rename or change them without notice, and the batch agent
would then lose or repeat messages quietly rather than fail. The versions are pinned in
pyproject.toml; these tests say which internal moved when someone changes the pins.
"""

import inspect
import re
import tomllib
from contextvars import ContextVar, copy_context
from importlib.metadata import version

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.stores.rocksdb import Store as RocksDBStore
from faust.streams import _current_event, current_event
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from schemas.settings import load_settings
from streams.app import create_app
from streams.batches import BatchConsumer, BatchTransport
from streams.tables import as_current
from tests.harness import REPO

INTERNALS = ("faust-streaming", "mode-streaming", "aiokafka")


class _NoOutputs:
    async def send(self, outputs):
        raise AssertionError("nothing is sent here")

    async def send_to_partitions(self, records):
        raise AssertionError("nothing is sent here")

    async def stop(self):
        return None


@pytest.fixture
def app(tmp_path):
    settings = load_settings(environ={"OMNICX_HOME": str(tmp_path)}, config_file=None)
    return create_app(settings, store="memory://", outputs=_NoOutputs())


def _exact_pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^;\s]+)", requirement.strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_the_internals_are_pinned_exactly_and_installed_at_those_versions():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pinned = _exact_pins(pyproject["project"]["dependencies"])
    locked = _exact_pins((REPO / "requirements.lock").read_text().splitlines())
    for name in INTERNALS:
        assert pinned.get(name) == locked.get(name) == version(name), name


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_faust_fetch_loop_still_asks_wait_next_records_for_each_fetch():
    # BatchConsumer overrides it to take the batch topic's records out of each fetch.
    getmany = inspect.getsource(faust_consumer.Consumer.getmany)
    assert "await self._wait_next_records(timeout)" in getmany
    assert "records, active_partitions" in getmany
    wait = faust_consumer.Consumer._wait_next_records
    assert inspect.iscoroutinefunction(wait) and _parameters(wait) == ["self", "timeout"]
    # When the flow is stopped it seeks back to the committed offsets (why a batch fetched
    # during a rebalance may be dropped).
    assert "perform_seek" in getmany and "if self.flow_active" in getmany


def test_offset_bookkeeping_methods_keep_their_shape():
    consumer = aiokafka_driver.Consumer
    assert inspect.iscoroutinefunction(consumer._add_gap)
    assert _parameters(consumer._add_gap) == ["self", "tp", "offset_from", "offset_to"]
    assert _parameters(consumer._to_message) == ["self", "tp", "record"]
    assert _parameters(consumer.track_message) == ["self", "message"]
    assert _parameters(consumer.ack) == ["self", "message"]
    assert _parameters(RocksDBStore.set_persisted_offset) == ["self", "tp", "offset"]


def test_the_rebalance_test_hook_keeps_its_shape():
    # tests/streams/rebalance_worker.py learns that a revocation began by overriding it.
    revoked = faust.App._on_partitions_revoked
    assert inspect.iscoroutinefunction(revoked) and _parameters(revoked) == ["self", "revoked"]
    assert "await T(self._consumer_wait_empty)(consumer, on_timeout)" in inspect.getsource(revoked)


def test_the_app_builds_the_batch_consumer_and_its_state(app):
    assert isinstance(app.transport, BatchTransport)
    consumer = app.consumer
    assert isinstance(consumer, BatchConsumer)
    tp = TP("raw", 0)
    assert consumer._read_offset[tp] is None  # a defaultdict: None before the first delivery
    assert isinstance(app.monitor.stream_inbound_time, dict)
    # Set False while a rebalance stops the flow (Consumer.stop_flow), True otherwise.
    assert consumer.flow_active is True
    consumer.stop_flow()
    assert consumer.flow_active is False
    consumer.resume_flow()
    assert consumer.flow_active is True
    record = ConsumerRecord("raw", 0, 41, 1767603600000, 0, b"k", b"v", None, 1, 1, ())
    message = consumer._to_message(tp, record)
    assert (message.tp, message.offset, message.key, message.value) == (tp, 41, b"k", b"v")


def test_tables_read_the_current_event_from_a_task_local_context_variable(app):
    assert isinstance(_current_event, ContextVar)
    anchor = faust.Event(app, b"k", b"v", {}, None)

    def set_then_read():
        as_current(anchor)
        return current_event()

    assert copy_context().run(set_then_read) is anchor
    # Set in a copied context: this test's own context never saw it (task-local).
    assert current_event() is None
    # The RocksDB store files a write under that event's partition (JsonTable.persisted).
    assert "event = current_event()" in inspect.getsource(RocksDBStore._set)
    assert "event.message.partition" in inspect.getsource(RocksDBStore._set)
