"""The one typed settings object of omnicx.

Settings come from, in rising precedence: the defaults below, an optional ``omnicx.toml``
(path in ``OMNICX_CONFIG``, else ``./omnicx.toml`` when present), and environment variables
``OMNICX_<SECTION>_<FIELD>`` (e.g. ``OMNICX_KAFKA_PORT=9093``) or ``OMNICX_<FIELD>`` for the
top-level fields (``OMNICX_HOME``). They are read by :func:`load_settings` only, never at import
time, so that tests and commands can build settings for their own directories and ports.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import sys
import tempfile
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.targets import KpiTargets, check_targets


class SettingsError(ValueError):
    """A setting has a value of the wrong type, outside its allowed values, or an unknown name."""


def choice(default: str, *others: str) -> Any:
    """A setting that takes one of a few words, ``default`` first."""
    return field(default=default, metadata={"choices": (default, *others)})


def bounded(default: float, low: float | None = None, high: float | None = None) -> Any:
    """A number setting within ``low``..``high`` (inclusive; ``None``: unbounded)."""
    return field(default=default, metadata={"low": low, "high": high})


def day_or_empty() -> Any:
    """A day setting (``YYYY-MM-DD``, a TOML date or text), or "" for none."""
    return field(default="", metadata={"day": True})


_PORT = (1, 65535)

# A tenant's name is part of file names (its warehouse file): no path separator, no leading dot.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_tenant_name(name: str, where: str) -> str:
    """``name`` when it can name a tenant; a SettingsError saying what a name may hold."""
    if not TENANT_NAME.fullmatch(name):
        raise SettingsError(
            f"{where}: {name!r} is not a tenant name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit)"
        )
    return name


@dataclass(frozen=True)
class KafkaSettings:
    host: str = "127.0.0.1"
    port: int = bounded(9092, *_PORT)
    controller_port: int = bounded(0, 0, 65535)  # 0: port + 1
    start_timeout_seconds: float = bounded(90.0, 1)
    stop_timeout_seconds: float = bounded(60.0, 1)
    request_timeout_seconds: float = bounded(10.0, 0.1)
    heap: str = "768m"
    bootstrap_servers: str = ""  # "": the local broker at host:port
    # Shared by every broker directory of the checkout, so tests do not fetch the jars again.
    jars_dir: Path = Path(".omnicx/jars")

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"{self.host}:{self.port}"

    @property
    def controller(self) -> int:
        return self.controller_port or self.port + 1


@dataclass(frozen=True)
class TopicSettings:
    prefix: str = "omnicx."
    partitions: int = bounded(4, 1)
    replication_factor: int = bounded(1, 1)
    retention_hours: int = bounded(168, 1)
    dead_letter_retention_hours: int = bounded(720, 1)


MAX_MESSAGE_BYTES_CEILING = 700 * 1024
MAX_NESTING_DEPTH_CEILING = 128


@dataclass(frozen=True)
class StreamSettings:
    app_id: str = "omnicx-stream"
    lateness_seconds: int = bounded(3600, 0)
    idle_timeout_seconds: int = bounded(4 * 3600, 1)
    # An identifier seen with more distinct accounts than this stops linking (events.md). The
    # default 1 means a shared phone or e-mail never merges two known accounts: see docs/identity.md.
    identity_max_accounts: int = bounded(1, 1)
    batch_size: int = bounded(1000, 1)
    batch_seconds: float = bounded(0.5, 0.001)
    web_port: int = bounded(6066, *_PORT)
    # The worker's Prometheus endpoint (docs/streams.md, Metrics); 0: none. One port per worker
    # process: give each ``omnicx stream`` on a host its own (OMNICX_STREAM_METRICS_PORT).
    metrics_port: int = bounded(0, 0, 65535)
    metrics_address: str = "127.0.0.1"
    keep_message_text: bool = False
    # Bounds on one raw message (docs/streams.md, Dead letters): a message over them is a dead
    # letter with the reason, never a stopped partition. Events dated more than
    # max_future_seconds after the broker appended them are dead letters too.
    # Every record the stream produces must stay under Kafka's 1 MiB message limit: the
    # operator's dead-letter record holds the raw bytes in base64 (4/3 of their size), and
    # orjson writes at most 254 levels (the identity hop wraps an event in two more).
    max_message_bytes: int = bounded(512 * 1024, 1, MAX_MESSAGE_BYTES_CEILING)
    max_nesting_depth: int = bounded(32, 2, MAX_NESTING_DEPTH_CEILING)
    max_future_seconds: int = bounded(86400, 0)
    # Broker outages and retention: docs/streams.md ("Broker outages", "Retention").
    # The cap of the backoff while waiting for the broker; unanswered for broker_lost_seconds,
    # the worker is stopped until it is back; after SIGTERM, a worker still running
    # stop_grace_seconds later is killed.
    broker_retry_max_seconds: float = bounded(30.0, 0.001)
    broker_lost_seconds: float = bounded(15.0, 0.001)
    stop_grace_seconds: float = bounded(10.0, 0.001)
    # A worker that stopped heartbeating (killed, its machine lost) keeps its partitions this
    # long before the group hands them to the others or to its restarted self. Kafka's brokers
    # accept 6 s at least; Faust's request timeout (90 s) caps it.
    session_timeout_seconds: float = bounded(60.0, 6.0, 90.0)
    # A worker whose partition has records waiting and was not read this long exits, to be
    # restarted by its supervisor (streams.liveness): longer than any rebalance can take, so
    # at least twice the session timeout.
    stall_seconds: float = bounded(180.0, 1.0)
    # How often the worker commits the offsets of what it has processed (Faust's default): a
    # crash replays at most about this much, and ``omnicx lag`` shows zero this long after the
    # work is done.
    commit_interval_seconds: float = bounded(2.8, 0.1)
    # A finished contact's state is kept this long after the watermark passed it.
    contact_retention_days: float = bounded(3.0, 0.001)
    # A customer's contacts and journeys, after its last contact ended (at least the repeat window
    # plus how late a contact record can come). Identity links arriving later no longer re-key them.
    journey_retention_days: float = bounded(90.0, 0.001)


@dataclass(frozen=True)
class KpiSettings:
    """The knobs of ../shared/spec/kpis.md, with its defaults."""

    short_abandon_seconds: float = bounded(5.0, 0)
    service_level_voice_seconds: float = bounded(20.0, 0)
    service_level_chat_seconds: float = bounded(60.0, 0)
    service_level_sms_seconds: float = bounded(900.0, 0)
    service_level_social_seconds: float = bounded(900.0, 0)
    service_level_email_seconds: float = bounded(86400.0, 0)
    abandon_treatment: str = choice("negative", "ignore", "positive")
    repeat_window_days: float = bounded(7.0, 0.001)

    def service_level_seconds(self, channel: str) -> float:
        return getattr(self, f"service_level_{channel}_seconds")


@dataclass(frozen=True)
class ChurnSettings:
    """The churn-risk knobs of kpis.md: look-back, flag threshold, one weight per signal, and
    when the stream's alerts fire again (docs/alerts.md). The rules they tune: schemas.churn."""

    lookback_days: int = bounded(30, 1)
    threshold: int = bounded(50, 0)
    weight_nps_detractor: int = bounded(30, 0)
    weight_csat_1_2: int = bounded(25, 0)
    weight_ces_1_3: int = bounded(15, 0)
    weight_unresolved_journey: int = bounded(25, 0)
    weight_abandons: int = bounded(15, 0)
    weight_escalation_unresolved_48h: int = bounded(20, 0)
    weight_cancellation_intent: int = bounded(40, 0)
    weight_opted_out: int = bounded(10, 0)
    # Alerts only (the stream), not the marts: a flagged customer is alerted again when the
    # score rose this much since the last alert, and never twice within the cool-down.
    realert_rise: int = bounded(10, 1)
    cooldown_hours: float = bounded(24.0, 0)


