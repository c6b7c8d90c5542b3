"""State size and recovery time of the stream's tables after 1 and 30 simulated days, without
retention, with the default retention (contacts), and with customers pruned too (docs/streams.md,
Retention).

The simulator's messages (a small centre, all faults) go through the same stage classes the
Faust agents run, ``PartitionIngest`` (one raw partition) and ``CustomerStage``, in batches,
without a broker. Each table is a dict of encoded values, as a Faust table's RocksDB store is,
that also records its changelog (every write, a delete as a tombstone). Printed per run:

- the state at the end: keys and bytes of the ingest tables (``contact-state``, ``dedup-state``)
  and of ``journey-state``; identity and customer keys are listed apart (they are meant to grow
  with the identifiers: a merge needs the whole graph);
- the changelog records written over the run;
- recovery: the time to rebuild the stages from the changelog as the broker keeps it once
  compacted (the latest value per key, tombstones gone): decoding the values into a fresh store
  and building the stages, which scan it to rebuild their indexes; and the time to replay the
  whole uncompacted changelog into a store first, what a recovery reads before compaction ran;
- how many live journeys differ from the simulator's ground truth (missing, extra or with other
  facts), and how many of them differ in more than their ``customer_key``.

    .venv/bin/python -m benchmarks.bench_stream_retention [--days 1 30] [--agents 15]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from pipelines.producer import message_key
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, load_settings, with_overrides, with_pii_key
from streams.customers import CustomerStage, journey_retention_seconds
from streams.ingest import PartitionIngest, RawMessage, identity_messages

BATCH = 1000
INGEST_TABLES = ("contact-state", "dedup-state")
CUSTOMER_TABLES = ("identity-state", "journey-state", "customer-key-state", "churn-state")


class ChangelogTable(MutableMapping[str, Any]):
    """Encoded values, as a Faust table holds them, and the changelog of every write."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.changelog: list[tuple[str, bytes | None]] = []

    def __getitem__(self, key: str) -> Any:
        return orjson.loads(self.data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        raw = orjson.dumps(value)
        self.data[key] = raw
        self.changelog.append((key, raw))

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.changelog.append((key, None))

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def size(self) -> int:
        return sum(len(k) + len(v) for k, v in self.data.items())


class RecoveredTable(ChangelogTable):
    def __init__(self, data: dict[str, bytes]) -> None:
        super().__init__()
        self.data = data


def run(settings: Settings, messages: list[bytes]) -> tuple[dict[str, ChangelogTable], dict]:
    """The tables after the messages, and the live journeys published (latest versions)."""
    tables = {name: ChangelogTable() for name in INGEST_TABLES + CUSTOMER_TABLES}
    ingest, customers = _stages(settings, tables)
    journeys: dict[str, dict] = {}
    for start in range(0, len(messages), BATCH):
        raw = [
            RawMessage(message_key(value), value, 0, start + i)
            for i, value in enumerate(messages[start : start + BATCH])
        ]
        out = ingest.process(raw)
        stitched = customers.process([value for _, value in identity_messages(out.identity)])
        for _, value in stitched.journeys:
            journey = orjson.loads(value)
            known = journeys.get(journey["journey_id"])
            if known is None or journey["version"] > known["version"]:
                journeys[journey["journey_id"]] = journey
    live = {jid: j for jid, j in journeys.items() if not j.pop("superseded")}
    for journey in live.values():
        del journey["version"]
    return tables, live


def _stages(
    settings: Settings, tables: dict[str, ChangelogTable]
) -> tuple[PartitionIngest, CustomerStage]:
    ingest = PartitionIngest(settings, "raw-events", tables["contact-state"], tables["dedup-state"])
    customers = CustomerStage(
        settings,
        tables["identity-state"],
        tables["journey-state"],
        tables["customer-key-state"],
        tables["churn-state"],
    )
    return ingest, customers


def recovery_seconds(settings: Settings, tables: dict[str, ChangelogTable]) -> tuple[float, float]:
    """(from the compacted changelog, from the whole changelog), best of three."""
    compacted, whole = [], []
    for _ in range(3):
        began = time.perf_counter()
        _stages(settings, {n: RecoveredTable(dict(t.data)) for n, t in tables.items()})
        compacted.append(time.perf_counter() - began)
        began = time.perf_counter()
        replayed = {}
        for name, table in tables.items():
            data: dict[str, bytes] = {}
            for key, value in table.changelog:
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            replayed[name] = RecoveredTable(data)
        _stages(settings, replayed)
        whole.append(time.perf_counter() - began)
    return min(compacted), min(whole)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 30])
    parser.add_argument("--agents", type=int, default=15)
    args = parser.parse_args()
    base = with_pii_key(load_settings(environ={}, config_file=None))
    runs = {
        "off": with_overrides(
            base, stream={"contact_retention_days": 1e6, "journey_retention_days": 1e6}
        ),
        "contacts": base,
        # The shortest journey retention the settings allow (journey_retention_seconds).
        "both": with_overrides(base, stream={"journey_retention_days": 1e-3}),
    }
    print(
        f"contacts kept {base.stream.contact_retention_days:g} days after the watermark; "
        f"customers kept {journey_retention_seconds(runs['both']) / 86400:.1f} days (both) "
        f"or {journey_retention_seconds(base) / 86400:g} days (contacts, the default)"
    )
    print(
        f"{'days':>4} {'retention':>9} {'messages':>9} {'contact keys':>12} {'contact MB':>10} "
        f"{'journey keys':>12} {'journey MB':>10} {'identity+keys':>13} {'changelog':>10} "
        f"{'recover s':>9} {'uncompacted s':>13} {'journeys != truth':>17} "
        f"{'(beyond customer_key)':>21}"
    )
    for days in args.days:
        config = SimulationConfig(seed=11, days=days, agents=args.agents, tenants=2)
        simulation = Simulation(config, base)
        messages = list(simulation.messages())
        truth = {j.journey_id: j.to_dict() for j in simulation.journey_facts()}
        for label, settings in runs.items():
            tables, journeys = run(settings, messages)
            missing = len(set(truth) ^ set(journeys))
            differ = [jid for jid in set(truth) & set(journeys) if truth[jid] != journeys[jid]]
            beyond_key = sum(
                1
                for jid in differ
                if {**truth[jid], "customer_key": None} != {**journeys[jid], "customer_key": None}
            )
            compacted, whole = recovery_seconds(settings, tables)
            contacts, book = tables["contact-state"], tables["journey-state"]
            identity = len(tables["identity-state"]) + len(tables["customer-key-state"])
            changelog = sum(len(t.changelog) for t in tables.values())
            print(
                f"{days:>4} {label:>9} {len(messages):>9,} {len(contacts):>12,} "
                f"{contacts.size() / 1e6:>10.1f} {len(book):>12,} {book.size() / 1e6:>10.1f} "
                f"{identity:>13,} {changelog:>10,} {compacted:>9.2f} {whole:>13.2f} "
                f"{missing + len(differ):>17,} {missing + beyond_key:>21,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
