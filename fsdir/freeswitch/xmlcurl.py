"""The mod_xml_curl endpoint: access check, request → lookup → document, metrics, one DEBUG line.

``Endpoint`` is shared by the two front doors: ``XmlCurlMiddleware`` answers
``/freeswitch/directory`` on the main (ASGI) port before Starlette's router, and
``fsdir.freeswitch.listener`` serves a dedicated port. Every answer to an allowed client is HTTP 200
with a FreeSWITCH document; when the database is slow or failing, the not-found document within
the timeout (FreeSWITCH then falls back to its own files, as it would on any error).

Nothing from the request body reaches a log: not the ``sip_auth_*`` fields, not a password. The
DEBUG line holds the kind, domain, user or group, outcome and time only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from fsdir.config import Settings
from fsdir.freeswitch.access import AccessPolicy
from fsdir.freeswitch.doc_cache import Document, DocumentCache, Generations
from fsdir.freeswitch.documents import NOT_FOUND, UNANSWERABLE, DirectoryDocuments
from fsdir.freeswitch.lookup import INVALID, KIND_LABELS, OUTCOME_LABELS, Kind, Lookup, Outcome, parse_lookup
from fsdir.metrics import LookupMetrics, row_size

PATH = "/freeswitch/directory"
# FreeSWITCH's bodies are a few KB (an IP-auth lookup carries all the channel's variables).
MAX_BODY_BYTES = 256 * 1024
CONTENT_TYPE = b"text/xml"
# A database that keeps failing would otherwise log a line per lookup.
_WARNING_INTERVAL = 10.0
# One process's row of lookup counters.
ROW_DOUBLES = row_size(KIND_LABELS, OUTCOME_LABELS)

log = logging.getLogger("fsdir.xmlcurl")


class Endpoint:
    def __init__(self, documents: DirectoryDocuments, access: AccessPolicy, metrics: LookupMetrics) -> None:
        self.documents = documents
        self.access = access
        self.metrics = metrics
        self._warned_at = -_WARNING_INTERVAL
        self._unwarned = 0

    def refusal(self, host: str | None, authorization: bytes | None) -> int:
        """0 for an allowed client, else the status to answer with (and no data)."""
        status = self.access.check(host, authorization)
        if status:
            self.metrics.refused(status)
            self.metrics.lookup(Kind.UNKNOWN, Outcome.REFUSED, 0.0)
            log.debug("xml_curl refused %d", status)
        return status

    def answer_cached(self, lookup: Lookup, started: float) -> Document | None:
        """The answer when no database read is needed (a cache hit), else None."""
        document = self.documents.cached(lookup)
        if document is None:
            return None
        if lookup.kind not in UNANSWERABLE:
            self.metrics.cache_hit()
        self._done(lookup, Outcome.FOUND if document.found else Outcome.NOT_FOUND, started)
        return document

    async def answer(self, lookup: Lookup, started: float) -> Document:
        """The answer read from the database; the not-found document on a timeout or an error."""
        self.metrics.cache_miss()
        try:
            document = await self.documents.load(lookup)
        except TimeoutError:
            self._warn("xml_curl %s lookup timed out after %.1f s", lookup.kind.label, self.documents.timeout)
            document, outcome = NOT_FOUND, Outcome.TIMEOUT
        except Exception as exc:
            # The error's type only: its text could quote the request's values.
            self._warn("xml_curl %s lookup failed: %s", lookup.kind.label, type(exc).__name__)
            document, outcome = NOT_FOUND, Outcome.ERROR
        else:
            outcome = Outcome.FOUND if document.found else Outcome.NOT_FOUND
        cache = self.documents.cache
        self.metrics.cache_size(len(cache), cache.size)
        self._done(lookup, outcome, started)
        return document

    def _done(self, lookup: Lookup, outcome: Outcome, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.metrics.lookup(lookup.kind, outcome, elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "xml_curl %s domain=%r name=%r %s in %.2f ms",
                lookup.kind.label,
                lookup.domain,
                lookup.name,
                outcome.label,
                elapsed * 1000,
            )

    def _warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._warned_at < _WARNING_INTERVAL:
            self._unwarned += 1
            return
        if self._unwarned:
            message += f" (and {self._unwarned} more in the last {_WARNING_INTERVAL:.0f} s)"
        log.warning(message, *args)
        self._warned_at, self._unwarned = now, 0


def build_endpoint(
    settings: Settings,
    engine: AsyncEngine,
    generations: memoryview | None = None,
    metrics_row: memoryview[float] | None = None,
) -> Endpoint:
    """An endpoint with its own cache; counters in plain memory, or in the shared file's views."""
    cache = DocumentCache(Generations(generations), settings.xmlcurl_cache_mb * 1024 * 1024)
    documents = DirectoryDocuments(
        engine,
        cache,
        a1_hash=settings.xmlcurl_a1_hash,
        all_users_group=settings.all_users_group,
        timeout=settings.xmlcurl_timeout,
    )
    access = AccessPolicy(settings.xmlcurl_allow, settings.xmlcurl_user, settings.xmlcurl_password)
    return Endpoint(documents, access, LookupMetrics(KIND_LABELS, OUTCOME_LABELS, metrics_row))


def content_length_ok(value: bytes | None) -> bool:
    return value is None or (value.isdigit() and int(value) <= MAX_BODY_BYTES)


class XmlCurlMiddleware:
    """Answers ``/freeswitch/directory`` as raw ASGI, ahead of Starlette's router and Request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        endpoint: Endpoint = scope["app"].state.xmlcurl.endpoint
        started = time.perf_counter()
        authorization = declared = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                declared = value
        client = scope.get("client")
        status = endpoint.refusal(client[0] if client else None, authorization)
        if status:
            await _respond(send, status, b"")
            return
        body = await _read_body(receive) if content_length_ok(declared) else None
        if body is None:
            lookup = INVALID
        else:
            query: bytes = scope["query_string"]
            lookup = parse_lookup(query + b"&" + body if query else body)
        document = endpoint.answer_cached(lookup, started)
        if document is None:
            document = await endpoint.answer(lookup, started)
        await _respond(send, 200, document.body)


async def _read_body(receive: Receive) -> bytes | None:
    """The body, or None when it is over the limit (or the client left)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_REFUSAL_HEADERS = {
    401: [(b"www-authenticate", b'Basic realm="fsdir"'), (b"content-length", b"0")],
    403: [(b"content-length", b"0")],
}


async def _respond(send: Send, status: int, body: bytes) -> None:
    if status == 200:
        headers = [(b"content-type", CONTENT_TYPE), (b"content-length", b"%d" % len(body))]
    else:
        headers = _REFUSAL_HEADERS[status]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
