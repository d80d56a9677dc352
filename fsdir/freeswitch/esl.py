"""Inbound Event Socket client (asyncio) and a supervisor that keeps one connection up.

FreeSWITCH answers the commands of one connection in the order it received them, each with
exactly one `command/reply` or `api/response` frame, so replies are matched to a queue of
outstanding commands. A caller that gives up (timeout, cancellation) leaves its slot in
the queue, and the late reply that fills it is dropped instead of reaching the next caller.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing, suppress
from types import TracebackType
from typing import TypeVar

from fsdir.background import stop_task
from fsdir.freeswitch.esl_frames import Event, EventFormat, Frame, FrameError, FrameParser, decode_event

log = logging.getLogger("fsdir.freeswitch.esl")

_T = TypeVar("_T")

EventCallback = Callable[[Event], None]
ConnectHook = Callable[["EslClient"], Awaitable[None]]
EventHandler = Callable[[Event], Awaitable[None]]

_REPLY_TYPES = frozenset({"auth/request", "command/reply", "api/response"})
_EVENT_TYPES = frozenset({"text/event-plain", "text/event-json"})
# `api status`: "FreeSWITCH (Version 1.10.12-release  64bit) is ready";
# `api version`: "FreeSWITCH Version 1.10.12-release+git~... (git ... 64bit)".
_VERSION_RE = re.compile(r"Version\s+(\d[^\s)]*)")


class EslError(Exception):
    """Base class of the Event Socket client's errors."""


class EslConnectionError(EslError, ConnectionError):
    """The connection is closed, lost, or was never made."""


class AuthError(EslError):
    """FreeSWITCH refused the password."""


class EslTimeoutError(EslError, TimeoutError):
    """No reply came within the command's timeout."""


class CommandError(EslError):
    """FreeSWITCH answered a command with `-ERR ...`."""


def subscription_command(events: Iterable[str], fmt: EventFormat = "json") -> str:
    """`event <fmt> NAMES... CUSTOM subclasses...`, whatever order `events` comes in.

    FreeSWITCH reads every word after `CUSTOM` as a subclass, so an event name placed
    after it would silently never be delivered. Subclasses are the names holding `::`.
    """
    names: list[str] = []
    subclasses: list[str] = []
    for word in events:
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(f"invalid event name: {word!r}")
        if word == "CUSTOM":
            continue
        target = subclasses if "::" in word else names
        if word not in target:
            target.append(word)
    if not names and not subclasses:
        raise ValueError("no events to subscribe to")
    words = names + (["CUSTOM", *subclasses] if subclasses else [])
    return f"event {fmt} {' '.join(words)}"


def parse_version(text: str) -> str | None:
    """The FreeSWITCH version named in an `api status` or `api version` reply."""
    match = _VERSION_RE.search(text)
    return match.group(1) if match else None


def _one_line(text: str, what: str) -> None:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be a single line")


