"""The project's Kafka topics: names, partition counts, retention and clean-up policy.

Faust creates its own internal topics (table changelogs, repartitions); these are the ones the
project's stages exchange. Versioned records (contacts, journeys) are keyed and compacted, so the
topic always holds at least the latest version of every record and the warehouse can be rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.settings import Settings

_HOUR_MS = 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]
    purpose: str


@dataclass(frozen=True)
class Topics:
    """Full topic names for one prefix."""

    raw_events: str
    events: str
    dead_letters: str
    dead_letters_raw: str
    identity: str
    identity_merges: str
    customers: str
    contacts: str
    journeys: str
    alerts: str
    business_keys: str
    alert_deliveries: str
    wallboard: str


def topic_names(settings: Settings) -> Topics:
    p = settings.topics.prefix
    return Topics(
        raw_events=f"{p}raw-events",
        events=f"{p}events",
        dead_letters=f"{p}dead-letters",
        dead_letters_raw=f"{p}dead-letters-raw",
        identity=f"{p}identity",
        identity_merges=f"{p}identity-merges",
        customers=f"{p}customers",
        contacts=f"{p}contacts",
        journeys=f"{p}journeys",
        alerts=f"{p}alerts",
        business_keys=f"{p}business-keys",
        alert_deliveries=f"{p}alert-deliveries",
        wallboard=f"{p}wallboard",
    )


def project_topics(settings: Settings) -> list[TopicSpec]:
    t = settings.topics
    names = topic_names(settings)
    keep = {"cleanup.policy": "delete", "retention.ms": str(t.retention_hours * _HOUR_MS)}
    # The broker's append time, not the producer's clock, stamps raw events: the stream judges
    # an event "in the future" against it, and it never changes when the topic is read again.
    raw = {**keep, "message.timestamp.type": "LogAppendTime"}
    dead = {
        "cleanup.policy": "delete",
        "retention.ms": str(t.dead_letter_retention_hours * _HOUR_MS),
    }
    compact = {"cleanup.policy": "compact"}
    n = t.partitions
    return [
        TopicSpec(names.raw_events, n, raw, "raw events from every source, as sent"),
        TopicSpec(names.events, n, keep, "valid canonical events (identifiers hashed), by contact"),
        TopicSpec(names.dead_letters, n, dead, "rejected messages: errors, ids, redacted preview"),
        # Operators only: never landed in the analysts' lake (docs/streams.md, Dead letters).
        TopicSpec(names.dead_letters_raw, n, dead, "rejected messages with their exact bytes"),
        # One partition: every worker must see identity links in one order (docs/identity.md).
        TopicSpec(names.identity, 1, keep, "identity evidence feeding the identity graph"),
        TopicSpec(names.identity_merges, 1, keep, "audit record of every identity merge"),
        TopicSpec(names.customers, 1, compact, "customer key of every identifier hash"),
        TopicSpec(names.contacts, n, compact, "versioned contact records, key contact_id"),
        TopicSpec(names.journeys, n, compact, "versioned journey records, key journey_id"),
        TopicSpec(
            names.alerts, n, keep, "churn-risk alerts (hashed identifiers), key customer_key"
        ),
        # Operators only, never landed: the raw CRM keys behind the hashes (docs/alerts.md).
        TopicSpec(names.business_keys, n, compact, "raw customer_id/account_id by their hash"),
        TopicSpec(names.alert_deliveries, n, keep, "outcome of each alert on each channel"),
        # One partition: the wallboard reads every tenant's snapshots in one order (wallboard.md).
        TopicSpec(names.wallboard, 1, compact, "live wallboard snapshots, key tenant|source|part"),
    ]
