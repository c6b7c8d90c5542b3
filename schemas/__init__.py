"""The omnicx event contract: JSON Schema files, typed names, validation, settings.

The names below are imported from their modules on first use: ``schemas.settings`` is read by
every ``omnicx`` command, and most never validate an event (``omnicx sql``, ``status``, ``lag``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.models import Channel, Direction, Envelope, EventType
    from schemas.validation import Problem, Validated, validate, validate_event

_MODULE_OF = {
    "Channel": "schemas.models",
    "Direction": "schemas.models",
    "Envelope": "schemas.models",
    "EventType": "schemas.models",
    "Problem": "schemas.validation",
    "Validated": "schemas.validation",
    "validate": "schemas.validation",
    "validate_event": "schemas.validation",
}

__all__ = [
    "Channel",
    "Direction",
    "Envelope",
    "EventType",
    "Problem",
    "Validated",
    "validate",
    "validate_event",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
