"""The omnicx event contract: JSON Schema files, typed names, validation, settings."""

from schemas.models import Channel, Direction, Envelope, EventType
from schemas.validation import Problem, Validated, validate, validate_event

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
