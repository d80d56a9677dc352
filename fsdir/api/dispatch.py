"""One dispatcher behind both transports: envelope → auth → validation → transaction → after-commit."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fsdir.api.auth import resolve_token, touch_token
from fsdir.api.errors import ApiError, Forbidden, Unauthorized
from fsdir.api.registry import EventContext, EventSpec, registry
from fsdir.db.engine import WRITE

if TYPE_CHECKING:
    from fsdir.runtime import Runtime

log = logging.getLogger("fsdir.api")


@dataclass
class Outcome:
    reply: dict[str, Any]
    status: int = 200
    session_token: str | None = None
    session_ended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def invalid_message() -> Outcome:
    return Outcome({"MessageType": "none", "error": "invalid message"}, status=400)


def _invalid_field(event: str, exc: ValidationError) -> dict[str, Any]:
    location = exc.errors()[0]["loc"]
    # The innermost named field: a nested ``variable.id`` is an "invalid id", like any other id.
    names = [part for part in location if isinstance(part, str)]
    name = names[-1] if names else "data"
    return {"MessageType": event, "error": f"invalid {name}"}


async def dispatch(
    runtime: Runtime,
    message: Any,
    *,
    bearer: str | None = None,
    session_token: str | None = None,
    origin: object = None,
) -> Outcome:
    """Handle one decoded request and return its reply; never raises for bad input."""
    if (
        not isinstance(message, dict)
        or not isinstance(message.get("event"), str)
        or not isinstance(message.get("data"), dict)
    ):
        return invalid_message()
    name: str = message["event"]
    data: dict[str, Any] = message["data"]
    spec = registry.get(name)
    if spec is None:
        return Outcome({"MessageType": "none", "error": "wrong event"})
    started = time.perf_counter()
    outcome = await _run(runtime, spec, data, bearer, session_token, origin)
    elapsed = (time.perf_counter() - started) * 1000
    result = outcome.reply.get("error", "ok")
    log.info("event %r %s in %.1f ms", name, result, elapsed)
    return outcome


async def _run(
    runtime: Runtime,
    spec: EventSpec,
    data: dict[str, Any],
    bearer: str | None,
    session_token: str | None,
    origin: object,
) -> Outcome:
    name = spec.name
    token = data.get("token") or bearer or session_token or ""
    if spec.needs_token and not isinstance(token, str):
        return Outcome({"MessageType": name, "error": "unauthorized"}, status=401)
    try:
        request = spec.model.model_validate(data)
    except ValidationError as exc:
        if spec.needs_token:
            # Authenticate first: an anonymous client learns nothing about the event.
            try:
                async with runtime.engine.connect() as conn, conn.begin():
                    await resolve_token(conn, token, timedelta(seconds=runtime.settings.token_ttl_seconds))
            except Unauthorized:
                return Outcome({"MessageType": name, "error": "unauthorized"}, status=401)
        return Outcome(_invalid_field(name, exc))
    try:
        async with runtime.engine.connect() as conn:
            caller = None
            touch = False
            if spec.needs_token:
                async with conn.begin():
                    caller, touch = await resolve_token(
                        conn, token, timedelta(seconds=runtime.settings.token_ttl_seconds)
                    )
                if caller.role < spec.role:
                    raise Forbidden()
            if spec.writes or touch:
                await conn.execution_options(**WRITE)
            ctx = EventContext(conn=conn, runtime=runtime, caller=caller, token=token, origin=origin)
            if spec.own_transaction:
                result = await spec.handler(ctx, request)
            else:
                async with conn.begin():
                    result = await spec.handler(ctx, request)
            if touch:
                async with conn.begin():
                    await touch_token(conn, token)
    except Unauthorized:
        return Outcome({"MessageType": name, "error": "unauthorized"}, status=401)
    except ApiError as exc:
        return Outcome({"MessageType": name, "error": exc.text})
    except Exception:
        log.exception("event %r failed", name)
        return Outcome({"MessageType": name, "error": "internal error"})
    reply = {"MessageType": name, **result}
    await runtime.after_commit(ctx.changes, spec, reply, origin)
    return Outcome(reply, session_token=ctx.session_token, session_ended=ctx.session_ended)
