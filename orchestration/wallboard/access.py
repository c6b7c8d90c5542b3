"""Who may see which tenant's wallboard: access tokens from the configuration.

Tokens live in environment variables named by ``[wallboard]`` (never in a settings file, never a
built-in default): the operator's sees every tenant, a tenant's token its own pages only. A
development home with no token configured gets a random operator token, generated once in
``$OMNICX_HOME/wallboard.token`` (owner-only), as the personal-data key is; production refuses
to start without a configured token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schemas.settings import Settings, SettingsError, secret_from_env

TOKEN_FILE = "wallboard.token"  # under home, owner-only


@dataclass(frozen=True)
class Access:
    operator: str | None = None
    tenants: dict[str, str] = field(default_factory=dict)

    def tenants_of(self, token: str | None) -> frozenset[str] | None:
        """The tenants a token may see: None for the operator's (all), else the tenants whose
        token it is (none for an unknown or missing token). Compared in constant time."""
        if not token:
            return frozenset()
        if self.operator is not None and hmac.compare_digest(token, self.operator):
            return None
        return frozenset(t for t, want in self.tenants.items() if hmac.compare_digest(token, want))


def load_access(settings: Settings, environ: Mapping[str, str] | None = None) -> Access:
    config = settings.wallboard
    env = os.environ if environ is None else environ
    tenants = {
        tenant: secret_from_env(variable, f"wallboard.tenant_token_envs.{tenant}", env)
        for tenant, variable in config.tenant_token_envs.items()
    }
    if config.operator_token_env:
        operator = secret_from_env(config.operator_token_env, "wallboard.operator_token_env", env)
        return Access(operator, tenants)
    if settings.environment == "production":
        raise SettingsError(
            'no wallboard operator token: environment = "production" needs '
            "[wallboard] operator_token_env naming the variable that holds it (docs/wallboard.md)"
        )
    return Access(development_token(settings.home / TOKEN_FILE), tenants)


def development_token(path: Path) -> str:
    """The operator token of a development home, generated at random the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text().strip()
        if not token:
            raise SettingsError(f"{path} is empty: delete it to generate a new token") from None
        return token
    token = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token
