"""The one typed settings object of omnicx.

Settings come from, in rising precedence: the defaults below, an optional ``omnicx.toml``
(path in ``OMNICX_CONFIG``, else ``./omnicx.toml`` when present), and environment variables
``OMNICX_<SECTION>_<FIELD>`` (e.g. ``OMNICX_KAFKA_PORT=9093``) or ``OMNICX_<FIELD>`` for the
top-level fields (``OMNICX_HOME``). They are read by :func:`load_settings` only, never at import
time, so that tests and commands can build settings for their own directories and ports.
"""

from __future__ import annotations

import os
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


class SettingsError(ValueError):
    """A setting has a value of the wrong type or an unknown name."""


@dataclass(frozen=True)
class KafkaSettings:
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 0  # 0: port + 1
    start_timeout_seconds: float = 90.0
    stop_timeout_seconds: float = 60.0
    request_timeout_seconds: float = 10.0
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
    partitions: int = 4
    replication_factor: int = 1
    retention_hours: int = 168
    dead_letter_retention_hours: int = 720


@dataclass(frozen=True)
class StreamSettings:
    app_id: str = "omnicx-stream"
    lateness_seconds: int = 3600
    idle_timeout_seconds: int = 4 * 3600
    # An identifier seen with more distinct accounts than this stops linking (events.md). The
    # default 1 means a shared phone or e-mail never merges two known accounts: see docs/identity.md.
    identity_max_accounts: int = 1
    batch_size: int = 1000
    batch_seconds: float = 0.5
    web_port: int = 6066
    keep_message_text: bool = False


@dataclass(frozen=True)
class KpiSettings:
    """The knobs of ../shared/spec/kpis.md, with its defaults."""

    short_abandon_seconds: float = 5.0
    service_level_voice_seconds: float = 20.0
    service_level_chat_seconds: float = 60.0
    service_level_sms_seconds: float = 900.0
    service_level_social_seconds: float = 900.0
    service_level_email_seconds: float = 86400.0
    abandon_treatment: str = "negative"  # negative | ignore | positive
    repeat_window_days: float = 7.0

    def service_level_seconds(self, channel: str) -> float:
        return getattr(self, f"service_level_{channel}_seconds")


@dataclass(frozen=True)
class ChurnSettings:
    """The churn-risk knobs of kpis.md: look-back, flag threshold and one weight per signal."""

    lookback_days: int = 30
    threshold: int = 50
    weight_nps_detractor: int = 30
    weight_csat_1_2: int = 25
    weight_ces_1_3: int = 15
    weight_unresolved_journey: int = 25
    weight_abandons: int = 15
    weight_escalation_unresolved_48h: int = 20
    weight_cancellation_intent: int = 40
    weight_opted_out: int = 10


@dataclass(frozen=True)
class ChecksSettings:
    """Thresholds of the data-quality checks that block the KPI marts."""

    dead_letter_max_share: float = 0.01  # dead letters / all messages landed
    # A day whose events fall below this share of the previous day's (same hours) has collapsed.
    min_events_ratio_to_previous_day: float = 0.2


@dataclass(frozen=True)
class WarehouseSettings:
    """The Parquet lake, its sink and the analysts' DuckDB file (docs/warehouse.md)."""

    lake_dir: Path = Path("lake")  # relative to home
    duckdb_file: Path = Path("warehouse.duckdb")  # relative to home
    sink_group_id: str = "omnicx-lake-sink"
    sink_instance_id: str = ""  # static group membership; "": this host's name
    sink_batch_rows: int = 50_000  # a file closes at each multiple of this many offsets
    sink_batch_seconds: float = 30.0  # ... or when its first record waited this long
    compact_min_files: int = 8  # this many small files in a row are merged into one
    compact_target_rows: int = 1_000_000  # a file spanning fewer offsets is small
    # Parts a compaction replaced stay readable this long, for queries that already listed them.
    compact_grace_seconds: float = 600.0


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
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def lake_dir(self) -> Path:
        return self.home / self.warehouse.lake_dir

    @property
    def duckdb_file(self) -> Path:
        return self.home / self.warehouse.duckdb_file


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
    return settings


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
            values[f.name] = _coerce(env[env_name], kind, env_name)
        elif f.name in from_file:
            values[f.name] = _coerce(from_file[f.name], kind, f"{where}.{f.name}")
    return cls(**values)


def _coerce(raw: Any, kind: Any, name: str) -> Any:
    if isinstance(kind, types.UnionType):
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