class EslClient:
    """One authenticated inbound connection. Build it with `EslClient.connect`.

    Events go to `on_event` (called synchronously by the reader, so it must not block)
    or, without it, to the async iterator `events()`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float = 10.0,
        on_event: EventCallback | None = None,
    ) -> None:
        self.command_timeout = command_timeout
        self.last_event_at: float | None = None
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        # Every inbound connection starts with an auth/request frame: its slot comes first.
        self._greeting: asyncio.Future[Frame] = self._loop.create_future()
        self._pending: deque[asyncio.Future[Frame]] = deque([self._greeting])
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribed: set[str] = set()
        self._close_reason: EslConnectionError | None = None
        self._closed = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_loop(), name="esl-reader")

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        password: str,
        *,
        timeout: float = 10.0,
        command_timeout: float = 10.0,
        on_event: EventCallback | None = None,
    ) -> EslClient:
        """Connect and authenticate; `AuthError` on a wrong password."""
        _one_line(password, "the Event Socket password")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            raise EslTimeoutError(f"connecting to {host}:{port} took more than {timeout:g}s") from None
        client = cls(reader, writer, command_timeout=command_timeout, on_event=on_event)
        try:
            greeting = await client._wait_reply(client._greeting, timeout, "the auth/request greeting")
            if greeting.content_type != "auth/request":
                raise EslError(f"unexpected greeting: Content-Type {greeting.content_type!r}")
            reply = await client._command(f"auth {password}", timeout=timeout, what="auth")
            if reply.reply_text != "+OK accepted":
                raise AuthError(f"FreeSWITCH refused the password ({reply.reply_text})")
        except BaseException:
            await client.close()
            raise
        return client

    @property
    def closed(self) -> bool:
        return self._close_reason is not None

    @property
    def close_reason(self) -> EslConnectionError | None:
        """Why the connection ended (None while it is open)."""
        return self._close_reason

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def api(self, cmd: str, timeout: float | None = None) -> str:
        """Run `api <cmd>` and return the body of its `api/response`."""
        frame = await self._command(f"api {cmd}", timeout=timeout)
        if frame.content_type != "api/response":
            raise CommandError(frame.reply_text or f"unexpected reply {frame.content_type!r} to api {cmd!r}")
        return frame.text

    async def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        """Run `bgapi <cmd>` and return the body of its BACKGROUND_JOB event.

        Subscribes to BACKGROUND_JOB first if needed: FreeSWITCH only delivers the result
        to sockets that listen for it. `timeout` bounds the wait for the job's result.
        """
        if not self._subscribed & {"ALL", "BACKGROUND_JOB"}:
            await self.subscribe(["BACKGROUND_JOB"])
        job_uuid = str(uuid.uuid4())
        result: asyncio.Future[str] = self._loop.create_future()
        self._jobs[job_uuid] = result
        try:
            reply = await self._command(f"bgapi {cmd}", headers=[("Job-UUID", job_uuid)])
            if not (reply.reply_text or "").startswith("+OK"):
                raise CommandError(reply.reply_text or f"unexpected reply to bgapi {cmd!r}")
            return await self._wait_reply(result, timeout, f"bgapi {cmd} (BACKGROUND_JOB {job_uuid})")
        finally:
            self._jobs.pop(job_uuid, None)

    async def subscribe(self, events: Iterable[str], fmt: EventFormat = "json") -> None:
        """Add events to this connection's subscription (see `subscription_command`)."""
        names = list(events)
        reply = await self._command(subscription_command(names, fmt))
        if not (reply.reply_text or "").startswith("+OK"):
            raise CommandError(reply.reply_text or "unexpected reply to the event command")
        self._subscribed.update(names)

    async def command(self, line: str, headers: Iterable[tuple[str, str]] = (), timeout: float | None = None) -> Frame:
        """Send any command and return FreeSWITCH's reply frame as is."""
        return await self._command(line, headers=headers, timeout=timeout)

    async def events(self) -> AsyncGenerator[Event, None]:
        """The events received (when no `on_event` was given), until the connection ends."""
        while (event := await self._queue.get()) is not None:
            yield event

    async def close(self) -> None:
        """Close the connection; pending commands fail with `EslConnectionError`."""
        self._shutdown(EslConnectionError("connection closed by the client"))
        if self._reader_task is not asyncio.current_task():
            self._reader_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader_task
        with suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> EslClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _command(
        self,
        line: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        timeout: float | None = None,
        what: str | None = None,
    ) -> Frame:
        _one_line(line, "an Event Socket command")
        header_lines = ""
        for name, value in headers:
            _one_line(f"{name}{value}", "a command header")
            header_lines += f"{name}: {value}\n"
        if self._close_reason is not None:
            raise EslConnectionError(str(self._close_reason))
        reply: asyncio.Future[Frame] = self._loop.create_future()
        # Queue the slot and write in the same step, so slots and replies stay in order.
        self._pending.append(reply)
        self._writer.write(f"{line}\n{header_lines}\n".encode())
        try:
            await self._writer.drain()
        except OSError as exc:
            reply.cancel()
            raise EslConnectionError(f"sending to FreeSWITCH failed: {exc}") from None
        return await self._wait_reply(reply, timeout, what or line)

    async def _wait_reply(self, future: asyncio.Future[_T], timeout: float | None, what: str) -> _T:
        limit = self.command_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise EslTimeoutError(f"no reply to {what} within {limit:g}s") from None
        finally:
            # Cancelled or timed out: the slot stays queued, its late reply gets dropped.
            future.cancel()

    async def _read_loop(self) -> None:
        parser = FrameParser()
        reason = EslConnectionError("connection closed by FreeSWITCH")
        try:
            while self._close_reason is None:
                data = await self._reader.read(65536)
                if not data:
                    break
                for frame in parser.feed(data):
                    self._dispatch(frame)
                    if self._close_reason is not None:
                        break  # a disconnect notice: nothing after it matters
        except FrameError as exc:
            reason = EslConnectionError(f"malformed frame from FreeSWITCH: {exc}")
        except OSError as exc:
            reason = EslConnectionError(f"connection to FreeSWITCH lost: {exc}")
        self._shutdown(reason)

    def _dispatch(self, frame: Frame) -> None:
        content_type = frame.content_type
        if content_type in _REPLY_TYPES:
            if not self._pending:
                log.warning("reply from FreeSWITCH with no command waiting for it: %s", frame.reply_text)
                return
            slot = self._pending.popleft()
            if not slot.done():
                slot.set_result(frame)
        elif content_type in _EVENT_TYPES:
            self._event(frame)
        elif content_type == "text/disconnect-notice":
            self._shutdown(EslConnectionError("FreeSWITCH sent a disconnect notice"))
        elif content_type == "text/rude-rejection":
            self._shutdown(EslConnectionError(f"FreeSWITCH refused the connection: {frame.text.strip()}"))
        # Anything else (log/data...) is not asked for by this client and is ignored.

    def _event(self, frame: Frame) -> None:
        try:
            event = decode_event(frame)
        except FrameError as exc:
            # The framing is intact, so only this event is lost.
            log.warning("undecodable event from FreeSWITCH skipped: %s", exc)
            return
        self.last_event_at = time.time()
        if event.name == "BACKGROUND_JOB":
            job = self._jobs.get(event.headers.get("Job-UUID", ""))
            if job is not None:
                if not job.done():
                    job.set_result(event.body or "")
                return
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("on_event callback failed for %s", event.subclass or event.name)
        else:
            self._queue.put_nowait(event)

    def _shutdown(self, reason: EslConnectionError) -> None:
        if self._close_reason is not None:
            return
        self._close_reason = reason
        while self._pending:
            slot = self._pending.popleft()
            if not slot.done():
                slot.set_exception(EslConnectionError(str(reason)))
        for job in self._jobs.values():
            if not job.done():
                job.set_exception(EslConnectionError(str(reason)))
        self._queue.put_nowait(None)
        self._writer.close()
        self._closed.set()


