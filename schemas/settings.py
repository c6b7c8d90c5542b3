"""The one typed settings object of omnicx.

Settings come from, in rising precedence: the defaults below, an optional ``omnicx.toml``
(path in ``OMNICX_CONFIG``, else ``./omnicx.toml`` when present), and environment variables
``OMNICX_<SECTION>_<FIELD>`` (e.g. ``OMNICX_KAFKA_PORT=9093``) or ``OMNICX_<FIELD>`` for the
top-level fields (``OMNICX_HOME``). They are read by :func:`load_settings` only, never at import
time, so that tests and commands can build settings for their own directories and ports.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Mapping
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
class Settings:
    home: Path = Path(".omnicx")
    pii_key: str = "omnicx-local-development-key"
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: TopicSettings = field(default_factory=TopicSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    kpis: KpiSettings = field(default_factory=KpiSettings)

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"


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
    return _build(Settings, from_file, env, "OMNICX_", "")


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
