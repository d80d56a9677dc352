"""The two doors of the event API: ``POST /api/v1`` and the WebSocket ``/ws``."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from fsdir.api.dispatch import Outcome, dispatch, invalid_message
from fsdir.runtime import Runtime

log = logging.getLogger("fsdir.api")

# Frames a WebSocket client may have waiting; one that lets more pile up is disconnected.
SEND_QUEUE_LIMIT = 1024


def _dumps(reply: dict[str, Any]) -> str:
    return json.dumps(reply, ensure_ascii=False, separators=(",", ":"))


def _json_response(reply: dict[str, Any], status: int) -> Response:
    return Response(_dumps(reply), status_code=status, media_type="application/json")


def _with_request_id(outcome: Outcome, message: Any) -> dict[str, Any]:
    reply = outcome.reply
    if isinstance(message, dict):
        request_id = message.get("id")
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            reply = {**reply, "id": request_id} if "id" not in reply else {**reply, "request_id": request_id}
    return reply


def _decode(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _too_large(raw: bytes | str, limit: int) -> bool:
    """The limit counts bytes, as over HTTP; a character takes up to 4 of them in UTF-8."""
    if len(raw) > limit:
        return True
    if isinstance(raw, bytes) or len(raw) * 4 <= limit:
        return False
    return len(raw.encode("utf-8", "surrogatepass")) > limit


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge()
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise _TooLarge()
    return bytes(chunks)


async def http_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        body = await _read_body(request, runtime.settings.max_body_bytes)
    except _TooLarge:
        return _json_response({"MessageType": "none", "error": "body too large"}, 413)
    message = _decode(body)
    if message is None:
        outcome = invalid_message()
    else:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        outcome = await dispatch(runtime, message, bearer=bearer)
    return _json_response(_with_request_id(outcome, message), outcome.status)


class WebSocketClient:
    """One connected client: replies and pushes leave through one bounded queue, in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SEND_QUEUE_LIMIT)
        self.session_token: str | None = None
        self.closed = asyncio.Event()

    def offer(self, frame: dict[str, Any]) -> None:
        if self.closed.is_set():
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("websocket client too slow: disconnecting it")
            self.closed.set()

    async def send_loop(self) -> None:
        while not self.closed.is_set():
            frame = await self.queue.get()
            if frame is None:
                break
            await self.websocket.send_text(_dumps(frame))


async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    await websocket.accept()
    client = WebSocketClient(websocket)
    sender = asyncio.create_task(client.send_loop())
    receiver = asyncio.create_task(_receive_loop(runtime, client))
    closer = asyncio.create_task(client.closed.wait())
    try:
        await asyncio.wait({sender, receiver, closer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        runtime.hub.remove(client)
        client.closed.set()
        for task in (sender, receiver, closer):
            task.cancel()
        await asyncio.gather(sender, receiver, closer, return_exceptions=True)
        try:
            await websocket.close()
        except RuntimeError:
            pass  # already closed by the peer


async def _receive_loop(runtime: Runtime, client: WebSocketClient) -> None:
    limit = runtime.settings.max_body_bytes
    try:
        while True:
            event = await client.websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            raw = event.get("text")
            if raw is None:
                raw = event.get("bytes") or b""
            if _too_large(raw, limit):
                client.offer({"MessageType": "none", "error": "body too large"})
                continue
            message = _decode(raw)
            if message is None:
                client.offer(invalid_message().reply)
                continue
            outcome = await dispatch(runtime, message, session_token=client.session_token, origin=client)
            if outcome.session_token is not None:
                client.session_token = outcome.session_token
            if outcome.session_ended:
                # Logging out another token (sent in data) leaves this socket's own session alone.
                sent = message["data"].get("token")
                if not sent or sent == client.session_token:
                    client.session_token = None
            client.offer(_with_request_id(outcome, message))
    except WebSocketDisconnect:
        return
