"""A dedicated HTTP/1.1 listener for mod_xml_curl (``FSDIR_XMLCURL_PORT``).

FreeSWITCH opens a new connection for every lookup, so the cost per connection is the budget. This
is an ``asyncio.Protocol`` around httptools' parser (the one uvicorn uses) instead of a full ASGI
server: a cache hit is answered inside ``data_received``, with no task, scope or message passing,
and the connection is closed after the one answer (``Connection: close``, as FreeSWITCH expects
anyway). Requests are capped in size and must arrive within ``READ_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from contextlib import suppress
from typing import cast

import httptools

from fsdir.config import Settings
from fsdir.freeswitch.doc_cache import Document
from fsdir.freeswitch.lookup import INVALID, Lookup, parse_lookup
from fsdir.freeswitch.xmlcurl import MAX_BODY_BYTES, PATH, Endpoint, content_length_ok

log = logging.getLogger("fsdir.xmlcurl")
READ_TIMEOUT = 10.0
# Request line and headers; FreeSWITCH sends five short headers.
MAX_HEAD_BYTES = 16 * 1024
_PATH = PATH.encode()
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
_STATUS = {
    400: b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    401: b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="fsdir"\r\n'
    b"Connection: close\r\nContent-Length: 0\r\n\r\n",
    403: b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    404: b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS on the dedicated port too when the main port has it (FreeSWITCH can use https)."""
    if not settings.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


def _response(document: Document) -> bytes:
    head, tail = document.head, document.tail
    return b"".join((_OK % (len(head) + len(tail)), head, tail))


class XmlCurlListener:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(
        self, host: str, port: int, *, reuse_port: bool = False, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            # Worker processes bind the same port; the kernel spreads connections over them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=1024, ssl=ssl_context)
        self._sweeper = loop.create_task(self._sweep())

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await self._sweeper
        for connection in list(self.connections):
            connection.abort()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _sweep(self) -> None:
        """Close connections whose request has not arrived in time (slow or idle clients)."""
        while True:
            await asyncio.sleep(1.0)
            deadline = time.monotonic() - READ_TIMEOUT
            for connection in [c for c in self.connections if (c.reading or c.lingering) and c.opened < deadline]:
                connection.abort()


class _Connection(asyncio.Protocol):
    """One connection, one request: parsed by httptools' callbacks (``on_*``), then answered."""

    __slots__ = (
        "listener",
        "opened",
        "reading",
        "lingering",
        "_parser",
        "_transport",
        "_host",
        "_url",
        "_body",
        "_received",
        "_authorization",
        "_expect_continue",
        "_headers_done",
        "_status",
        "_too_large",
        "_read_all",
    )

    def __init__(self, listener: XmlCurlListener) -> None:
        self.listener = listener
        self.opened = time.monotonic()
        self.reading = True
        # Answered before the whole request was read: input is discarded until the client's EOF.
        self.lingering = False
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._host: str | None = None
        self._url = b""
        self._body: list[bytes] = []
        self._received = 0
        self._authorization: bytes | None = None
        self._expect_continue = False
        self._headers_done = False
        self._status = 0  # answer with this status once the request is read (bad path)
        self._too_large = False
        self._read_all = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are Transports without inheriting from asyncio's class.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._host = peer[0] if isinstance(peer, tuple) else None
        self.listener.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if not self.reading:
            return
        self._received += len(data)
        if self._received > MAX_HEAD_BYTES + MAX_BODY_BYTES:
            self._too_large = True
            self._answer()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            log.exception("xml_curl: answering a request failed")
            self._finish(_STATUS[400])
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._finish(_STATUS[400])

    def eof_received(self) -> bool:
        return False  # close

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called for every header: the length rules most of them out before any lowering.
        size = len(name)
        if size == 13 and name.lower() == b"authorization":
            self._authorization = value
        elif size == 14 and name.lower() == b"content-length":
            self._too_large = self._too_large or not content_length_ok(value)
        elif size == 6 and name.lower() == b"expect":
            self._expect_continue = value.lower() == b"100-continue"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._url.partition(b"?")[0] != _PATH:
            self._status = 404
        elif self._too_large:
            # Declared over the limit: answered now, the body is never read.
            self._answer()
        elif self._expect_continue and self._transport is not None:
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if not self._too_large:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._read_all = True
        self._answer()

    # answering

    def _answer(self) -> None:
        if not self.reading:
            return
        self.reading = False
        started = time.perf_counter()
        if not self._headers_done:
            self._finish(_STATUS[400])
            return
        if self._status:
            self._finish(_STATUS[self._status])
            return
        endpoint = self.listener.endpoint
        status = endpoint.refusal(self._host, self._authorization)
        if status:
            self._finish(_STATUS[status])
            return
        if self._too_large:
            lookup = INVALID
        else:
            body = b"".join(self._body)
            query = self._url.partition(b"?")[2]
            lookup = parse_lookup(query + b"&" + body if query else body)
        document = endpoint.answer_cached(lookup, started)
        if document is not None:
            self._finish(_response(document))
            return
        task = asyncio.get_running_loop().create_task(self._answer_later(lookup, started))
        self.listener.tasks.add(task)
        task.add_done_callback(self.listener.tasks.discard)

    async def _answer_later(self, lookup: Lookup, started: float) -> None:
        self._finish(_response(await self.listener.endpoint.answer(lookup, started)))

    def _finish(self, response: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self.reading = False
        transport.write(response)
        if not self._read_all and transport.can_write_eof():
            # Closing with unread input would reset the connection, and the answer with it:
            # half-close, and drop the rest of the input until the client closes (or times out).
            self.lingering = True
            self.opened = time.monotonic()
            transport.write_eof()
        else:
            transport.close()
