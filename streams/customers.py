"""The customer stage: identity stitching and journeys, over the single-partition identity topic.

Identity needs one consistent view (a merge can join customers whose contacts were folded on any
partition), so link evidence and contact records all flow through one partition in one order,
and this stage owns the identity graph and the journeys together (docs/identity.md). Pure: it
returns the messages to produce and keeps its state in the stores it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.records import ContactFacts
from schemas.settings import Settings
from streams.identity import IdentityGraph
from streams.journeys import JourneyBook

Produced = tuple[bytes | None, bytes]


@dataclass(slots=True)
class CustomerOutput:
    merges: list[Produced] = field(default_factory=list)  # identity audit records
    journeys: list[Produced] = field(default_factory=list)
    customers: list[Produced] = field(default_factory=list)  # identifier -> customer key


class CustomerStage:
    __slots__ = ("book", "emitted_keys", "graph")

    def __init__(
        self,
        settings: Settings,
        identity_store: MutableMapping[str, Any],
        journey_store: MutableMapping[str, Any],
        key_store: MutableMapping[str, Any],
    ) -> None:
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

    def process(self, messages: list[bytes]) -> CustomerOutput:
        """Apply a batch of identity-topic messages (each a list of items, ``identity_messages``)."""
        out = CustomerOutput()
        touched: set[tuple[str, str]] = set()
        contacts: list[ContactFacts] = []
        for item in (item for raw in messages for item in orjson.loads(raw)):
            body = item["body"]
            if item["kind"] == "contact":
                contact = ContactFacts(**body)
                contacts.append(contact)
                touched.update((contact.tenant, i) for i in contact.customer_ids)
                continue
            # Contacts filed before a link must be filed under the identity they had then.
            self._file(contacts, out)
            contacts = []
            for audit in self.graph.link(body):
                out.merges.append((audit["tenant"].encode(), orjson.dumps(audit)))
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
        self._file(contacts, out)
        self.graph.flush()
        self._publish_keys(touched, out)
        return out

    def _file(self, contacts: list[ContactFacts], out: CustomerOutput) -> None:
        if contacts:
            out.journeys += [_journey_message(r) for r in self.book.apply_contacts(contacts)]

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
            out.customers.append((node.encode(), orjson.dumps(record)))


def journey_retention_seconds(settings: Settings) -> float:
    """How long after a customer's last contact ended the customer stage keeps its contacts and
    journeys: ``stream.journey_retention_days``, but never less than the repeat window (a
    contact starting later joins none of them) plus the longest a new version of a contact
    record can come after its end: the lateness and idle timeout (an unfinished contact's record
    comes at its timeout) and the ingest stage's retention of the contact (a later event of a
    pruned contact is not folded)."""
    stream = settings.stream
    needed = (
        settings.kpis.repeat_window_days * 86400
        + stream.contact_retention_days * 86400
        + stream.lateness_seconds
        + stream.idle_timeout_seconds
    )
    return max(stream.journey_retention_days * 86400, needed)


def _journey_message(record: Any) -> Produced:
    return record.facts.journey_id.encode(), orjson.dumps(record.to_dict())
