"""The ASGI application: explicit routes, one Runtime shared by all of them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

import fsdir.api.events  # noqa: F401  (registers the events)
from fsdir.api.transport import http_endpoint, websocket_endpoint
from fsdir.bootstrap import ensure_first_admin, open_database
from fsdir.config import Settings, load_settings
from fsdir.freeswitch.link import FreeSwitchLink
from fsdir.freeswitch.serving import XmlCurlService
from fsdir.freeswitch.xmlcurl import XmlCurlMiddleware
from fsdir.metrics import metrics_endpoint, new_registry
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
    freeswitch = "connected" if runtime.freeswitch is not None and runtime.freeswitch.connected else "disconnected"
    return JSONResponse({"database": database, "freeswitch": freeswitch})


PAGE = Path(__file__).with_name("web") / "index.html"


async def web_page(request: Request) -> Response:
    return FileResponse(PAGE, headers={"X-Frame-Options": "DENY", "Cache-Control": "no-cache"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = await open_database(settings)
        await ensure_first_admin(engine, settings)
        runtime = Runtime(settings, engine)
        app.state.runtime = runtime
        try:
            xmlcurl = app.state.xmlcurl = await XmlCurlService.start(runtime, app.state.metrics)
        except BaseException:
            await engine.dispose()
            raise
        # Connects in the background: start-up never waits for FreeSWITCH.
        link = FreeSwitchLink(runtime) if settings.esl_host else None
        if link is not None:
            link.start()
        try:
            yield
        finally:
            if link is not None:
                await link.close()
            await xmlcurl.close()
            await engine.dispose()

    routes = [
        Route("/api/v1", http_endpoint, methods=["POST"]),
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/", web_page, methods=["GET"]),
    ]
    # mod_xml_curl's /freeswitch/directory is answered ahead of the router (the hot path).
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(XmlCurlMiddleware)])
    app.state.metrics = new_registry()
    return app
