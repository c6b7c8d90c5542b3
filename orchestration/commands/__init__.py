"""The subcommands of ``omnicx``, one module each; ``orchestration.cli`` registers this list."""

from orchestration.commands.kafka import kafka
from orchestration.commands.stream import stream

COMMANDS = [kafka, stream]
