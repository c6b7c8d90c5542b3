"""The subcommands of ``omnicx``, one module each; ``orchestration.cli`` registers this list."""

from orchestration.commands.kafka import kafka

COMMANDS = [kafka]
