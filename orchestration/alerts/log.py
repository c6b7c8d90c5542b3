"""The delivery log: what the delivery worker did with each alert on each channel, in SQLite
under ``$OMNICX_HOME`` (``[alerts] delivery_log``; owner-only, it holds business keys).

One row per (alert_id, channel) with its status (``pending`` while being tried, then
``delivered`` or ``failed``), attempts, last error and latency. It is the worker's memory: an
alert whose row is final is never sent again on that channel, whether the worker restarted or
the stream published the alert twice. Each attempt is counted before it is sent and each outcome
written (and synced to disk) before the Kafka offset is committed; a crash in between leaves a
``pending`` row whose alert is read again and sent again with the same ``webhook-id``.

Also kept here: the alert records (for ``--retry-failed``), the business keys read from the
operators' ``business-keys`` topic with the offsets read so far, and which outcomes were
published on the ``alert-deliveries`` topic (for the warehouse).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FINAL = (DELIVERED, FAILED)

_SCHEMA = """
create table if not exists deliveries (
    alert_id text not null,
    channel text not null,
    tenant text not null,
    status text not null,
    attempts integer not null default 0,
    last_error text,
    first_attempt_at text,
    finished_at text,
    latency_seconds real,
    published integer not null default 0,
    primary key (alert_id, channel)
);
create table if not exists alerts (
    alert_id text primary key,
    record blob not null,
    received_at text not null
);
create table if not exists business_keys (
    tenant text not null,
    identifier text not null,
    value text not null,
    primary key (tenant, identifier)
);
create table if not exists business_key_offsets (
    partition integer primary key,
    next_offset integer not null
);
"""


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    channel: str
    tenant: str
    status: str
    attempts: int
    last_error: str | None
    first_attempt_at: str | None
    finished_at: str | None
    latency_seconds: float | None

    def record(self) -> dict[str, Any]:
        """The record published on the alert-deliveries topic."""
        return dict(self.__dict__)


class DeliveryLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            path.touch(mode=0o600)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit; ``_txn`` groups
        self.db.execute("pragma journal_mode = wal")
        self.db.execute("pragma synchronous = full")  # an outcome survives a power cut too
        self.db.executescript(_SCHEMA)
        owner_only(path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("begin immediate")
        try:
            yield self.db
        except BaseException:
            self.db.execute("rollback")
            raise
        self.db.execute("commit")

    # -- alerts ---------------------------------------------------------------------------

    def keep_alert(self, alert: dict[str, Any], now: str) -> None:
        self.db.execute(
            "insert or ignore into alerts values (?, ?, ?)",
            (alert["alert_id"], orjson.dumps(alert), now),
        )

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        row = self.db.execute("select record from alerts where alert_id = ?", (alert_id,))
        found = row.fetchone()
        return None if found is None else orjson.loads(found[0])

    # -- deliveries -----------------------------------------------------------------------

    def delivery(self, alert_id: str, channel: str) -> Delivery | None:
        row = self.db.execute(
            f"select {_COLUMNS} from deliveries where alert_id = ? and channel = ?",
            (alert_id, channel),
        ).fetchone()
        return None if row is None else Delivery(*row)

    def attempt(self, alert_id: str, channel: str, tenant: str, now: str) -> int:
        """Count an attempt before it is made; returns the attempts so far, this one included."""
        with self._txn() as db:
            db.execute(
                "insert into deliveries (alert_id, channel, tenant, status, attempts, "
                "first_attempt_at) values (?, ?, ?, ?, 1, ?) on conflict do update set "
                "attempts = attempts + 1, status = excluded.status, "
                "first_attempt_at = coalesce(first_attempt_at, excluded.first_attempt_at)",
                (alert_id, channel, tenant, PENDING, now),
            )
            (attempts,) = db.execute(
                "select attempts from deliveries where alert_id = ? and channel = ?",
                (alert_id, channel),
            ).fetchone()
        return attempts

    def attempt_failed(self, alert_id: str, channel: str, error: str) -> None:
        self.db.execute(
            "update deliveries set last_error = ? where alert_id = ? and channel = ?",
            (error, alert_id, channel),
        )

    def finish(
        self,
        alert_id: str,
        channel: str,
        status: str,
        error: str | None,
        now: str,
        latency_seconds: float | None,
    ) -> None:
        self.db.execute(
            "update deliveries set status = ?, last_error = coalesce(?, last_error), "
            "finished_at = ?, latency_seconds = ?, published = 0 "
            "where alert_id = ? and channel = ?",
            (status, error, now, latency_seconds, alert_id, channel),
        )

    def unpublished(self) -> list[Delivery]:
        """Final outcomes not yet on the alert-deliveries topic."""
        placeholders = ", ".join("?" * len(FINAL))
        rows = self.db.execute(
            f"select {_COLUMNS} from deliveries where published = 0 "
            f"and status in ({placeholders}) order by finished_at",
            FINAL,
        )
        return [Delivery(*row) for row in rows]

    def mark_published(self, deliveries: Iterable[Delivery]) -> None:
        with self._txn() as db:
            db.executemany(
                "update deliveries set published = 1 where alert_id = ? and channel = ? "
                "and finished_at = ?",
                [(d.alert_id, d.channel, d.finished_at) for d in deliveries],
            )

    def reopen_failed(self, channels: Iterable[str]) -> list[Delivery]:
        """Make the failed deliveries on ``channels`` pending again with no attempt counted
        (``omnicx alerts deliver --retry-failed``); returns them."""
        names = list(channels)
        placeholders = ", ".join("?" * len(names))
        with self._txn() as db:
            rows = db.execute(
                f"select {_COLUMNS} from deliveries where status = ? "
                f"and channel in ({placeholders})",
                (FAILED, *names),
            ).fetchall()
            db.execute(
                f"update deliveries set status = ?, attempts = 0, finished_at = null, "
                f"latency_seconds = null where status = ? and channel in ({placeholders})",
                (PENDING, FAILED, *names),
            )
        return [Delivery(*row) for row in rows]

    # -- business keys --------------------------------------------------------------------

    def business_key_offsets(self) -> dict[int, int]:
        return dict(self.db.execute("select partition, next_offset from business_key_offsets"))

    def store_business_keys(
        self,
        upserts: list[tuple[str, str, str]],
        deletes: list[tuple[str, str]],
        offsets: dict[int, int],
    ) -> None:
        """Keys (tenant, identifier, raw value) and tombstones read, with the offsets after them."""
        with self._txn() as db:
            db.executemany("insert or replace into business_keys values (?, ?, ?)", upserts)
            db.executemany("delete from business_keys where tenant = ? and identifier = ?", deletes)
            db.executemany(
                "insert or replace into business_key_offsets values (?, ?)", offsets.items()
            )

    def business_keys(self, tenant: str, identifiers: Iterable[str]) -> dict[str, str]:
        wanted = list(identifiers)
        if not wanted:
            return {}
        placeholders = ", ".join("?" * len(wanted))
        rows = self.db.execute(
            f"select identifier, value from business_keys where tenant = ? "
            f"and identifier in ({placeholders})",
            (tenant, *wanted),
        )
        return dict(rows)

    # -- erasure (orchestration.erasure) --------------------------------------------------

    def erase(self, tenant: str, replace: dict[str, str], whole_tenant: bool) -> int:
        """Forget a tenant's customers: their business keys and alert records go, their
        deliveries keep their outcome under the alert's token (``replace``); or, with
        ``whole_tenant``, everything of the tenant goes. How many rows changed."""
        with self._txn() as db:
            records = db.execute("select alert_id, record from alerts").fetchall()
            if whole_tenant:
                alerts = [a for a, r in records if orjson.loads(r).get("tenant") == tenant]
                changed = db.execute("delete from deliveries where tenant = ?", (tenant,)).rowcount
                changed += db.execute(
                    "delete from business_keys where tenant = ?", (tenant,)
                ).rowcount
            else:
                alerts = [a for a, _ in records if a in replace]
                changed = db.executemany(
                    "update deliveries set alert_id = ? where alert_id = ?",
                    [(new, old) for old, new in replace.items()],
                ).rowcount
                changed += db.executemany(
                    "delete from business_keys where tenant = ? and identifier = ?",
                    [(tenant, identifier) for identifier in replace],
                ).rowcount
            for alert_id in alerts:
                changed += db.execute("delete from alerts where alert_id = ?", (alert_id,)).rowcount
        return changed


_COLUMNS = (
    "alert_id, channel, tenant, status, attempts, last_error, first_attempt_at, finished_at, "
    "latency_seconds"
)


def owner_only(path: Path) -> None:
    """The log and its WAL files readable by the owner only (they hold business keys)."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            os.chmod(candidate, 0o600)
