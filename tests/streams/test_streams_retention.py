"""Retention never changes results: simulated days go through the two stages (no broker, one raw
partition) with a contact retention short enough to prune most contacts on the way, and every
contact's last version and every live journey still equal the simulator's ground truth."""

import orjson

from pipelines.producer import message_key
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import with_overrides
from streams.customers import CustomerStage, journey_retention_seconds
from streams.ingest import PartitionIngest, RawMessage, identity_messages
from tests.pii import keyed_settings

# Half a day of contact retention: four days prune most contacts. Customers are kept by the
# default journey retention (90 days): a link that arrives after a customer was pruned would
# no longer re-key its journeys (docs/streams.md, Retention), which the truth does.
SETTINGS = with_overrides(keyed_settings(), stream={"contact_retention_days": 0.5})
CONFIG = SimulationConfig(seed=11, days=4, agents=15, tenants=2)
BATCH = 1000


def latest(records: dict[str, dict], produced: list[tuple[bytes | None, bytes]], key: str) -> None:
    for _, value in produced:
        record = orjson.loads(value)
        known = records.get(record[key])
        if known is None or record["version"] > known["version"]:
            records[record[key]] = record


def run_stages(settings):
    """The simulation through the stages: (simulation, ingest, customers, latest contacts,
    live journeys without their versions)."""
    simulation = Simulation(CONFIG, settings)
    messages = list(simulation.messages())
    ingest = PartitionIngest(settings, "raw-events", {}, {})
    customers = CustomerStage(settings, {}, {}, {}, {})
    contacts: dict[str, dict] = {}
    journeys: dict[str, dict] = {}
    for start in range(0, len(messages), BATCH):
        out = ingest.process(
            [
                RawMessage(message_key(value), value, 0, start + i)
                for i, value in enumerate(messages[start : start + BATCH])
            ]
        )
        latest(contacts, out.contacts, "contact_id")
        stitched = customers.process([value for _, value in identity_messages(out.identity)])
        latest(journeys, stitched.journeys, "journey_id")
    for record in contacts.values():
        del record["version"]
    live = {jid: j for jid, j in journeys.items() if not j.pop("superseded")}
    for record in live.values():
        del record["version"]
    return simulation, ingest, customers, contacts, live


def test_pruned_contacts_still_equal_the_ground_truth():
    simulation, ingest, customers, contacts, journeys = run_stages(SETTINGS)

    assert contacts == {c.contact_id: c.to_dict() for c in simulation.contact_facts()}
    assert journeys == {j.journey_id: j.to_dict() for j in simulation.journey_facts()}
    # ... and the retention did prune, most of the contact state.
    assert ingest.fold.pruned > len(contacts) / 2 > len(ingest.fold.store)
    assert ingest.fold.too_late == customers.book.too_late == 0


def test_pruned_customers_keep_their_journeys_but_not_later_re_keying():
    # A one-day repeat window and the shortest journey retention: customers are pruned after
    # about 1.7 days of the four.
    settings = with_overrides(
        SETTINGS,
        stream={"journey_retention_days": 0.1},
        kpis={"repeat_window_days": 1.0},
        churn={"lookback_days": 1},
    )
    assert journey_retention_seconds(settings) < 2 * 86400
    simulation, _, customers, contacts, journeys = run_stages(settings)

    truth = {j.journey_id: j.to_dict() for j in simulation.journey_facts()}
    assert contacts == {c.contact_id: c.to_dict() for c in simulation.contact_facts()}
    assert customers.book.pruned > 0 and customers.book.too_late == 0
    assert set(journeys) == set(truth)
    for journey in (*journeys.values(), *truth.values()):
        journey.pop("customer_key")
    assert journeys == truth  # the same journeys, contacts, channels and outcomes


def test_customers_are_kept_for_the_churn_look_back_at_least():
    """Churn scores read the customer's contacts from the journey book (streams.churn)."""
    settings = with_overrides(
        SETTINGS, stream={"journey_retention_days": 0.1}, churn={"lookback_days": 45}
    )
    assert journey_retention_seconds(settings) == 45 * 86400
