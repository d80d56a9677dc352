"""The ASGI application: explicit routes, one Runtime shared by all of them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

import fsdir.api.events  # noqa: F401  (registers the events)
from fsdir.api.transport import http_endpoint, websocket_endpoint
from fsdir.bootstrap import ensure_first_admin, open_database
from fsdir.config import Settings, load_settings
from fsdir.runtime import Runtime

log = logging.getLogger("fsdir")


async def healthz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "error"
    freeswitch = (
        "connected" if runtime.freeswitch is not None and runtime.freeswitch.connected else "disconnected"
    )
    return JSONResponse({"database": database, "freeswitch": freeswitch})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = await open_database(settings)
        await ensure_first_admin(engine, settings)
        runtime = Runtime(settings, engine)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await engine.dispose()

    routes = [
        Route("/api/v1", http_endpoint, methods=["POST"]),
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
