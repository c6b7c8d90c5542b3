"""The alert delivery log's part of an erasure (DeliveryLog.erase): business keys and alert
records of the erased customers go, their delivery outcomes stay under the alert's token."""

from pathlib import Path

from orchestration.alerts.log import DELIVERED, DeliveryLog

NOW = "2026-01-05T10:00:00Z"
ID = "customer_id:" + "a" * 32


def filled(path: Path) -> DeliveryLog:
    log = DeliveryLog(path)
    for alert_id, tenant, ids in (
        ("al-1", "acme", [ID]),
        ("al-2", "acme", []),
        ("al-3", "nova", [ID]),
    ):
        log.keep_alert({"alert_id": alert_id, "tenant": tenant, "customer_ids": ids}, NOW)
        log.attempt(alert_id, "webhook", tenant, NOW)
        log.finish(alert_id, "webhook", DELIVERED, None, NOW, 0.5)
    log.store_business_keys([("acme", ID, "C-1001"), ("nova", ID, "C-77")], [], {0: 2})
    return log


def test_an_erased_customer_loses_keys_and_records_and_keeps_delivery_outcomes(
    tmp_path: Path,
) -> None:
    log = filled(tmp_path / "delivery.sqlite3")
    changed = log.erase("acme", {ID: "erased:x", "al-1": "al-erased-1"}, whole_tenant=False)
    assert changed == 3  # the delivery re-keyed, the business key, the alert record
    assert log.business_keys("acme", [ID]) == {}
    assert log.business_keys("nova", [ID]) == {ID: "C-77"}  # another brand's customer
    assert log.alert("al-1") is None and log.alert("al-2") is not None
    assert log.delivery("al-1", "webhook") is None
    assert log.delivery("al-erased-1", "webhook").status == DELIVERED


def test_a_removed_tenant_leaves_nothing_in_the_log(tmp_path: Path) -> None:
    log = filled(tmp_path / "delivery.sqlite3")
    assert log.erase("acme", {}, whole_tenant=True) == 5
    assert [log.alert(a) is None for a in ("al-1", "al-2", "al-3")] == [True, True, False]
    assert log.delivery("al-3", "webhook").status == DELIVERED
    assert log.business_keys("acme", [ID]) == {}
