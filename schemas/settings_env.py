"""Settings as ``OMNICX_*`` environment variables: the inverse of ``load_settings``.

Used to hand a process's exact settings to the subprocesses it starts (stream workers, the
sink) and to show operators the effective configuration (``omnicx config``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from schemas.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    return dict(_flatten(settings, "OMNICX_"))


def _flatten(section: Any, prefix: str):
    for f in fields(section):
        value = getattr(section, f.name)
        name = f"{prefix}{f.name.upper()}"
        if is_dataclass(value):
            yield from _flatten(value, f"{name}_")
        elif isinstance(value, tuple | dict):  # lists of endpoints, recipients: JSON
            yield name, json.dumps(_plain(value))
        elif isinstance(value, bool):
            yield name, "true" if value else "false"
        else:
            yield name, str(value)


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
