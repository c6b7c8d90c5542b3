"""The wallboard's web app (Starlette, served by uvicorn): a page per tenant, its JSON, and a
server-sent event stream that pushes the board whenever the stream publishes a snapshot.

Routes (every one but ``/healthz`` needs a token, docs/wallboard.md):

- ``/``: the operator's list of tenants; a tenant's token goes to its own page
- ``/t/{tenant}``: the page, which follows ``/t/{tenant}/events``
- ``/t/{tenant}/board.json``: the board as JSON, for other screens
- ``/t/{tenant}/events``: ``text/event-stream``, one ``data:`` line of board JSON per change

A token comes as ``Authorization: Bearer TOKEN``, or once as ``?token=TOKEN``, which the app
answers with an HttpOnly cookie and a redirect to the same address without it (so that a wall
screen's browser can be given one link and the token does not stay in its address bar). No
token, or an unknown one: 401; a tenant's token on another tenant's address: 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from orchestration.wallboard.access import Access
from orchestration.wallboard.feed import SnapshotFeed
from orchestration.wallboard.view import tenant_board
from schemas.settings import Settings

COOKIE = "omnicx_wallboard"
_templates = Environment(
    loader=PackageLoader("orchestration.wallboard", "templates"),
    autoescape=select_autoescape(["html"]),
)


def wall_ms() -> int:
    return round(time.time() * 1000)


def create_app(
    settings: Settings,
    access: Access,
    feed: SnapshotFeed,
    follow: bool = True,
    clock: Callable[[], int] = wall_ms,
) -> Starlette:
    """The app over ``feed``; ``follow``: read the wallboard topic into it while serving (tests
    of the routes fill the feed themselves). ``clock``: wall-clock epoch milliseconds."""

    def board(tenant: str) -> dict[str, Any]:
        return tenant_board(settings, tenant, feed.tenant_snapshots(tenant), clock())

    # The board's JSON per tenant, computed once for every open stream of the tenant that a
    # snapshot (or the tick) wakes at the same moment: (feed version, quarter second) -> bytes.
    cached: dict[str, tuple[tuple[int, int], bytes]] = {}

    def board_bytes(tenant: str) -> bytes:
        key = (feed.version, clock() // 250)
        hit = cached.get(tenant)
        if hit is None or hit[0] != key:
            hit = cached[tenant] = (key, orjson.dumps(board(tenant)))
        return hit[1]

    def known_tenants() -> list[str]:
        names = set(feed.snapshots) | set(settings.tenants) | set(access.tenants)
        return sorted(names)

    def allowed(request: Request, tenant: str) -> Response | None:
        """None when the request's token may see ``tenant``, else the refusal."""
        seen = access.tenants_of(_token(request))
        if seen is None or tenant in seen:
            return None
        if not seen:
            return PlainTextResponse("a wallboard token is needed", status_code=401)
        return PlainTextResponse("this token does not open that tenant's wallboard", 403)

    async def index(request: Request) -> Response:
        if (redirect := _token_to_cookie(request)) is not None:
            return redirect
        seen = access.tenants_of(_token(request))
        if seen is not None and not seen:
            return PlainTextResponse("a wallboard token is needed", status_code=401)
        tenants = known_tenants() if seen is None else sorted(seen)
        if len(tenants) == 1 and seen is not None:
            return RedirectResponse(f"/t/{tenants[0]}", status_code=303)
        page = _templates.get_template("index.html").render(tenants=tenants)
        return HTMLResponse(page)

    async def page(request: Request) -> Response:
        if (redirect := _token_to_cookie(request)) is not None:
            return redirect
        tenant = request.path_params["tenant"]
        refused = allowed(request, tenant)
        if refused is not None:
            return refused
        current = board(tenant)
        html = _templates.get_template("board.html").render(
            tenant=tenant,
            display_name=current["display_name"],
            initial=current,
        )
        return HTMLResponse(html)

    async def board_json(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        refused = allowed(request, tenant)
        return refused or JSONResponse(board(tenant))

    async def events(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        refused = allowed(request, tenant)
        if refused is not None:
            return refused
        tick = settings.wallboard.tick_seconds

        async def stream() -> AsyncIterator[bytes]:
            last = b""
            while True:
                payload = board_bytes(tenant)
                if payload != last:
                    last = payload
                    yield b"data: " + payload + b"\n\n"
                await feed.changed(tick)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(feed.follow(settings)) if follow else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/t/{tenant}", page),
            Route("/t/{tenant}/board.json", board_json),
            Route("/t/{tenant}/events", events),
        ],
        lifespan=lifespan,
    )

    return app


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def _token_to_cookie(request: Request) -> Response | None:
    """A page asked with ``?token=``: the token as a cookie, and a redirect to the page without
    it; None without one."""
    token = request.query_params.get("token")
    if token is None:
        return None
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + ("?" + urlencode(rest) if rest else "")
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"  # behind a proxy: uvicorn's --proxy-headers
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure)
    return response
