"""``omnicx alerts``: the churn-risk alerts (list, show, summary), their delivery worker
(deliver) and a signed sample for a receiver (test-webhook). docs/alerts.md."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from schemas.settings import Settings, SettingsError


@click.group()
def alerts() -> None:
    """Churn-risk alerts: what fired and why, and their delivery to webhooks and e-mail."""


def _warehouse_error(exc: Exception) -> click.ClickException:
    return click.ClickException(
        f"{exc} (run `omnicx warehouse build`; alerts reach the warehouse through `omnicx sink`)"
    )


@alerts.command("list")
@click.option("--since", default=None, help="A duration back from now (30m, 6h, 7d) or a UTC "
              "day or time (2026-01-05, 2026-01-05T09:00); default: every alert.")  # fmt: skip
@click.option("--tenant", default=None, help="Only this tenant's alerts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@click.pass_obj
def list_(settings: Settings, since: str | None, tenant: str | None, fmt: str) -> None:
    """Alerts newest first: score, reason, signals and the outcome on each channel."""
    import duckdb

    from orchestration.alerts.report import LIST_COLUMNS, list_alerts, since_time
    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.query import Result, render

    try:
        start = since_time(since, datetime.now(UTC)) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r} is neither 30m/6h/7d nor a day or time",
                                 param_hint="--since") from None  # fmt: skip
    try:
        with connect_read_only(settings) as con:
            rows = list_alerts(con, start, tenant)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise _warehouse_error(exc) from None
    result = Result(LIST_COLUMNS, [tuple(row.values()) for row in rows])
    click.echo(render(result, fmt))


@alerts.command()
@click.argument("alert_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
@click.pass_obj
def show(settings: Settings, alert_id: str, fmt: str) -> None:
    """Why ALERT_ID's customer was flagged: each signal, its weight and the contacts behind it,
    and what became of the alert on each channel."""
    import duckdb
    import orjson

    from orchestration.alerts.report import alert_details, describe
    from warehouse.build import WarehouseMissing, connect_read_only

    try:
        with connect_read_only(settings) as con:
            alert = alert_details(con, alert_id)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise _warehouse_error(exc) from None
    if alert is None:
        raise click.ClickException(
            f"no alert {alert_id} in the warehouse (see `omnicx alerts list`)"
        )
    if fmt == "json":
        click.echo(orjson.dumps(alert, default=str).decode())
    else:
        click.echo(describe(alert))


@alerts.command()
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="First day (UTC) of the triggering events.")  # fmt: skip
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day (UTC), inclusive; default: --from.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
@click.pass_obj
def summary(settings: Settings, date_from: datetime, date_to: datetime | None, fmt: str) -> None:
    """The alerts that fired for some days (dated by their triggering event): how many, by
    tenant and reason, the signals they name most, and one example (id, tenant, score,
    signals; no customer identifier)."""
    import duckdb
    import orjson

    from orchestration.alerts.report import describe_summary, summarise_alerts
    from warehouse.build import WarehouseMissing, connect_read_only

    first, last = date_from.date(), (date_to or date_from).date()
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    try:
        with connect_read_only(settings) as con:
            found = summarise_alerts(con, first, last)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise _warehouse_error(exc) from None
    click.echo(orjson.dumps(found).decode() if fmt == "json" else describe_summary(found))


@alerts.command("test-webhook")
@click.argument("url")
@click.option(
    "--secret-env",
    default=None,
    metavar="NAME",
    help="Environment variable holding "
    "the secret to sign with (default: that of the configured webhook with this URL).",
)
@click.pass_obj
def test_webhook(settings: Settings, url: str, secret_env: str | None) -> None:
    """Send a signed sample alert to URL, as the delivery worker would (Standard Webhooks
    headers, JSON body with "sample": true), and report the answer."""
    import asyncio
    import time

    import aiohttp

    from orchestration.alerts.channels import DeliveryError, post_signed, webhook_signer
    from orchestration.alerts.record import sample_alert, with_business_keys
    from schemas.settings import secret_from_env

    if secret_env is None:
        hooks = [hook for hook in settings.alerts.webhooks if hook.url == url]
        if not hooks:
            raise click.UsageError(
                "URL is no configured webhook: name its secret with --secret-env"
            )
        secret_env = hooks[0].secret_env
    try:
        signer = webhook_signer(secret_from_env(secret_env, "test-webhook"), url)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    payload = with_business_keys(sample_alert(datetime.now(UTC)), {})
    timeout = settings.alerts.request_timeout_seconds

    async def send() -> int:
        async with aiohttp.ClientSession() as session:
            return await post_signed(session, url, signer, payload, timeout)

    started = time.perf_counter()
    try:
        status = asyncio.run(send())
    except DeliveryError as exc:
        raise click.ClickException(f"{url} did not take the sample: {exc.summary}") from None
    took = time.perf_counter() - started
    click.echo(f"{url} answered HTTP {status} in {took:.2f} s (webhook-id {payload['alert_id']})")


@alerts.command()
@click.option("--retry-failed", is_flag=True, help="First send again the deliveries that "
              "failed (after their endpoint was fixed), with fresh attempts.")  # fmt: skip
@click.pass_obj
def deliver(settings: Settings, retry_failed: bool) -> None:
    """The delivery worker: send every alert to every configured channel, once, with retries;
    stop with Ctrl-C or SIGTERM. One worker per delivery log (docs/alerts.md, Delivery)."""
    import asyncio
    import signal

    from aiokafka.errors import KafkaConnectionError

    from orchestration.alerts.worker import DeliveryWorker, WorkerRunning
    from pipelines.kafka_io import unavailable
    from streams.metrics import serve_metrics

    if not settings.alerts.channels_configured:
        raise click.ClickException(
            "no alert channel configured (add [[alerts.webhooks]] or [alerts.email]; "
            "docs/alerts.md, Delivery)"
        )

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        worker = DeliveryWorker(settings, retry_failed=retry_failed)
        a = settings.alerts
        serve_metrics(worker.metrics.registry, a.metrics_address, a.metrics_port,
                      "alerts.metrics_port")  # fmt: skip
        return await worker.run(stop)

    try:
        counts = asyncio.run(main())
    except (SettingsError, WorkerRunning) as exc:
        raise click.ClickException(str(exc)) from None
    except KafkaConnectionError as exc:
        raise click.ClickException(str(unavailable(settings, exc))) from None
    click.echo(
        f"delivered {counts.delivered}, failed {counts.failed}, skipped {counts.skipped} "
        f"already done, {counts.invalid} records that were not alerts"
    )