@dataclass(frozen=True)
class StaffingSettings:
    """The staffing requirement (docs/staffing.md): ``shrinkage`` is the share of paid agent
    time not available for contacts (breaks, training, absence), which turns required agents
    into positions to schedule; ``interval_minutes`` the staffing interval: 60 only, the grain
    of the hourly marts (15 and 30 would need finer marts); an interval is over-staffed when
    the agents logged in exceed the required agents by more than ``over_staffed_margin`` of
    them (0.25: a quarter)."""

    shrinkage: float = bounded(0.3, 0, 0.95)
    interval_minutes: int = bounded(60, 60, 60)
    over_staffed_margin: float = bounded(0.25, 0)


@dataclass(frozen=True)
class ChecksSettings:
    """Thresholds of the data-quality checks that block the KPI marts."""

    dead_letter_max_share: float = bounded(0.01, 0, 1)  # dead letters / all messages landed
    # A day whose events fall below this share of the same weekday's a week earlier (same hours)
    # has collapsed; a day without any event is a closed day (docs/orchestration.md).
    min_events_ratio_to_same_weekday: float = bounded(0.2, 0, 1)


@dataclass(frozen=True)
class OrchestrationSettings:
    """Dagster's partitions and asset metadata (docs/orchestration.md)."""

    # The first daily partition (YYYY-MM-DD); "": the first day that holds events in the lake.
    partitions_start: str = day_or_empty()
    asset_owner: str = "team:data-engineering"  # shown as every asset's owner in Dagster


