"""The settings of a command that hashes identifiers: with the personal-data key resolved."""

from __future__ import annotations

import click

from schemas.settings import Settings, SettingsError, with_pii_key


def keyed(settings: Settings) -> Settings:
    """``settings`` with their key (``with_pii_key``); a missing one is a one-line CLI error."""
    try:
        return with_pii_key(settings, announce=lambda message: click.echo(message, err=True))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