class EslConnection:
    """Keeps one Event Socket connection up: connect, authenticate, subscribe, run the
    `on_connect` hook, feed events to `on_event`; after a drop or a failure, retry with
    exponential backoff and jitter. Nothing it logs carries the password.

    `on_connect` receives the new client (use it for commands: `connected` turns true only
    once the hook is done). Events that arrive while the hook runs are queued and handed
    to `on_event` after it, in order.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str] = (),
        event_format: EventFormat = "json",
        on_connect: ConnectHook | None = None,
        on_event: EventHandler | None = None,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        jitter: float = 0.2,
        connect_timeout: float = 10.0,
        command_timeout: float = 10.0,
    ) -> None:
        if not 0 < backoff_min <= backoff_max:
            raise ValueError("need 0 < backoff_min <= backoff_max")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.host = host
        self.port = port
        self._password = password
        self._events = list(events)
        self._event_format: EventFormat = event_format
        self._on_connect = on_connect
        self._on_event = on_event
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._jitter = jitter
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self.version: str | None = None
        self.connect_count = 0
        self._last_event_at: float | None = None
        self._client: EslClient | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ready.is_set() and self._client is not None and not self._client.closed

    @property
    def client(self) -> EslClient | None:
        """The live client, if any (also during `on_connect`)."""
        return self._client if self._client is not None and not self._client.closed else None

    @property
    def last_event_at(self) -> float | None:
        """Unix time of the last event received on any connection."""
        if self._client is not None and self._client.last_event_at is not None:
            return self._client.last_event_at
        return self._last_event_at

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"esl-{self.host}:{self.port}")

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        await stop_task(self._task)
        self._task = None

    async def wait_connected(self, timeout: float | None = None) -> EslClient:
        """Wait until a connection is up and set up; `TimeoutError` otherwise."""
        await asyncio.wait_for(self._ready.wait(), timeout)
        assert self._client is not None  # _ready is only set while a client is current
        return self._client

    async def api(self, cmd: str, timeout: float | None = None) -> str:
        return await self._require().api(cmd, timeout)

    async def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        return await self._require().bgapi(cmd, timeout)

    async def __aenter__(self) -> EslConnection:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _require(self) -> EslClient:
        client = self.client
        if client is None:
            raise EslConnectionError("freeswitch not connected")
        return client

    def _backoff(self, failures: int) -> float:
        base = min(self._backoff_max, self._backoff_min * (1 << min(failures, 32)))
        return base * (1 - self._jitter * random.random())

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                client = await self._open()
            except Exception as exc:  # the on_connect hook may raise anything
                reason = f"cannot connect: {type(exc).__name__}: {exc}"
            else:
                failures = 0
                try:
                    await self._serve(client)
                finally:
                    await client.close()
                    self._ready.clear()
                    self._last_event_at = self.last_event_at
                    self._client = None
                reason = f"connection lost: {client.close_reason}"
            delay = self._backoff(failures)
            log.warning("FreeSWITCH %s:%d: %s; retrying in %.2fs", self.host, self.port, reason, delay)
            await asyncio.sleep(delay)
            failures += 1

    async def _open(self) -> EslClient:
        client = await EslClient.connect(
            self.host,
            self.port,
            self._password,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
        )
        try:
            if self._events:
                await client.subscribe(self._events, self._event_format)
            with suppress(CommandError):
                self.version = parse_version(await client.api("status")) or self.version
            self._client = client
            if self._on_connect is not None:
                await self._on_connect(client)
        except BaseException:
            self._client = None
            await client.close()
            raise
        self.connect_count += 1
        self._ready.set()
        log.info("FreeSWITCH %s:%d: connected (version %s)", self.host, self.port, self.version or "unknown")
        return client

    async def _serve(self, client: EslClient) -> None:
        async with aclosing(client.events()) as events:
            async for event in events:
                if self._on_event is None:
                    continue
                try:
                    await self._on_event(event)
                except Exception:
                    log.exception("handling FreeSWITCH event %s failed", event.subclass or event.name)