@dataclass(frozen=True)
class WarehouseSettings:
    """The Parquet lake, its sink and the analysts' DuckDB file (docs/warehouse.md)."""

    lake_dir: Path = Path("lake")  # relative to home
    duckdb_file: Path = Path("warehouse.duckdb")  # relative to home
    # The materialised latest versions the int_* views read (warehouse/materialize.py).
    intermediate_dir: Path = Path("intermediate")  # relative to home
    sink_group_id: str = "omnicx-lake-sink"
    sink_instance_id: str = ""  # static group membership; "": <host>-<n>, the first free
    # A file closes at each multiple of this many offsets, or when its first record waited
    # sink_batch_seconds.
    sink_batch_rows: int = bounded(50_000, 1)
    sink_batch_seconds: float = bounded(30.0, 0.001)
    compact_min_files: int = bounded(8, 2)  # this many small files in a row are merged into one
    compact_target_rows: int = bounded(1_000_000, 1)  # a file spanning fewer offsets is small
    # Parts a compaction replaced stay readable this long, for queries that already listed them.
    compact_grace_seconds: float = bounded(600.0, 0)
    # The sink's Prometheus endpoint (docs/warehouse.md, Metrics); 0: none. One port per sink
    # process, as for stream.metrics_port.
    sink_metrics_port: int = bounded(0, 0, 65535)
    sink_metrics_address: str = "127.0.0.1"
    # Tenant-scoped warehouse files (docs/tenancy.md): the tenants that get one, rebuilt after
    # every refresh, as <tenant_dir>/<tenant>.duckdb (relative to home).
    tenant_warehouses: tuple[str, ...] = ()
    tenant_dir: Path = Path("tenants")

    def __post_init__(self) -> None:
        for name in self.tenant_warehouses:
            check_tenant_name(name, "warehouse.tenant_warehouses")


@dataclass(frozen=True)
class LogSettings:
    """Where log records go (docs/orchestration.md, Logs and output): every record to
    ``$OMNICX_HOME/logs/<command>.log``; on standard error omnicx's own only, or all of them when
    ``verbose``. ``OMNICX_LOG_FORMAT``, ``OMNICX_LOG_VERBOSE``; ``--log-format``, ``-v``."""

    format: str = choice("text", "json")
    verbose: bool = False


@dataclass(frozen=True)
class ServicesSettings:
    """What ``omnicx up`` runs in the background (docs/orchestration.md, Running the product)."""

    stream_workers: int = bounded(1, 1, 16)
    dagster: bool = True  # the Dagster webserver (UI) and daemon (schedules, sensor)
    dagster_host: str = "127.0.0.1"
    dagster_port: int = bounded(3000, *_PORT)
    # How long `up` waits for every service to run (and the UI to answer), and `down` for a
    # service to exit after SIGTERM before it is killed.
    start_timeout_seconds: float = bounded(120.0, 1)
    stop_timeout_seconds: float = bounded(60.0, 1)
    # Above 0: `up` also runs `omnicx refresh --follow --every N`, which keeps the marts of the
    # days that land fresh from one process that stays up (docs/orchestration.md, Keeping the
    # marts fresh); 0: it does not (the Dagster daemon's new_lake_data sensor can, turned on).
    refresh_every_seconds: float = bounded(0.0, 0)

    def __post_init__(self) -> None:
        if 0 < self.refresh_every_seconds < 1:
            raise SettingsError("services.refresh_every_seconds: 0 (off) or at least 1")


