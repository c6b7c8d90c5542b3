"""One sink per group instance id (warehouse.instances), without a broker: the lock files."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO
from warehouse.instances import DuplicateInstance, lock_instance


def test_default_ids_are_unique_on_a_host_and_stable_across_restarts(tmp_path: Path) -> None:
    host = socket.gethostname()
    first = lock_instance(tmp_path, "lake-sink", None)
    second = lock_instance(tmp_path, "lake-sink", None)
    first.release()
    restarted = lock_instance(tmp_path, "lake-sink", None)

    assert (first.instance_id, second.instance_id) == (f"{host}-0", f"{host}-1")
    assert restarted.instance_id == f"{host}-0"


def test_an_id_in_use_is_refused_within_its_group_only(tmp_path: Path) -> None:
    held = lock_instance(tmp_path, "lake-sink", "sink-a")

    with pytest.raises(DuplicateInstance, match="runs with instance id 'sink-a'"):
        lock_instance(tmp_path, "lake-sink", "sink-a")
    elsewhere = lock_instance(tmp_path, "another-group", "sink-a")

    assert elsewhere.instance_id == held.instance_id == "sink-a"


def test_the_lock_of_a_killed_sink_is_free_again(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from warehouse.instances import lock_instance;"
            f"held = lock_instance(Path({str(tmp_path)!r}), 'lake-sink', 'sink-a'); print('locked');"
            "sys.stdout.flush(); sys.stdin.read()",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(DuplicateInstance):
            lock_instance(tmp_path, "lake-sink", "sink-a")
    finally:
        holder.kill()  # kill -9: no clean-up runs
        holder.wait()

    assert lock_instance(tmp_path, "lake-sink", "sink-a").instance_id == "sink-a"
