"""One sink per group instance id: a lock file per id beside the lake.

Sinks join their group with static membership (``group.instance.id``): a restarted sink takes
its partitions back at once. Kafka lets a second member join with an id already in use and
fences the first one, so two sinks started with one id would take partitions from each other.
Each sink therefore holds an exclusive ``flock`` on ``<lake>/_sink/instances/<group>/<id>.lock``
while it runs (the kernel releases it when the process dies, kill -9 included):

- with an id given (``--instance-id`` or ``[warehouse] sink_instance_id``), a second sink with
  that id on the lake is refused (DuplicateInstance);
- without one, the sink takes ``<host>-<n>`` for the smallest ``n`` whose lock is free: unique,
  and stable across restarts (a restarted sink gets its old id, hence its partitions, back).

The lock only sees sinks sharing the lake directory (and, across hosts, a file system with
working ``flock``); a duplicate elsewhere is caught by Kafka, which fences the older sink, and
the sink stops on that (warehouse.sink.SinkFenced).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from warehouse.landing import SINK_DIR

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class DuplicateInstance(RuntimeError):
    """Another running sink holds this group instance id."""


@dataclass
class InstanceLock:
    instance_id: str
    handle: IO[str]

    def release(self) -> None:
        self.handle.close()  # closing the descriptor releases the flock


def lock_instance(lake_dir: Path, group_id: str, instance_id: str | None) -> InstanceLock:
    """Lock ``instance_id`` (or the first free ``<host>-<n>``) for this process."""
    directory = lake_dir / SINK_DIR / "instances" / _safe(group_id)
    directory.mkdir(parents=True, exist_ok=True)
    if instance_id is not None:
        lock = _try_lock(directory, instance_id)
        if lock is None:
            raise DuplicateInstance(
                f"another sink of group {group_id!r} runs with instance id {instance_id!r} "
                f"on {lake_dir} (lock {directory / (_safe(instance_id) + '.lock')}); "
                "give each sink its own --instance-id"
            )
        return lock
    host = socket.gethostname()
    n = 0
    while (lock := _try_lock(directory, f"{host}-{n}")) is None:
        n += 1
    return lock


def _try_lock(directory: Path, instance_id: str) -> InstanceLock | None:
    handle = (directory / f"{_safe(instance_id)}.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # for an operator wondering who holds it
    handle.flush()
    return InstanceLock(instance_id, handle)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def running_instances(lake_dir: Path) -> list[str]:
    """The ids (``<group>/<id>``) of the sinks that hold a lock on the lake right now."""
    running = []
    for path in sorted((lake_dir / SINK_DIR / "instances").glob("*/*.lock")):
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                running.append(f"{path.parent.name}/{path.stem}")
    return running