@dataclass(frozen=True)
class WallboardSettings:
    """The live wallboard's web app, ``omnicx wallboard`` (docs/wallboard.md)."""

    host: str = "127.0.0.1"  # behind a TLS-terminating reverse proxy beyond loopback
    port: int = bounded(8050, *_PORT)
    # The names of the environment variables that hold the access tokens, never the tokens:
    # the operator's (every tenant's page) and each tenant's own ({"acme" = "ACME_BOARD_TOKEN"}).
    # With neither, a development home gets a random operator token in $OMNICX_HOME.
    operator_token_env: str = ""
    tenant_token_envs: dict[str, str] = field(default_factory=dict)
    # The board's "now" is the wall clock while the newest event is at most this old, else the
    # newest event's time (a replay, or a simulation of past days).
    live_within_seconds: float = bounded(900.0, 0)
    # How often an open page is refreshed when nothing new arrived (waits keep growing).
    tick_seconds: float = bounded(1.0, 0.05, 2.0)

    def __post_init__(self) -> None:
        named = {f"tenant_token_envs.{t}": env for t, env in self.tenant_token_envs.items()}
        if self.operator_token_env:
            named["operator_token_env"] = self.operator_token_env
        for who, env in named.items():
            if not _ENV_NAME.fullmatch(env):
                raise SettingsError(f"wallboard.{who}: {env!r} must name an environment variable")


_CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class WebhookSettings:
    """One webhook endpoint of the churn-risk alerts (docs/alerts.md, Delivery); a TOML
    ``[[alerts.webhooks]]`` table, or JSON objects in ``OMNICX_ALERTS_WEBHOOKS``."""

    name: str = ""  # the channel ``webhook:<name>`` of the delivery log: keep it once chosen
    url: str = ""
    # The name of the environment variable that holds the endpoint's secret (``whsec_<base64>``),
    # never the secret itself: there is no default secret.
    secret_env: str = ""
    tenants: tuple[str, ...] = ()  # only these tenants' alerts; (): every tenant's


@dataclass(frozen=True)
class EmailSettings:
    """Alert e-mails over SMTP (``[alerts.email]``); no host, no e-mail."""

    host: str = ""
    port: int = bounded(587, *_PORT)
    starttls: bool = True  # upgrade the connection with STARTTLS before any credential
    username: str = ""  # "": no authentication
    password_env: str = ""  # the environment variable holding the SMTP password
    sender: str = "omnicx@localhost"
    recipients: tuple[str, ...] = ()  # every alert's
    # More recipients for one tenant's alerts: {"brand-a" = ["retention-a@example.com"]}.
    tenant_recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def recipients_for(self, tenant: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.recipients, *self.tenant_recipients.get(tenant, ()))))

    @property
    def has_recipients(self) -> bool:
        return bool(self.recipients or any(self.tenant_recipients.values()))


