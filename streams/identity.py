"""Identity stitching: a union-find over identifier hashes, per tenant, with the contract's guards.

Nodes are (tenant, identifier hash). Identifiers that appear together on one event's customer
object (``contact.started``, ``identity.linked`` ...) are merged into one set, the stitched
customer, unless a guard stops it (events.md, Identity; docs/identity.md explains the choices):

- junk identifiers never get here (``canonicalise`` drops them);
- an identifier that would join more than ``max_accounts`` distinct accounts becomes a **hub**
  and never links again; merges it made before stay. Accounts are the ``customer_id`` and
  ``account_id`` hashes, counted per kind (a customer_id with its own account_id is one
  account, two customer_ids are two);
- a merge that would put more than ``max_accounts`` accounts of a kind in one set is refused.

Every merge, hub and refusal yields an audit record with its evidence. The **customer key** of a
set is the smallest hash of its non-hub members: deterministic, and stable while the set grows
unless a smaller identifier joins.

Stored form, one value per node in a key-value table (``node_key(tenant, hash)`` -> dict); a
node that is absent is a singleton set, not a hub::

    member: {"root": <root hash>}                       (+ "hub": true)
    root:   {"root": <own hash>, "members": [<sorted hashes>], "key": <hash> | None}
                                                        (+ "hub": true)

Every member points at its root directly (the smaller set is relinked on a merge), so a lookup
is one read, which matters for the replicated table that every worker reads.

**Event-time order.** The guards make the graph depend on the order links are applied in (which
customer a shared phone joined first). With ``lateness_seconds`` > 0, links are applied in event
time order, ``(ts, event_id)``, whatever order they arrive in within the lateness: each tenant
keeps a journal of its links of the last ``lateness_seconds`` (of event time) with the stored
values each one overwrote, ``"<tenant>|~links"`` -> ``[{"order", "event", "before"}]``. A link
that arrives before links it precedes undoes them (newest first, restoring their before-images),
applies, and re-applies them; a ``reordered`` audit record names the customer keys and sets
this moved. Contacts whose identifiers span sets or hubs, filed recently, are remembered
(``note_contacts``, ``"<tenant>|~contacts"``) so that every audit can have them re-filed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

ACCOUNT_KINDS = ("customer_id", "account_id")
_ACCOUNT_PREFIXES = tuple(f"{kind}:" for kind in ACCOUNT_KINDS)


def node_key(tenant: str, identifier: str) -> str:
    # Identifier hashes are "kind:hex" and never contain "|", so the last "|" splits it back.
    return f"{tenant}|{identifier}"


def is_account(identifier: str) -> bool:
    return identifier.startswith(_ACCOUNT_PREFIXES)


def journal_key(tenant: str) -> str:
    # "~links" has no ":", so it is never an identifier hash's node.
    return f"{tenant}|~links"


def recent_contacts_key(tenant: str) -> str:
    return f"{tenant}|~contacts"


class IdentityGraph:
    __slots__ = ("_pending", "lateness_seconds", "max_accounts", "store")

    def __init__(
        self,
        store: MutableMapping[str, Any],
        max_accounts: int,
        lateness_seconds: float = 0.0,
    ) -> None:
        """``lateness_seconds`` 0: links apply in arrival order and no journal is kept."""
        self.store = store
        self.max_accounts = max_accounts
        self.lateness_seconds = lateness_seconds
        # Journals and recent-contact lists changed since the last flush(): written once per
        # batch rather than once per link, since each is a whole list.
        self._pending: dict[str, list] = {}

    def flush(self) -> None:
        """Write the journals and recent-contact lists changed since the last call."""
        for key, value in self._pending.items():
            self.store[key] = value
        self._pending.clear()

    def _list(self, key: str) -> list:
        found = self._pending.get(key)
        return found if found is not None else self.store.get(key) or []

    # Reads: these are all any other worker needs (from the replicated table).

    def root(self, tenant: str, identifier: str) -> str:
        node = self.store.get(node_key(tenant, identifier))
        return identifier if node is None else node["root"]

    def is_hub(self, tenant: str, identifier: str) -> bool:
        node = self.store.get(node_key(tenant, identifier))
        return node is not None and node.get("hub", False)

    def members(self, tenant: str, root: str) -> list[str]:
        node = self.store.get(node_key(tenant, root))
        return [root] if node is None else node["members"]

    def set_key(self, tenant: str, root: str) -> str | None:
        """The customer key of the set rooted at ``root`` (None when all its members are hubs)."""
        node = self.store.get(node_key(tenant, root))
        return root if node is None else node["key"]

    def customer_key(self, tenant: str, identifiers: Iterable[str]) -> str | None:
        """The stitched customer of a contact with these identifier hashes.

        Hubs are ignored: a contact known only by hubs (a switchboard number) or by nothing is
        anonymous (None) rather than attributed to whoever the hub linked first. When the
        identifiers sit in several sets (a refused merge), the smallest key wins.
        """
        keys = []
        for identifier in identifiers:
            node = self.store.get(node_key(tenant, identifier))
            if node is None:
                keys.append(identifier)
            elif not node.get("hub", False):
                root = node["root"]
                keys.append(node["key"] if root == identifier else self.set_key(tenant, root))
        return min(keys) if keys else None

    def reflects(self, audit: dict[str, Any]) -> bool:
        """Whether this (possibly lagging, replicated) view already shows an audit's change:
        a reader re-groups journeys on an audit record only once it does."""
        tenant = audit["tenant"]
        if audit["action"] == "merge":
            return all(self.root(tenant, r) == audit["new_root"] for r in audit["merged_roots"])
        if audit["action"] == "hub":
            return self.is_hub(tenant, audit["evidence"]["identifiers"][0])
        return True

    # Writes: only the identity agent (single partition) calls these.

    def link(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Link the identifiers of a canonical event, in event-time order among the links of
        the lateness (module docstring); the audit records of what it changed."""
        if not self.lateness_seconds:
            return self._link(event)
        tenant = event["tenant"]
        journal: list[dict[str, Any]] = self._list(journal_key(tenant))
        order = [event["ts"], event["event_id"]]
        position = len(journal)
        while position and journal[position - 1]["order"] > order:
            position -= 1
        if position and journal[position - 1]["order"] == order:
            # A link replayed after a crash: already in place, so it changes nothing (a refused
            # one says so again), wherever it sits in the journal.
            return self._link(event)
        later = journal[position:]
        involved = sorted({i for e in [event, *(j["event"] for j in later)] for i in _ids(e)})
        keys_before, members_before = self._keys(tenant, involved)
        for entry in reversed(later):  # undo, newest first
            for key, value in entry["before"].items():
                if value is None:
                    self.store.pop(key, None)
                else:
                    self.store[key] = value
        audits, before = self._recorded(event)
        kept = journal[:position]
        kept.append({"order": order, "event": _link_evidence(event), "before": before})
        for entry in later:  # redo, oldest first
            redone, entry["before"] = self._recorded(entry["event"])
            audits += redone
            kept.append(entry)
        if later:
            keys_after, members_after = self._keys(tenant, involved)
            replayed = [entry["event"]["event_id"] for entry in later]
            members = sorted(members_before | members_after)
            reordered = _audit("reordered", tenant, event, members, replayed=replayed)
            # Contacts are filed under the keys before: re-group all of them, and the new ones.
            reordered["affected_keys"] = sorted(keys_before | keys_after)
            audits.insert(0, reordered)
        horizon = kept[-1]["order"][0] - self.lateness_seconds
        self._pending[journal_key(tenant)] = [e for e in kept if e["order"][0] >= horizon]
        recent = self._list(recent_contacts_key(tenant))
        # A contact filed before any link counts as filed with the first one.
        dated = [[kept[-1]["order"][0] if r[0] is None else r[0], *r[1:]] for r in recent]
        if dated != recent or (dated and dated[0][0] < horizon):
            self._pending[recent_contacts_key(tenant)] = [r for r in dated if r[0] >= horizon]
        return audits

    def split_contacts(self, tenant: str, identifiers: Iterable[str]) -> list[str]:
        """The recently filed split contacts (``note_contacts``) carrying one of these."""
        wanted = set(identifiers)
        recent = self._list(recent_contacts_key(tenant))
        return sorted({cid for _, cid, ids in recent if wanted.intersection(ids)})

    def note_contacts(self, tenant: str, contacts: list[tuple[str, list[str]]]) -> None:
        """Remember the split contacts (id, identifiers) among those just filed: one whose
        identifiers are hubs or sit in several sets is filed under the smallest key of its sets
        (or as anonymous), which a change of another of its sets does not name; the customer
        stage re-files those ``split_contacts`` with each audit. A contact of one set is filed
        under its key, which the audits name. Kept for the lateness (of link event time)."""
        if not self.lateness_seconds:
            return
        split: dict[tuple[str, ...], bool] = {}  # a customer's contacts mostly share identifiers
        for _, ids in contacts:
            if tuple(ids) not in split:
                split[tuple(ids)] = self._split(tenant, ids)
        contacts = [(cid, ids) for cid, ids in contacts if split[tuple(ids)]]
        if not contacts:
            return
        # Kept while the links journaled when it was filed can still be reordered.
        journal = self._list(journal_key(tenant))
        noted_at = journal[-1]["order"][0] if journal else None
        noted = {cid for cid, _ in contacts}
        recent = [r for r in self._list(recent_contacts_key(tenant)) if r[1] not in noted]
        recent += [[noted_at, cid, sorted(ids)] for cid, ids in contacts]
        self._pending[recent_contacts_key(tenant)] = recent

    def _split(self, tenant: str, identifiers: list[str]) -> bool:
        if any(self.is_hub(tenant, i) for i in identifiers):
            return True
        return len({self.root(tenant, i) for i in identifiers}) > 1

    def _keys(self, tenant: str, identifiers: list[str]) -> tuple[set[str], set[str]]:
        """The members of the sets of these identifiers, and their customer keys."""
        members = {m for i in identifiers for m in self.members(tenant, self.root(tenant, i))}
        keys = {self.customer_key(tenant, [m]) for m in members} - {None}
        return keys, members

    def _recorded(self, event: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``_link(event)``, and the values its writes replaced (None: absent), to undo it."""
        recorder = _Recorder(self.store)
        self.store = recorder
        try:
            audits = self._link(event)
        finally:
            self.store = recorder.store
        return audits, recorder.before

    def _link(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        tenant = event["tenant"]
        candidates = [i for i in event.get("customer_ids") or () if not self.is_hub(tenant, i)]
        if len(candidates) < 2:
            return []
        audits: list[dict[str, Any]] = []
        accounts = self._accounts(tenant, candidates)
        if self._too_many(accounts):
            contact_points = [i for i in candidates if not is_account(i)]
            # First suspects: contact points whose set already holds an account, the bridges
            # to someone else; then, if the event's own accounts still conflict, the rest.
            carriers = [i for i in contact_points if self._accounts(tenant, [i])] or contact_points
            for suspects in (carriers, contact_points):
                if not self._too_many(accounts):
                    break
                for identifier in suspects:
                    if identifier in candidates:
                        audits.append(self._mark_hub(tenant, identifier, accounts, event))
                        candidates.remove(identifier)
                accounts = self._accounts(tenant, candidates)
            if self._too_many(accounts):
                audits.append(_audit("refused", tenant, event, candidates, accounts=accounts))
                return audits
        roots = sorted({self.root(tenant, i) for i in candidates})
        if len(roots) > 1:
            audits.append(self._merge(tenant, roots, candidates, event))
        return audits

    def _accounts(self, tenant: str, identifiers: Iterable[str]) -> list[str]:
        roots = {self.root(tenant, i) for i in identifiers}
        return sorted({m for r in roots for m in self.members(tenant, r) if is_account(m)})

    def _too_many(self, accounts: list[str]) -> bool:
        return any(
            sum(a.startswith(prefix) for a in accounts) > self.max_accounts
            for prefix in _ACCOUNT_PREFIXES
        )

    def _root_node(self, tenant: str, root: str) -> dict[str, Any]:
        return self.store.get(node_key(tenant, root)) or {
            "root": root,
            "members": [root],
            "key": root,
        }

    def _merge(
        self, tenant: str, roots: list[str], identifiers: list[str], event: dict[str, Any]
    ) -> dict[str, Any]:
        nodes = {r: self._root_node(tenant, r) for r in roots}
        # Union by size keeps relinking cheap; ties go to the smallest hash, for determinism.
        new_root = min(roots, key=lambda r: (-len(nodes[r]["members"]), r))
        old_keys = sorted({n["key"] for n in nodes.values() if n["key"] is not None})
        members = sorted({m for n in nodes.values() for m in n["members"]})
        for root, node in nodes.items():
            if root == new_root:
                continue
            for member in node["members"]:
                key = node_key(tenant, member)
                relinked = {"root": new_root}
                if self.is_hub(tenant, member):
                    relinked["hub"] = True
                self.store[key] = relinked
        new_node = {"root": new_root, "members": members, "key": old_keys[0] if old_keys else None}
        if nodes[new_root].get("hub"):
            new_node["hub"] = True
        self.store[node_key(tenant, new_root)] = new_node
        return _audit(
            "merge",
            tenant,
            event,
            identifiers,
            merged_roots=roots,
            new_root=new_root,
            old_keys=old_keys,
            new_key=new_node["key"],
        )

    def _mark_hub(
        self, tenant: str, identifier: str, accounts: list[str], event: dict[str, Any]
    ) -> dict[str, Any]:
        root = self.root(tenant, identifier)
        root_node = self._root_node(tenant, root)
        old_key = root_node["key"]
        if root == identifier:
            root_node["hub"] = True
        else:
            self.store[node_key(tenant, identifier)] = {"root": root, "hub": True}
        hubs = {m for m in root_node["members"] if m == identifier or self.is_hub(tenant, m)}
        root_node["key"] = min((m for m in root_node["members"] if m not in hubs), default=None)
        self.store[node_key(tenant, root)] = root_node
        return _audit(
            "hub",
            tenant,
            event,
            [identifier],
            root=root,
            accounts=accounts,
            old_keys=[old_key] if old_key is not None else [],
            new_key=root_node["key"],
        )


def _ids(event: dict[str, Any]) -> list[str]:
    return event.get("customer_ids") or []


def _link_evidence(event: dict[str, Any]) -> dict[str, Any]:
    """What re-applying a link needs of its event (the journal keeps no more)."""
    return {
        name: event[name]
        for name in ("event_id", "event_type", "occurred_at", "ts", "tenant", "customer_ids")
    }


class _Recorder(MutableMapping):
    """A store seen through a recorder of the values each first write replaced. Reads are
    copies, so that a value changed in place before it is written back keeps its old image."""

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self.store = store
        self.before: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self.store[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.before.setdefault(key, copy.deepcopy(self.store.get(key)))
        self.store[key] = value

    def __delitem__(self, key: str) -> None:
        self.before.setdefault(key, copy.deepcopy(self.store.get(key)))
        del self.store[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.store)

    def __len__(self) -> int:
        return len(self.store)


def _audit(
    action: str, tenant: str, event: dict[str, Any], identifiers: list[str], **details: Any
) -> dict[str, Any]:
    """An audit record; ``affected_keys`` are the customer keys whose journeys must be rebuilt."""
    record = {"action": action, "tenant": tenant, **details}
    affected = set(details.get("old_keys", ()))
    if details.get("new_key") is not None:
        affected.add(details["new_key"])
    record["affected_keys"] = sorted(affected)
    record["evidence"] = {
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "occurred_at": event["occurred_at"],
        "identifiers": sorted(identifiers),
    }
    return record
