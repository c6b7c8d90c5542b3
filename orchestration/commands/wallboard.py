"""``omnicx wallboard``: the live wallboard's web app (docs/wallboard.md)."""

from __future__ import annotations

import click

from schemas.settings import Settings, SettingsError, with_overrides


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [wallboard] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: 8050).")
@click.pass_obj
def wallboard(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the live wallboard: a page per tenant with a tile per queue and channel, pushed by
    server-sent events as the stream publishes, and its JSON; stop with Ctrl-C or SIGTERM.

    Access needs a token ([wallboard] operator_token_env, tenant_token_envs; in development
    without one, the operator token generated in $OMNICX_HOME/wallboard.token). Beyond loopback,
    serve it behind a TLS-terminating reverse proxy (docs/wallboard.md).
    """
    import uvicorn

    from orchestration.services import wallboard_url
    from orchestration.wallboard.access import load_access
    from orchestration.wallboard.feed import SnapshotFeed
    from orchestration.wallboard.web import create_app

    changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = with_overrides(settings, wallboard=changes)
    try:
        access = load_access(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    app = create_app(settings, access, SnapshotFeed())
    click.echo(f"wallboard at {wallboard_url(settings)}", err=True)
    uvicorn.run(
        app,
        host=settings.wallboard.host,
        port=settings.wallboard.port,
        proxy_headers=True,  # the scheme and client from a reverse proxy on loopback
        log_level="warning",
        timeout_graceful_shutdown=2,  # open event streams never end by themselves
    )