@dataclass(frozen=True)
class AlertSettings:
    """Delivery of the churn-risk alerts by ``omnicx alerts deliver`` (docs/alerts.md, Delivery)."""

    group_id: str = "omnicx-alert-delivery"
    delivery_log: Path = Path("alerts/delivery.sqlite3")  # relative to home; operators only
    # Each (alert, channel) is tried at most max_attempts times, waiting backoff_initial_seconds,
    # then twice as long each time, at most backoff_max_seconds, between attempts.
    max_attempts: int = bounded(10, 1)
    backoff_initial_seconds: float = bounded(1.0, 0.001)
    backoff_max_seconds: float = bounded(600.0, 0.001)
    request_timeout_seconds: float = bounded(
        10.0, 0.1
    )  # one HTTP request; each SMTP network operation
    channel_concurrency: int = bounded(4, 1, 64)  # deliveries in flight per channel
    # Alerts read but not yet delivered or failed on every channel; at this many, reading pauses.
    max_pending: int = bounded(1000, 1)
    # The worker's Prometheus endpoint (docs/alerts.md, Delivery); 0: none.
    metrics_port: int = bounded(0, 0, 65535)
    metrics_address: str = "127.0.0.1"
    webhooks: tuple[WebhookSettings, ...] = ()
    email: EmailSettings = field(default_factory=EmailSettings)

    def __post_init__(self) -> None:
        names = [hook.name for hook in self.webhooks]
        for hook in self.webhooks:
            where = f"alerts.webhooks[{hook.name or '?'}]"
            if not _CHANNEL_NAME.fullmatch(hook.name):
                raise SettingsError(f"{where}.name: {hook.name!r} must match [a-z0-9][a-z0-9_-]*")
            if names.count(hook.name) > 1:
                raise SettingsError(f"{where}.name: two webhooks are named {hook.name!r}")
            if not hook.url.startswith(("http://", "https://")):
                raise SettingsError(f"{where}.url: {hook.url!r} is not an http(s) URL")
            if not _ENV_NAME.fullmatch(hook.secret_env):
                raise SettingsError(
                    f"{where}.secret_env: {hook.secret_env!r} must name the environment variable "
                    "that holds the endpoint's secret"
                )
        mail = self.email
        addresses = [*mail.recipients, *(a for r in mail.tenant_recipients.values() for a in r)]
        for address in [mail.sender, *addresses]:
            if "@" not in address:
                raise SettingsError(f"alerts.email: {address!r} is not an e-mail address")
        if mail.username and not _ENV_NAME.fullmatch(mail.password_env):
            raise SettingsError(
                f"alerts.email.password_env: {mail.password_env!r} must name the environment "
                "variable that holds the SMTP password (a username is set)"
            )

    @property
    def channels_configured(self) -> bool:
        """Whether an alert goes anywhere: a webhook, or an SMTP host with alert recipients (a
        host may serve only the reports' e-mails)."""
        return bool(self.webhooks or (self.email.host and self.email.has_recipients))


def _check_targets(targets: dict[str, KpiTargets]) -> None:
    try:
        check_targets(targets)
    except ValueError as exc:
        raise SettingsError(f"targets.{exc}") from None


# The KPI knobs a tenant may set for itself ([tenants.NAME.kpis]): those a contact's own KPIs
# depend on. The repeat window and the churn knobs shape the stream's journeys and alerts, which
# one deployment computes alike for every tenant; the abandon treatment is chosen when reading.
TENANT_KPI_KNOBS = (
    "short_abandon_seconds",
    "service_level_voice_seconds",
    "service_level_chat_seconds",
    "service_level_sms_seconds",
    "service_level_social_seconds",
    "service_level_email_seconds",
)
REPORT_PERIODS = ("day", "week")  # the scheduled reports (docs/reports.md)


@dataclass(frozen=True)
class TenantSettings:
    """One client brand's own settings (``[tenants.NAME]``, docs/tenancy.md); a tenant without a
    table has these defaults. Its KPIs are attributed to days and hours of its reporting time
    zone (kpis.md)."""

    display_name: str = ""  # "": the tenant's name
    time_zone: str = "UTC"  # IANA name (Europe/Paris): the tenant's reporting days and hours
    report_recipients: tuple[str, ...] = ()  # who receives its scheduled reports by e-mail
    # Which scheduled reports it gets ("day", "week"), at which local hour of its time zone.
    report_periods: tuple[str, ...] = REPORT_PERIODS
    report_hour: int = bounded(7, 0, 23)
    # Its own KPI targets, over the global [targets] (docs/kpis.md, Targets).
    targets: dict[str, KpiTargets] = field(default_factory=dict)
    # Its own values of the knobs of TENANT_KPI_KNOBS, over [kpis] (service level at 30 s ...).
    kpis: dict[str, float] = field(default_factory=dict)
    # Its own alert endpoints and recipients: only its alerts go there, besides [alerts]'.
    webhooks: tuple[WebhookSettings, ...] = ()
    alert_recipients: tuple[str, ...] = ()
    # Days its contact-level data is kept (lake and warehouse rows; daily aggregates stay);
    # 0: kept for ever (docs/tenancy.md, Retention).
    retention_days: int = bounded(0, 0)

    def __post_init__(self) -> None:
        _check_targets(self.targets)
        for period in self.report_periods:
            if period not in REPORT_PERIODS:
                raise SettingsError(
                    f"report_periods: {period!r} is not one of {', '.join(REPORT_PERIODS)}"
                )
        knobs = {f.name: f for f in fields(KpiSettings)}
        for name, value in self.kpis.items():
            if name not in TENANT_KPI_KNOBS:
                raise SettingsError(
                    f"kpis.{name}: not a knob a tenant can set (one of {', '.join(TENANT_KPI_KNOBS)})"
                )
            _allowed(value, knobs[name], f"kpis.{name}")
        for hook in self.webhooks:
            if hook.tenants:
                raise SettingsError(
                    f"webhooks[{hook.name or '?'}].tenants: a tenant's webhook gets its alerts "
                    "only; leave tenants out"
                )
        try:
            AlertSettings(
                webhooks=self.webhooks, email=EmailSettings(recipients=self.alert_recipients)
            )
        except SettingsError as exc:
            raise SettingsError(
                str(exc).replace("alerts.email", "alert_recipients").replace("alerts.", "")
            ) from None
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"time_zone: {self.time_zone!r} is not an IANA time zone (e.g. Europe/Paris)"
            ) from None
        for address in self.report_recipients:
            if "@" not in address:
                raise SettingsError(f"report_recipients: {address!r} is not an e-mail address")


