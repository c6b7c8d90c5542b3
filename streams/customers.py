"""The customer stage: identity stitching, journeys and live churn scoring, over the
single-partition identity topic.

Identity needs one consistent view (a merge can join customers whose contacts were folded on any
partition), so link evidence and contact records all flow through one partition in one order,
and this stage owns the identity graph and the journeys together (docs/identity.md). Pure: it
returns the messages to produce and keeps its state in the stores it is given.

Each identity-topic message (one tenant's items of one ingest batch) is a unit: its contact
records are filed, and the customers it touched re-scored, by the end of it. So a replay of the
topic after a crash re-scores exactly as the first time, whatever batches Faust hands over, and
re-emits the same alert ids (``streams.churn``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.records import ContactFacts
from schemas.settings import Settings
from schemas.times import parse_rfc3339
from streams.churn import ChurnBook, Trigger
from streams.identity import IdentityGraph
from streams.journeys import JourneyBook, contact_end
from streams.json_bytes import json_bytes

Produced = tuple[bytes | None, bytes]


@dataclass(slots=True)
class CustomerOutput:
    merges: list[Produced] = field(default_factory=list)  # identity audit records
    journeys: list[Produced] = field(default_factory=list)
    customers: list[Produced] = field(default_factory=list)  # identifier -> customer key
    alerts: list[Produced] = field(default_factory=list)  # churn alerts, key customer_key


class CustomerStage:
    __slots__ = ("book", "churn", "emitted_keys", "graph")

    def __init__(
        self,
        settings: Settings,
        identity_store: MutableMapping[str, Any],
        journey_store: MutableMapping[str, Any],
        key_store: MutableMapping[str, Any],
        churn_store: MutableMapping[str, Any],
        now: Callable[[], float] = time.time,
    ) -> None:
        """``now``: the wall clock, only for the alerts' ``created_at``."""
        self.graph = IdentityGraph(
            identity_store,
            settings.stream.identity_max_accounts,
            settings.stream.lateness_seconds,
        )
        self.book = JourneyBook(
            journey_store,
            self.graph.customer_key,
            settings.kpis.repeat_window_days * 86400,
            retention_seconds=journey_retention_seconds(settings),
            on_filed=self.graph.note_contacts,
        )
        # identifier node -> [customer key, version] last published on the customers topic
        self.emitted_keys = key_store
        self.churn = ChurnBook(settings, churn_store, self.graph, self.book, now)

    def process(self, messages: list[bytes]) -> CustomerOutput:
        """Apply a batch of identity-topic messages (each a list of items, ``identity_messages``)."""
        out = CustomerOutput()
        touched: set[tuple[str, str]] = set()
        for raw in messages:
            self._message(orjson.loads(raw), touched, out)
        self.graph.flush()
        self._publish_keys(touched, out)
        return out

    def _message(
        self, items: list[dict[str, Any]], touched: set[tuple[str, str]], out: CustomerOutput
    ) -> None:
        churn = self.churn
        contacts: list[tuple[ContactFacts, Trigger]] = []
        lanes: dict[str, str] = {}  # contact id -> importer, for the imported contacts
        for item in items:
            kind, body = item["kind"], item["body"]
            if kind == "contact":
                contact = ContactFacts(**body)
                trigger = _contact_trigger(contact, item.get("trigger"))
                churn.advance(trigger)
                contacts.append((contact, trigger))
                if "lane" in item:
                    lanes[contact.contact_id] = item["lane"]
                touched.update((contact.tenant, i) for i in contact.customer_ids)
                continue
            trigger = Trigger(body["event_id"], round(body["ts"] * 1000))
            churn.advance(trigger)
            if kind == "survey":
                churn.add_survey(body["tenant"], body, trigger)
                continue
            if kind == "opt_out":
                tenant = body["tenant"]
                churn.add_opt_out(tenant, body, trigger)
                # Published like a contact's, so that the warehouse attributes the opt-out.
                touched.update((tenant, i) for i in body["customer_ids"])
                continue
            # Contacts filed before a link must be filed under the identity they had then.
            self._file(contacts, lanes, out)
            contacts = []
            for audit in self.graph.link(body):
                out.merges.append((audit["tenant"].encode(), json_bytes(audit)))
                tenant = audit["tenant"]
                changed = set(audit["evidence"]["identifiers"])
                root = audit.get("new_root") or audit.get("root")
                if root is not None:
                    # Links re-applied after this audit's (a reordering) may have moved the set.
                    changed.update(self.graph.members(tenant, self.graph.root(tenant, root)))
                touched.update((tenant, i) for i in changed)
                # Contacts whose identifiers span sets may be filed under a key the audit does
                # not name (a smaller key of another set, or anonymous): re-file them too.
                split = self.graph.split_contacts(tenant, changed)
                keys = [*audit["affected_keys"], *self._filed_keys(tenant, split)]
                records = self.book.apply_identity(tenant, keys)
                out.journeys += [_journey_message(r) for r in records]
            self._rescore_regrouped(trigger)
        self._file(contacts, lanes, out)
        out.alerts += [
            (alert["customer_key"].encode(), json_bytes(alert)) for alert in churn.flush()
        ]

    def _file(
        self,
        contacts: list[tuple[ContactFacts, Trigger]],
        lanes: dict[str, str],
        out: CustomerOutput,
    ) -> None:
        if not contacts:
            return
        records = self.book.apply_contacts((contact for contact, _ in contacts), lanes)
        out.journeys += [_journey_message(r) for r in records]
        # Each contact's customer is re-scored for the contact's own latest event; customers
        # re-grouped along (a contact moved away) for the last one.
        for contact, trigger in contacts:
            filed = self.book.filed_key(contact.tenant, contact.contact_id)
            if filed is not None:
                self.churn.touch(contact.tenant, [filed], trigger)
        self._rescore_regrouped(contacts[-1][1])

    def _rescore_regrouped(self, trigger: Trigger) -> None:
        for tenant, key in self.book.regrouped:
            if (tenant, key) not in self.churn.pending:
                self.churn.touch(tenant, [key], trigger)
        self.book.regrouped.clear()

    def _filed_keys(self, tenant: str, contact_ids: Iterable[str]) -> list[str]:
        """The keys these contacts are filed under in the journey book, to re-group them."""
        keys = (self.book.filed_key(tenant, cid) for cid in contact_ids)
        return [key for key in keys if key is not None]

    def _publish_keys(self, touched: set[tuple[str, str]], out: CustomerOutput) -> None:
        for tenant, identifier in sorted(touched):
            key = self.graph.customer_key(tenant, [identifier])
            node = f"{tenant}|{identifier}"
            last = self.emitted_keys.get(node)
            if last is not None and last[0] == key:
                continue
            version = 1 if last is None else last[1] + 1
            self.emitted_keys[node] = [key, version]
            record = {
                "tenant": tenant,
                "identifier": identifier,
                "customer_key": key,
                "version": version,
            }
            out.customers.append((node.encode(), json_bytes(record)))


