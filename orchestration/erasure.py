"""The right to be forgotten and offboarding: one erasure across the lake, the stream's state
and the compacted topics (``omnicx erase``, ``omnicx tenants remove``; docs/tenancy.md, Erasure
and offboarding).

An erasure is planned first (``plan_customers``, ``plan_tenant``): which customers the
identifiers lead to, and the random token that replaces each of their identifier hashes,
customer keys and alert ids. The plan is kept (owner-only) under ``$OMNICX_HOME/erasure`` until
the erasure is complete, so that an erasure interrupted by a crash is finished with the same
tokens by the next ``omnicx erase`` (every step is idempotent). Then, with every stream worker
and every sink stopped:

1. the lake (warehouse.erasure): rows anonymised in place, or the tenant's rows dropped;
2. the stream's state (streams.erasure): tombstones and rewritten values on the changelogs of
   its tables, which the workers replay when they start;
3. the compacted topics: ``customers`` and ``business-keys`` get tombstones; the latest
   ``contacts`` and ``journeys`` records get an anonymised copy (tombstones when a tenant goes),
   so that the topics' latest view, from which the lake can be landed again, matches the lake.

The log (``$OMNICX_HOME/erasure/log.jsonl`` and the command's log) says what was touched and how
many records, never an identifier, a hash, a key or a token.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from orchestration.kafka.records import read_latest, send
from pipelines.kafka_io import admin_client, consumer
from schemas.identifiers import IDENTIFIER_KINDS, hash_identifier, normalise
from schemas.settings import Settings, with_pii_key
from schemas.topics import topic_names
from streams.erasure import DELETE, StateErasure, erase_entry
from warehouse.build import create_views, materialise_latest
from warehouse.erasure import LakeErasure, erase_lake, lake_maintenance

log = logging.getLogger(__name__)

# The stream's tables (streams.agents.wire), whose changelogs hold its state.
STREAM_TABLES = (
    "contact-state",
    "dedup-state",
    "identity-state",
    "journey-state",
    "customer-key-state",
    "churn-state",
)
TOKEN_PREFIX = "erased:"


class ErasureError(RuntimeError):
    """The erasure cannot run (a stage still running, an unusable identifier ...)."""


@dataclass
class ErasurePlan:
    """One erasure, ready to apply; kept on disk until it is complete."""

    erasure_id: str
    tenant: str
    whole_tenant: bool
    replace: dict[str, str] = field(default_factory=dict)  # hash/key/alert id -> token
    contacts: list[str] = field(default_factory=list)  # their contact ids
    requested: dict[str, int] = field(default_factory=dict)  # identifier kind -> how many
    customers: int = 0
    identifiers: int = 0  # identifier hashes erased (the customers' whole sets)
    alerts: int = 0

    def forget(self) -> frozenset[str]:
        return frozenset(self.replace) | frozenset(self.contacts)


@dataclass
class ErasureReport:
    erasure_id: str
    tenant: str
    whole_tenant: bool
    customers: int
    contacts: int
    lake_rows: dict[str, int]
    state_entries: dict[str, int]
    topic_records: dict[str, int]
    days: list[str]  # business days of the lake rows changed (to refresh)


# ------------------------------------------------------------------------------- parsing


def parse_identifier(text: str) -> tuple[str, str]:
    """``KIND=VALUE`` -> (kind, normalised value); ErasureError for an unusable one."""
    kind, sep, value = text.partition("=")
    kind = kind.strip()
    if not sep or kind not in IDENTIFIER_KINDS:
        raise ErasureError(
            f"an identifier is KIND=VALUE with KIND one of {', '.join(IDENTIFIER_KINDS)}"
        )
    normalised = normalise(kind, value)
    if normalised is None:
        raise ErasureError(f"a {kind} identifier that is not usable (empty or a placeholder)")
    return kind, normalised


def identifiers_file(path: Path) -> list[str]:
    """The ``KIND=VALUE`` lines of a file (blank lines and ``#`` comments skipped)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# ------------------------------------------------------------------------------ planning


def plan_customers(
    settings: Settings, tenant: str, identifiers: list[tuple[str, str]]
) -> ErasurePlan:
    """The customers of ``tenant`` behind these (kind, normalised value) identifiers, hashed
    with the deployment's key as the stream hashes them, and the tokens that replace them."""
    key = with_pii_key(settings).pii_key
    hashes = {hash_identifier(kind, value, key) for kind, value in identifiers}
    graph = {
        k.decode(): orjson.loads(v)
        for (_, k), v in read_latest(settings, changelog_topic(settings, "identity-state")).items()
    }
    customer_keys, members = _lake_customer_keys(settings, tenant)
    for identifier in hashes:
        node = graph.get(f"{tenant}|{identifier}")
        if node is not None and node.get("hub"):
            raise ErasureError(
                "an identifier shared by several customers (a hub, docs/identity.md) cannot "
                "name one person: erase by another of their identifiers"
            )
    found, keys = customer_sets(tenant, hashes, graph, customer_keys, members)
    contacts = _contacts_of(settings, tenant, found)
    known = bool(contacts) or any(i in customer_keys or f"{tenant}|{i}" in graph for i in found)
    plan = ErasurePlan(uuid.uuid4().hex[:12], tenant, whole_tenant=False)
    for kind, _ in identifiers:
        plan.requested[kind] = plan.requested.get(kind, 0) + 1
    if not known or not keys:
        return plan  # nothing of theirs is kept
    tokens = {k: TOKEN_PREFIX + secrets.token_hex(16) for k in sorted(keys)}
    first = tokens[min(keys)]
    for identifier in sorted(found):
        plan.replace[identifier] = tokens.get(customer_keys.get(identifier) or "", first)
    plan.replace.update(tokens)
    alerts = _alerts_of(settings, tenant, keys, found)
    for alert_id in alerts:
        plan.replace[alert_id] = "al-erased-" + secrets.token_hex(12)
    plan.contacts = sorted(contacts)
    plan.customers, plan.identifiers, plan.alerts = len(keys), len(found), len(alerts)
    return plan


def customer_sets(
    tenant: str,
    hashes: set[str],
    graph: dict[str, Any],
    customer_keys: dict[str, str | None],
    members: dict[str, list[str]],
) -> tuple[set[str], set[str]]:
    """Every identifier and customer key of the customers behind ``hashes``: their sets in the
    identity graph (hubs left out: shared, not theirs), and in the lake's latest customer keys
    (``customer_keys``, ``members`` of each key), to a fixed point."""
    found, keys = set(hashes), set()
    while True:
        before = (len(found), len(keys))
        for identifier in list(found):
            node = graph.get(f"{tenant}|{identifier}")
            root = graph.get(f"{tenant}|{node['root']}") if node is not None else None
            if root is not None:
                found.update(m for m in root["members"] if not _hub(graph, tenant, m))
                if root.get("key"):
                    keys.add(root["key"])
            elif identifier in customer_keys:
                if customer_keys[identifier] is not None:
                    keys.add(customer_keys[identifier])
            else:
                keys.add(identifier)  # never joined to anything: its own key
        for key in list(keys):
            found.update(members.get(key, ()))
        if (len(found), len(keys)) == before:
            return found, keys


def plan_tenant(tenant: str) -> ErasurePlan:
    return ErasurePlan(uuid.uuid4().hex[:12], tenant, whole_tenant=True)


def _hub(graph: dict[str, Any], tenant: str, identifier: str) -> bool:
    node = graph.get(f"{tenant}|{identifier}")
    return node is not None and bool(node.get("hub"))


def _lake(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The lake's views; the ``int_*`` ones read the materialised latest versions, brought up
    to date with the lake first."""
    materialise_latest(settings)
    con = duckdb.connect()
    create_views(con, settings.lake_dir, settings.intermediate_dir)
    return con


def _lake_customer_keys(
    settings: Settings, tenant: str
) -> tuple[dict[str, str | None], dict[str, list[str]]]:
    """Each identifier's latest customer key in the lake, and each key's identifiers."""
    with _lake(settings) as con:
        rows = con.execute(
            "select identifier, customer_key from int_customer_keys where tenant = ?", [tenant]
        ).fetchall()
    latest = dict(rows)
    members: dict[str, list[str]] = {}
    for identifier, key in rows:
        if key is not None:
            members.setdefault(key, []).append(identifier)
    return latest, members


def _contacts_of(settings: Settings, tenant: str, identifiers: set[str]) -> set[str]:
    """Their contacts: in the lake, and on the contacts topic (not landed yet, perhaps)."""
    wanted = sorted(identifiers)
    with _lake(settings) as con:
        rows = con.execute(
            "select distinct contact_id from stg_contact_versions "
            "where tenant = ? and list_has_any(customer_ids, ?)",
            [tenant, wanted],
        ).fetchall()
    found = {row[0] for row in rows}
    for value in read_latest(settings, topic_names(settings).contacts).values():
        record = orjson.loads(value)
        if record.get("tenant") == tenant and identifiers.intersection(record["customer_ids"]):
            found.add(record["contact_id"])
    return found


def _alerts_of(settings: Settings, tenant: str, keys: set[str], identifiers: set[str]) -> list[str]:
    with _lake(settings) as con:
        rows = con.execute(
            "select distinct alert_id from stg_alerts where tenant = ? "
            "and (list_contains(?, customer_key) or list_has_any(customer_ids, ?))",
            [tenant, sorted(keys), sorted(identifiers)],
        ).fetchall()
    return sorted(row[0] for row in rows)


# ------------------------------------------------------------------------------ applying


def apply_plan(settings: Settings, plan: ErasurePlan) -> ErasureReport:
    """Apply a plan everywhere (see the module docstring); the stream and the sinks must be
    stopped (ErasureError, warehouse.erasure.LakeBusy otherwise). Idempotent."""
    require_stream_stopped(settings)
    save_plan(settings, plan)
    with lake_maintenance(settings.lake_dir):
        lake = LakeErasure(
            plan.tenant, plan.replace, frozenset(plan.contacts), drop_tenant=plan.whole_tenant
        )
        lake_rows, days = erase_lake(settings.lake_dir, lake)
        # The materialised latest versions are copies of lake rows: made again from the
        # rewritten lake files, so that no copy of the erased identifiers is left there.
        materialise_latest(settings)
        state = erase_stream_state(settings, plan)
        state.update(erase_delivery_log(settings, plan))
        topics = erase_topics(settings, plan)
    report = ErasureReport(
        plan.erasure_id,
        plan.tenant,
        plan.whole_tenant,
        plan.customers,
        len(plan.contacts),
        lake_rows,
        state,
        topics,
        sorted(days),
    )
    record_report(settings, plan, report)
    plan_path(settings, plan.erasure_id).unlink(missing_ok=True)
    return report


def require_stream_stopped(settings: Settings) -> None:
    """ErasureError while a stream worker is a member of the stream's group: its state must
    not change under it (it would overwrite the changelog from its own store)."""
    group = settings.stream.app_id
    with admin_client(settings) as admin:
        (description,) = admin.describe_consumer_groups([group])
    members = len(getattr(description, "members", None) or ())
    if members:
        raise ErasureError(
            f"{members} stream worker(s) of {group} are running: stop them first (`omnicx "
            "down`, then `omnicx kafka start` for the broker alone; docs/tenancy.md)"
        )


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic of one of the stream's tables (Faust: ``<app id>-<table>-changelog``,
    ``<app id>-v<N>-...`` for an app version above 1)."""
    app_id = settings.stream.app_id
    pattern = re.compile(rf"{re.escape(app_id)}(-v\d+)?-{re.escape(table)}-changelog")
    reader = consumer(settings)
    try:
        found = sorted(t for t in reader.topics() if pattern.fullmatch(t))
    finally:
        reader.close()
    return found[-1] if found else f"{app_id}-{table}-changelog"


def erase_stream_state(settings: Settings, plan: ErasurePlan) -> dict[str, int]:
    """Tombstones and rewritten values on the changelogs of the stream's tables; how many per
    table."""
    erasure = StateErasure(plan.tenant, plan.forget(), whole_tenant=plan.whole_tenant)
    counts: dict[str, int] = {}
    for table in STREAM_TABLES:
        topic = changelog_topic(settings, table)
        changes: dict[tuple[int, bytes], bytes | None] = {}
        for (partition, key), value in read_latest(settings, topic).items():
            changed, new = erase_entry(key.decode(), orjson.loads(value), erasure)
            if changed:
                changes[(partition, key)] = None if new is DELETE else orjson.dumps(new)
        send(settings, topic, changes)
        if changes:
            counts[table] = len(changes)
    return counts


def erase_delivery_log(settings: Settings, plan: ErasurePlan) -> dict[str, int]:
    """The alert delivery worker's log (business keys, alert records): changed under the
    worker's own lock, so never while it runs (ErasureError)."""
    from orchestration.alerts.log import DeliveryLog
    from orchestration.alerts.worker import WorkerRunning, lock_delivery_log

    path = settings.alert_delivery_log
    if not path.exists():
        return {}
    try:
        lock = lock_delivery_log(path)
    except WorkerRunning as exc:
        raise ErasureError(f"{exc}: stop the alert delivery worker first") from None
    try:
        delivery_log = DeliveryLog(path)
        try:
            changed = delivery_log.erase(plan.tenant, plan.replace, plan.whole_tenant)
        finally:
            delivery_log.close()
    finally:
        os.close(lock)
    return {"alert-delivery-log": changed} if changed else {}


def erase_topics(settings: Settings, plan: ErasurePlan) -> dict[str, int]:
    """The compacted topics: tombstones for customer keys and business keys, anonymised (or,
    for a tenant, tombstoned) latest contact and journey records; how many per topic."""
    names = topic_names(settings)
    counts: dict[str, int] = {}
    tenant_prefix = f"{plan.tenant}|".encode()
    for topic in (names.customers, names.business_keys):
        changes: dict[tuple[int, bytes], bytes | None] = {}
        for (partition, key), _ in read_latest(settings, topic).items():
            if not key.startswith(tenant_prefix):
                continue
            if plan.whole_tenant or key[len(tenant_prefix) :].decode() in plan.replace:
                changes[(partition, key)] = None
        if topic == names.customers and not plan.whole_tenant:
            # The tokens stand for their customers: a lake landed again from the topics keys
            # the anonymised contacts as the rewritten lake does.
            for token in sorted(set(plan.replace.values())):
                if token.startswith(TOKEN_PREFIX):
                    record = {
                        "tenant": plan.tenant,
                        "identifier": token,
                        "customer_key": token,
                        "version": 1,
                    }
                    changes[(0, tenant_prefix + token.encode())] = orjson.dumps(record)
        send(settings, topic, changes)
        counts[topic] = len(changes)
    for topic, mentions in (
        (names.contacts, lambda r: plan.replace.keys() & set(r["customer_ids"])),
        (names.journeys, lambda r: r["customer_key"] in plan.replace),
    ):
        changes = {}
        for (partition, key), value in read_latest(settings, topic).items():
            record = orjson.loads(value)
            if record.get("tenant") != plan.tenant:
                continue
            if plan.whole_tenant:
                changes[(partition, key)] = None
            elif mentions(record):
                changes[(partition, key)] = orjson.dumps(_anonymised(record, plan.replace))
        send(settings, topic, changes)
        counts[topic] = len(changes)
    return {topic: n for topic, n in counts.items() if n}


def _anonymised(record: dict[str, Any], replace: dict[str, str]) -> dict[str, Any]:
    out = dict(record)
    if "customer_ids" in out:
        ids: list[str] = []
        for identifier in out["customer_ids"]:
            token = replace.get(identifier, identifier)
            if token not in ids:
                ids.append(token)
        out["customer_ids"] = ids
    if "customer_key" in out:
        out["customer_key"] = replace.get(out["customer_key"], out["customer_key"])
    return out


# ---------------------------------------------------------------------- plans and the log


def erasure_dir(settings: Settings) -> Path:
    return settings.home / "erasure"


def plan_path(settings: Settings, erasure_id: str) -> Path:
    return erasure_dir(settings) / f"pending-{erasure_id}.json"


def save_plan(settings: Settings, plan: ErasurePlan) -> None:
    """Keep the plan (its hashes and tokens: owner-only) until the erasure is complete."""
    path = plan_path(settings, plan.erasure_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(asdict(plan)))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def pending_plans(settings: Settings) -> list[ErasurePlan]:
    """Erasures started and not complete (a crash): to finish first."""
    paths = sorted(erasure_dir(settings).glob("pending-*.json"), key=lambda p: p.stat().st_mtime)
    return [ErasurePlan(**orjson.loads(path.read_bytes())) for path in paths]


def record_report(settings: Settings, plan: ErasurePlan, report: ErasureReport) -> None:
    """One line of ``$OMNICX_HOME/erasure/log.jsonl``: what was touched, counts, no identifier."""
    line = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **asdict(report),
        "identifiers_requested": plan.requested,
        "identifiers_erased": plan.identifiers,
        "alerts": plan.alerts,
    }
    path = erasure_dir(settings) / "log.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        out.write(orjson.dumps(line) + b"\n")
    log.info("erasure %s", orjson.dumps(line).decode())


def refresh_range(days: Iterable[str]) -> tuple[date, date] | None:
    """The days to refresh after an erasure: those of the rows changed, a day either side for
    the tenants' reporting time zones (a UTC day is in two local days)."""
    parsed = sorted(date.fromisoformat(day) for day in days)
    if not parsed:
        return None
    one = parsed[0].resolution
    return parsed[0] - one, parsed[-1] + one