@dataclass(frozen=True)
class ReportSettings:
    """The executive KPI reports (``[reports]``); each tenant's report goes to the
    ``report_recipients`` of its ``[tenants.NAME]`` table, over the ``[alerts.email]`` server."""

    recipients: tuple[str, ...] = ()  # who receives the overall report (every tenant) by e-mail

    def __post_init__(self) -> None:
        for address in self.recipients:
            if "@" not in address:
                raise SettingsError(f"reports.recipients: {address!r} is not an e-mail address")


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".omnicx")
    environment: str = "development"  # development | production (see with_pii_key)
    # The key of the identifier hashes; "": resolved by with_pii_key, never a built-in one.
    pii_key: str = ""
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: TopicSettings = field(default_factory=TopicSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    kpis: KpiSettings = field(default_factory=KpiSettings)
    churn: ChurnSettings = field(default_factory=ChurnSettings)
    staffing: StaffingSettings = field(default_factory=StaffingSettings)
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    orchestration: OrchestrationSettings = field(default_factory=OrchestrationSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    log: LogSettings = field(default_factory=LogSettings)
    services: ServicesSettings = field(default_factory=ServicesSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    tenants: dict[str, TenantSettings] = field(default_factory=dict)
    reports: ReportSettings = field(default_factory=ReportSettings)
    wallboard: WallboardSettings = field(default_factory=WallboardSettings)
    # KPI targets for every tenant ([targets.<kpi>], docs/kpis.md, Targets); a tenant's own
    # [tenants.NAME.targets.<kpi>] come over these.
    targets: dict[str, KpiTargets] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_targets(self.targets)
        for name in self.tenants:
            check_tenant_name(name, "tenants")
        mail = self.alerts.email
        reports = self.reports.recipients or any(t.report_recipients for t in self.tenants.values())
        tenants_alerts = any(t.alert_recipients for t in self.tenants.values())
        if mail.host and not (mail.has_recipients or reports or tenants_alerts):
            raise SettingsError("alerts.email: a host is set but no recipients")

    def tenant_warehouse_file(self, tenant: str) -> Path:
        """The tenant-scoped warehouse file of ``tenant`` (docs/tenancy.md)."""
        name = check_tenant_name(tenant, "tenant")
        return self.home / self.warehouse.tenant_dir / f"{name}.duckdb"

    def tenant(self, name: str) -> TenantSettings:
        """The settings of tenant ``name``: its ``[tenants.NAME]`` table, else the defaults."""
        return self.tenants.get(name) or TenantSettings()

    def tenant_kpis(self, name: str) -> KpiSettings:
        """The KPI knobs in force for tenant ``name``: [kpis], then its own overrides."""
        return replace(self.kpis, **self.tenant(name).kpis)

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def lake_dir(self) -> Path:
        return self.home / self.warehouse.lake_dir

    @property
    def duckdb_file(self) -> Path:
        return self.home / self.warehouse.duckdb_file

    @property
    def intermediate_dir(self) -> Path:
        return self.home / self.warehouse.intermediate_dir

    @property
    def alert_delivery_log(self) -> Path:
        return self.home / self.alerts.delivery_log


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build the settings from defaults, the TOML file and the environment."""
    env = os.environ if environ is None else environ
    if config_file is None:
        named = env.get("OMNICX_CONFIG")
        config_file = Path(named) if named else Path("omnicx.toml")
        if not named and not config_file.exists():
            config_file = None
    from_file: dict[str, Any] = {}
    if config_file is not None:
        try:
            from_file = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {config_file}: {exc}") from exc
    settings = _build(Settings, from_file, env, "OMNICX_", "")
    if settings.environment not in ENVIRONMENTS:
        raise SettingsError(
            f"environment: expected one of {list(ENVIRONMENTS)}, got {settings.environment!r}"
        )
    return with_tenant_alerts(settings)


def with_tenant_alerts(settings: Settings) -> Settings:
    """The settings with every tenant's own webhooks and alert recipients in ``[alerts]``, each
    for that tenant's alerts only, so that the delivery worker serves them like the others.

    Idempotent: settings handed to a subprocess (``settings_env``) already hold them."""
    alerts = settings.alerts
    hooks = {hook.name: hook for hook in alerts.webhooks}
    recipients = dict(alerts.email.tenant_recipients)
    for name, tenant in sorted(settings.tenants.items()):
        for hook in tenant.webhooks:
            own = replace(hook, tenants=(name,))
            if hooks.setdefault(hook.name, own) != own:
                raise SettingsError(
                    f"tenants.{name}.webhooks[{hook.name}].name: another webhook is named "
                    f"{hook.name!r}; give each endpoint its own name"
                )
        if tenant.alert_recipients:
            merged = (*recipients.get(name, ()), *tenant.alert_recipients)
            recipients[name] = tuple(dict.fromkeys(merged))
    email = replace(alerts.email, tenant_recipients=recipients)
    return replace(settings, alerts=replace(alerts, webhooks=tuple(hooks.values()), email=email))


ENVIRONMENTS = ("development", "production")
PII_KEY_FILE = "pii.key"  # under home, owner-only


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def with_pii_key(settings: Settings, announce: Callable[[str], None] = _to_stderr) -> Settings:
    """The settings with the key of the identifier hashes resolved (docs/identity.md, Personal-data key).

    The configured key (``OMNICX_PII_KEY`` or ``pii_key`` in the file) if any. Else, in
    production, a :class:`SettingsError`: a production deployment never hashes with a key nobody
    chose. Else the key in ``$OMNICX_HOME/pii.key``, generated at random (owner-only file) the
    first time, which ``announce`` reports with its path. Only the commands that hash call this,
    so that the others (``omnicx kafka start`` ...) run without a key.
    """
    if settings.pii_key:
        return settings
    if settings.environment == "production":
        raise SettingsError(
            'no personal-data key: environment = "production" needs OMNICX_PII_KEY '
            "(or pii_key in the settings file); see docs/identity.md"
        )
    path = settings.home / PII_KEY_FILE
    if not path.exists() and _create_key_file(path):
        announce(
            f"omnicx: generated a personal-data key in {path} (owner-only). Keep it secret and "
            "back it up: identifier hashes, hence identity stitching, depend on it."
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(f"{path} is readable by others (mode {mode:o}): chmod 600 {path}")
    key = path.read_text().strip()
    if not key:
        raise SettingsError(f"{path} is empty: delete it to generate a new key")
    return replace(settings, pii_key=key)


def secret_from_env(variable: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret held by the environment variable ``variable`` (named in the settings, e.g. a
    webhook's ``secret_env``); a SettingsError saying ``what`` needs it when it is unset or empty.
    Secrets live only in the environment, never in a settings file."""
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value:
        raise SettingsError(f"{what}: environment variable {variable} is not set (its secret)")
    return value


def _create_key_file(path: Path) -> bool:
    """Write a random key to ``path``, mode 0600; False if another process created it first.

    The key is written to a private temporary file that is then hard-linked into place, so a
    concurrent reader sees either no file or the whole key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def with_overrides(settings: Settings, **sections: Any) -> Settings:
    """A copy of ``settings`` with top-level fields, or some fields of sections, replaced."""
    changes: dict[str, Any] = {}
    for name, values in sections.items():
        current = getattr(settings, name)
        changes[name] = replace(current, **values) if is_dataclass(current) else values
    return replace(settings, **changes)


def _build(
    cls: type, from_file: Mapping[str, Any], env: Mapping[str, str], prefix: str, where: str
):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(from_file) - known
    if unknown:
        raise SettingsError(f"unknown setting(s) in [{where or 'top level'}]: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        kind = hints[f.name]
        env_name = f"{prefix}{f.name.upper()}"
        if is_dataclass(kind):
            section = from_file.get(f.name, {})
            if not isinstance(section, Mapping):
                raise SettingsError(f"{f.name}: expected a [{f.name}] table, got {section!r}")
            values[f.name] = _build(kind, section, env, f"{env_name}_", f.name)
        elif env_name in env:
            values[f.name] = _allowed(_coerce(env[env_name], kind, env_name), f, env_name)
        elif f.name in from_file:
            name = f"{where}.{f.name}" if where else f.name
            values[f.name] = _allowed(_coerce(from_file[f.name], kind, name), f, name)
    return cls(**values)


def _build_named(cls: type, table: Mapping[str, Any], where: str) -> Any:
    """A dataclass from one TOML table of a list or map, its errors prefixed with where it is."""
    try:
        return _build(cls, table, {}, "", where)
    except SettingsError as exc:
        if where in str(exc):
            raise
        raise SettingsError(f"{where}.{exc}") from None


def _allowed(value: Any, f: Any, name: str) -> Any:
    """``value`` when the field's metadata allows it; a SettingsError naming what is allowed."""
    if f.metadata.get("day") and value:
        from datetime import date

        try:
            date.fromisoformat(value)
        except ValueError:
            raise SettingsError(f"{name}: {value!r} is not a day (YYYY-MM-DD)") from None
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    low, high = f.metadata.get("low"), f.metadata.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f"at least {low}"
        elif low is None:
            allowed = f"at most {high}"
        else:
            allowed = f"between {low} and {high}"
        raise SettingsError(f"{name}: {value!r} is out of range; it must be {allowed}")
    return value


def _coerce_collection(raw: Any, kind: Any, name: str) -> Any:
    """A tuple or dict setting: a TOML array or table, or its JSON text (environment variable)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected JSON, got {raw!r}") from None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple and isinstance(raw, list):
        item = args[0]
        if is_dataclass(item):
            for n, value in enumerate(raw):
                if not isinstance(value, Mapping):
                    raise SettingsError(f"{name}[{n}]: expected a table, got {value!r}")
            return tuple(_build(item, v, {}, "", f"{name}[{n}]") for n, v in enumerate(raw))
        return tuple(_coerce(v, item, f"{name}[{n}]") for n, v in enumerate(raw))
    if origin is dict and isinstance(raw, Mapping) and is_dataclass(args[1]):
        for key, value in raw.items():
            if not isinstance(value, Mapping):
                raise SettingsError(f"{name}.{key}: expected a table, got {value!r}")
        return {str(k): _build_named(args[1], v, f"{name}.{k}") for k, v in raw.items()}
    if origin is dict and isinstance(raw, Mapping):
        return {str(k): _coerce(v, args[1], f"{name}.{k}") for k, v in raw.items()}
    raise SettingsError(
        f"{name}: expected {'a list' if origin is tuple else 'a table'}, got {raw!r}"
    )


def _coerce(raw: Any, kind: Any, name: str) -> Any:
    if typing.get_origin(kind) in (tuple, dict):
        return _coerce_collection(raw, kind, name)
    if isinstance(kind, types.UnionType):
        if raw is None and type(None) in typing.get_args(kind):
            return None  # JSON null (settings_env writes unset optional fields so)
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind is Path:
            return Path(raw)
        # TOML gives typed values: int(9092.7) or int(True) would silently change what was written.
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
            raise ValueError(raw)
        return kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected {kind.__name__}, got {raw!r}") from None