def journey_retention_seconds(settings: Settings) -> float:
    """How long after a customer's last contact ended the customer stage keeps its contacts and
    journeys: ``stream.journey_retention_days``, but never less than the repeat window (a
    contact starting later joins none of them) plus the longest a new version of a contact
    record can come after its end: the lateness and idle timeout (an unfinished contact's record
    comes at its timeout) and the ingest stage's retention of the contact (a later event of a
    pruned contact is not folded); nor less than the churn look-back, whose scores read the
    customer's contacts from the journey book (streams.churn)."""
    stream = settings.stream
    needed = (
        settings.kpis.repeat_window_days * 86400
        + stream.contact_retention_days * 86400
        + stream.lateness_seconds
        + stream.idle_timeout_seconds
    )
    churn = settings.churn.lookback_days * 86400
    return max(stream.journey_retention_days * 86400, needed, churn)


def _contact_trigger(contact: ContactFacts, latest: list | None) -> Trigger:
    """The contact record's latest event; a record without one (made by hand) stands for
    itself at its end."""
    if latest is not None:
        return Trigger(latest[0], latest[1])
    end = contact_end(contact)
    return Trigger(contact.contact_id, 0 if end is None else round(parse_rfc3339(end) * 1000))


def _journey_message(record: Any) -> Produced:
    return record.facts.journey_id.encode(), json_bytes(record.to_dict())
