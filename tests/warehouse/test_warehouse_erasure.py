"""The lake side of an erasure (warehouse.erasure): rows anonymised or dropped in the sink's files,
recorded in its manifest, crash-safe, and never while a sink lands."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import warehouse.erasure
from tests.warehouse.lakes import lake_settings, land_file
from warehouse.erasure import (
    JOURNAL_FILE,
    LakeBusy,
    LakeErasure,
    erase_lake,
    hold_for_landing,
    lake_maintenance,
    landed_entries,
    recover_rewrites,
)
from warehouse.landing import SINK_DIR, LakeFile
from warehouse.manifest import PartitionManifest, manifest_path
from warehouse.tables import ALERTS, CONTACT_VERSIONS, DEAD_LETTERS, EVENTS, LakeTable

PHONE, EMAIL, OTHER = "phone:" + "a" * 32, "email:" + "b" * 32, "phone:" + "c" * 32
TOKEN = "erased:" + "0" * 32


def event(n: int, tenant: str, ids: list[str]) -> dict:
    return {
        "event_id": f"e{n}",
        "event_type": "contact.started",
        "schema_version": 1,
        "occurred_at": f"2026-01-05T09:{n:02d}:00Z",
        "ts": 1_767_603_600.0 + n * 60,
        "tenant": tenant,
        "channel": "voice",
        "contact_id": f"c{n}",
        "customer_ids": ids,
        "attributes": {"linked": ids},
    }


def landed(settings, table: LakeTable, values: list[dict]) -> Path:
    """A file landed and recorded in the manifest as the sink does."""
    path = land_file(settings, table, values)
    lake_file = LakeFile.parse(path)
    manifest = PartitionManifest(
        manifest_path(settings.lake_dir, table, 0), settings.lake_dir / table.name, 0
    )
    manifest.added(lake_file, len(values), path.stat().st_size)
    return path


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def trusted(settings, table: LakeTable) -> list[Path]:
    return [e.lake_file.path for e in landed_entries(settings.lake_dir, table)]


def test_anonymising_replaces_the_values_of_the_tenant_only_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    path = landed(
        settings,
        EVENTS,
        [
            event(1, "acme", [EMAIL, PHONE]),
            event(2, "acme", [OTHER]),
            event(3, "nova", [PHONE]),  # the same phone at another brand: another person
        ],
    )
    erasure = LakeErasure("acme", {PHONE: TOKEN, EMAIL: TOKEN})
    with lake_maintenance(settings.lake_dir):
        changed, days = erase_lake(settings.lake_dir, erasure)
    assert (changed, days) == ({"events": 1}, {"2026-01-05"})
    got = rows(path)
    assert [r["customer_ids"] for r in got] == [[TOKEN], [OTHER], [PHONE]]
    assert got[0]["attributes"] == f'{{"linked":["{TOKEN}","{TOKEN}"]}}'
    assert [r["_kafka_offset"] for r in got] == [0, 1, 2]
    # the manifest knows the new size: the sink trusts the file rather than landing it again
    assert trusted(settings, EVENTS) == [path]
    assert not (settings.lake_dir / SINK_DIR / JOURNAL_FILE).exists()
    # run again: nothing left to change
    with lake_maintenance(settings.lake_dir):
        assert erase_lake(settings.lake_dir, erasure) == ({}, set())


def test_alerts_lose_their_ids_and_dead_letters_their_preview(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    alert = {
        "alert_id": "al-1",
        "tenant": "acme",
        "customer_key": EMAIL,
        "customer_ids": [EMAIL, PHONE],
        "signals": [{"evidence": [EMAIL]}],
        "trigger_occurred_at": "2026-01-05T09:00:00Z",
    }
    alerts = landed(settings, ALERTS, [alert])
    dead = {
        "dead_letter_id": "d1",
        "tenant": "acme",
        "contact_id": "c1",
        "redacted_preview": '{"contact_id": "c1", "phone": "<redacted>"}',
        "occurred_at": "2026-01-05T09:00:00Z",
    }
    letters = landed(
        settings, DEAD_LETTERS, [dead, {**dead, "dead_letter_id": "d2", "contact_id": "c2"}]
    )
    erasure = LakeErasure(
        "acme", {EMAIL: TOKEN, PHONE: TOKEN, "al-1": "al-erased-1"}, frozenset({"c1"})
    )
    with lake_maintenance(settings.lake_dir):
        changed, _ = erase_lake(settings.lake_dir, erasure)
    assert changed == {"alerts": 1, "dead_letters": 1}
    (got,) = rows(alerts)
    assert (got["alert_id"], got["customer_key"], got["customer_ids"]) == (
        "al-erased-1",
        TOKEN,
        [TOKEN],
    )
    assert EMAIL not in got["signals"]
    assert [r["redacted_preview"] is None for r in rows(letters)] == [True, False]


def test_dropping_a_tenant_keeps_its_emptied_files_so_their_offsets_stay_landed(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    mixed = landed(settings, EVENTS, [event(1, "acme", [PHONE]), event(2, "nova", [PHONE])])
    contact = {"contact_id": "c9", "tenant": "acme", "channel": "chat", "version": 1,
               "started_at": "2026-01-05T10:00:00Z"}  # fmt: skip
    only = landed(settings, CONTACT_VERSIONS, [contact])
    with lake_maintenance(settings.lake_dir):
        changed, _ = erase_lake(settings.lake_dir, LakeErasure("acme", drop_tenant=True))
    assert changed == {"events": 1, "contact_versions": 1}
    assert [r["tenant"] for r in rows(mixed)] == ["nova"]
    assert rows(only) == []
    assert trusted(settings, CONTACT_VERSIONS) == [only]


def test_an_erasure_waits_for_no_sink_and_a_sink_for_no_erasure(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    sink = hold_for_landing(settings.lake_dir)
    other_sink = hold_for_landing(settings.lake_dir)  # sinks share the lake
    with pytest.raises(LakeBusy, match="sink is running"), lake_maintenance(settings.lake_dir):
        pass
    sink.close()
    other_sink.close()
    with lake_maintenance(settings.lake_dir):
        pass  # no sink left: the erasure may run


def test_a_rewrite_interrupted_before_its_rename_is_finished_by_the_next_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = lake_settings(tmp_path)
    path = landed(settings, EVENTS, [event(1, "acme", [PHONE])])
    erasure = LakeErasure("acme", {PHONE: TOKEN})

    def killed(lake_dir: Path, line: dict) -> None:
        raise KeyboardInterrupt  # after the journal line, before the manifest and the rename

    with monkeypatch.context() as patch:
        patch.setattr(warehouse.erasure, "_record", killed)
        with pytest.raises(KeyboardInterrupt), lake_maintenance(settings.lake_dir):
            erase_lake(settings.lake_dir, erasure)
    assert rows(path)[0]["customer_ids"] == [PHONE]  # the old file is still whole
    assert (settings.lake_dir / SINK_DIR / JOURNAL_FILE).exists()
    assert recover_rewrites(settings.lake_dir) == 1  # as a sink starting next would
    assert rows(path)[0]["customer_ids"] == [TOKEN]
    assert trusted(settings, EVENTS) == [path]
    assert not (settings.lake_dir / SINK_DIR / JOURNAL_FILE).exists()
