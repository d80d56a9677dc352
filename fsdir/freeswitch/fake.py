"""A fake FreeSWITCH Event Socket server for tests (like httpx's MockTransport).

It speaks the framing recorded from FreeSWITCH 1.10.12 byte for byte: the greeting,
`auth`, `api` answered from a table, `bgapi` with its BACKGROUND_JOB event, `event
plain|json` subscriptions (words after `CUSTOM` are subclasses, exactly like FreeSWITCH),
`exit`. Tests emit or replay events and inject faults: dropped connections, half frames,
malformed frames, an `api` that does not answer, a stop and restart on the same port.
Commands on one connection are handled one at a time, as FreeSWITCH does.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

from fsdir.freeswitch.esl_frames import (
    Event,
    EventFormat,
    Frame,
    api_response_frame,
    auth_request_frame,
    command_reply_frame,
    decode_event,
    disconnect_notice_frame,
    event_frame,
    parse_frames,
)

ApiReply = str | Callable[[str], str]

_FORMATS = ("plain", "json", "xml")
_INDEX_ROW = re.compile(r"^\|\s*(api_\S+\.txt)\s*\|\s*\d+\s*\|\s*`api ([^`]+)`\s*\|", re.MULTILINE)


def read_api_reply(path: Path) -> str:
    """The body of the `api/response` frame recorded in `path` (an `api_*.txt` file)."""
    for frame in parse_frames(path.read_bytes()):
        if frame.content_type == "api/response":
            return frame.text
    raise ValueError(f"{path} holds no api/response frame")


def load_recorded_api(esl_dir: Path) -> dict[str, str]:
    """Command → recorded reply body for every `api_*.txt` file listed in `esl_dir/INDEX.md`.

    When a command was recorded more than once, its first recording is kept.
    """
    table: dict[str, str] = {}
    for filename, command in _INDEX_ROW.findall((esl_dir / "INDEX.md").read_text()):
        if command not in table:
            table[command] = read_api_reply(esl_dir / filename)
    return table


@dataclass(frozen=True, slots=True)
class ReceivedCommand:
    """One command as the fake received it."""

    connection: int
    line: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def header(self, name: str) -> str | None:
        return Frame(self.headers).get(name)


class FakeConnection:
    """The server side of one client connection and its subscription."""

    def __init__(self, ident: int, writer: asyncio.StreamWriter) -> None:
        self.id = ident
        self.authenticated = False
        self.event_format: str = "plain"
        self.subscribed = False
        self.all_events = False
        self.event_names: set[str] = set()
        self.subclasses: set[str] = set()
        self._writer = writer

    def wants(self, event: Event) -> bool:
        """Whether FreeSWITCH would deliver `event` to this connection."""
        if not (self.authenticated and self.subscribed and self.event_format in ("plain", "json")):
            return False
        if self.all_events:
            return True
        if event.name not in self.event_names:
            return False
        return event.name != "CUSTOM" or event.subclass is None or event.subclass in self.subclasses

    def send(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        with suppress(ConnectionError):
            await self._writer.drain()

    def close(self) -> None:
        self._writer.close()

    async def wait_closed(self) -> None:
        with suppress(OSError):
            await self._writer.wait_closed()


class FakeFreeSWITCH:
    """An asyncio Event Socket server on 127.0.0.1 behaving like FreeSWITCH 1.10.12."""

    def __init__(
        self,
        *,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        port: int = 0,
        api: Mapping[str, ApiReply] | None = None,
        hostname: str = "fs-test",
    ) -> None:
        self.password = password
        self.host = host
        self.port = port
        self.hostname = hostname
        self.core_uuid = str(uuid.uuid4())
        self.commands: list[ReceivedCommand] = []
        self._api: dict[str, ApiReply] = dict(api or {})
        self._api_prefixes: dict[str, ApiReply] = {}
        self._holds: list[str] = []
        self._release = asyncio.Event()
        self._activity = asyncio.Event()
        self._sequence = 0
        self._next_connection = 0
        self._connections: dict[FakeConnection, asyncio.Task[None]] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self.drop_all()
        if server is not None:
            await server.wait_closed()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> FakeFreeSWITCH:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- configuration ------------------------------------------------------------------

    def set_api(self, command: str, reply: ApiReply, *, prefix: bool = False) -> None:
        """Answer `api <command>` (or any command starting with it when `prefix`) with `reply`,
        a body or a function of the whole command returning one."""
        (self._api_prefixes if prefix else self._api)[command] = reply

    def hold_api(self, prefix: str) -> None:
        """Leave `api` commands starting with `prefix` unanswered until `release_api()`.

        Like FreeSWITCH running a slow API, that connection answers nothing else meanwhile;
        the held reply is sent when released.
        """
        self._holds.append(prefix)

    def release_api(self) -> None:
        self._holds.clear()
        self._release.set()
        self._release = asyncio.Event()

    # -- observation --------------------------------------------------------------------

    @property
    def command_lines(self) -> list[str]:
        return [command.line for command in self.commands]

    @property
    def connections(self) -> list[FakeConnection]:
        return list(self._connections)

    def subscribers(self) -> list[FakeConnection]:
        return [conn for conn in self._connections if conn.authenticated and conn.subscribed]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds; it is checked after every change the fake sees."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._activity.wait()

    async def wait_for_command(self, line: str, timeout: float = 5.0) -> ReceivedCommand:
        """Wait until the command `line` has arrived and return it (the latest one)."""
        await self.wait_until(lambda: line in self.command_lines, timeout)
        return next(cmd for cmd in reversed(self.commands) if cmd.line == line)

    # -- events -------------------------------------------------------------------------

    def make_event(
        self,
        name: str,
        headers: Mapping[str, str] | None = None,
        *,
        subclass: str | None = None,
        body: str | None = None,
        calling: tuple[str, str, int] = ("fake.py", "make_event", 0),
    ) -> Event:
        """An event with FreeSWITCH's standard headers first (Event-Subclass leads, as recorded)."""
        now = time.time()
        self._sequence += 1
        standard = {
            "Event-Name": name,
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "FreeSWITCH-IPv4": "127.0.0.1",
            "FreeSWITCH-IPv6": "::1",
            "Event-Date-Local": datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S"),
            "Event-Date-GMT": format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True),
            "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Calling-File": calling[0],
            "Event-Calling-Function": calling[1],
            "Event-Calling-Line-Number": str(calling[2]),
            "Event-Sequence": str(self._sequence),
        }
        first = {"Event-Subclass": subclass} if subclass is not None else {}
        return Event({**first, **standard, **(headers or {})}, body)

    async def emit(self, event: Event) -> int:
        """Send `event` to every connection subscribed to it; returns how many got it."""
        return await self._deliver(event, None)

    async def replay(self, recording: Path | bytes) -> int:
        """Send every event frame of a recorded `events_*.txt` file (other frames skipped).

        A subscriber in the recorded format gets the recorded bytes; others get the event
        converted. Returns the number of events replayed.
        """
        data = recording if isinstance(recording, bytes) else recording.read_bytes()
        count = 0
        for frame in parse_frames(data):
            if frame.content_type in ("text/event-plain", "text/event-json"):
                await self._deliver(decode_event(frame), frame)
                count += 1
        return count

    async def _deliver(self, event: Event, recorded: Frame | None) -> int:
        encoded: dict[str, bytes] = {}
        if recorded is not None and recorded.content_type is not None:
            encoded[recorded.content_type.removeprefix("text/event-")] = recorded.encode()
        targets = [conn for conn in self._connections if conn.wants(event)]
        for conn in targets:
            fmt: EventFormat = "json" if conn.event_format == "json" else "plain"
            if fmt not in encoded:
                encoded[fmt] = event_frame(event, fmt).encode()
            conn.send(encoded[fmt])
        for conn in targets:
            await conn.drain()
        return len(targets)

    # -- faults -------------------------------------------------------------------------

    async def drop_all(self) -> None:
        """Close every connection at once, without a disconnect notice."""
        for conn in list(self._connections):
            await self._close(conn)

    async def drop_mid_frame(self, frame: bytes | None = None) -> None:
        """Send the first half of a frame (an event frame by default) to every connection,
        then close it."""
        data = frame or event_frame(self.make_event("HEARTBEAT"), "json").encode()
        for conn in list(self._connections):
            conn.send(data[: len(data) // 2])
            await self._close(conn)

    async def send_malformed(self, data: bytes = b"Content-Type: api/response\nContent-Length: twelve\n\n") -> None:
        """Send bytes that break the framing to every connection (which stays open)."""
        for conn in list(self._connections):
            conn.send(data)
            await conn.drain()

    async def send_disconnect_notice(self) -> None:
        """Say goodbye to every connection and close it, as FreeSWITCH does on shutdown."""
        for conn in list(self._connections):
            conn.send(disconnect_notice_frame().encode())
            await self._close(conn)

    # -- protocol -----------------------------------------------------------------------

    def _notify(self) -> None:
        self._activity.set()
        self._activity = asyncio.Event()

    async def _close(self, conn: FakeConnection) -> None:
        conn.close()
        task = self._connections.get(conn)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await conn.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._next_connection += 1
        conn = FakeConnection(self._next_connection, writer)
        self._connections[conn] = task
        self._notify()
        try:
            conn.send(auth_request_frame().encode())
            while (command := await self._read_command(reader, conn.id)) is not None:
                self.commands.append(command)
                self._notify()
                if not await self._execute(conn, command):
                    break
                await conn.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or sent an over-long line: drop it
        except asyncio.CancelledError:
            # Cancelled by _close/stop. Returning normally keeps asyncio's server from
            # logging the cancelled handler as an error (Python 3.11).
            pass
        finally:
            del self._connections[conn]
            conn.close()
            self._notify()

    async def _read_command(self, reader: asyncio.StreamReader, ident: int) -> ReceivedCommand | None:
        """One command: its line, header lines, a blank line (`\\r` tolerated, leading blank
        lines skipped), then a body if it carries Content-Length. None at end of stream."""
        line = ""
        while not line:
            raw = await reader.readline()
            if not raw.endswith(b"\n"):
                return None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
        headers: list[tuple[str, str]] = []
        while True:
            raw = await reader.readline()
            if not raw.endswith(b"\n"):
                return None
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                break
            name, _, value = text.partition(":")
            headers.append((name.strip(), value.strip()))
        command = ReceivedCommand(ident, line, tuple(headers))
        length = command.header("Content-Length")
        if length is not None and length.isdigit():
            return ReceivedCommand(ident, line, tuple(headers), await reader.readexactly(int(length)))
        return command

    async def _execute(self, conn: FakeConnection, command: ReceivedCommand) -> bool:
        """Answer one command; False when the connection must close."""
        word, _, rest = command.line.partition(" ")
        word = word.lower()
        rest = rest.strip()
        if not conn.authenticated:
            if word != "auth":
                conn.send(command_reply_frame("-ERR command not found").encode())
                return True
            if rest != self.password:
                conn.send(command_reply_frame("-ERR invalid").encode() + disconnect_notice_frame().encode())
                await conn.drain()
                return False
            conn.authenticated = True
            self._notify()
            conn.send(command_reply_frame("+OK accepted").encode())
        elif word == "api":
            conn.send(api_response_frame((await self._api_body(rest)).encode()).encode())
        elif word == "bgapi":
            job_uuid = command.header("Job-UUID") or str(uuid.uuid4())
            conn.send(command_reply_frame(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]).encode())
            job = asyncio.create_task(self._background_job(job_uuid, rest))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
        elif word == "event":
            conn.send(command_reply_frame(self._subscribe(conn, rest.split())).encode())
            self._notify()
        elif word == "exit":
            conn.send(command_reply_frame("+OK bye").encode() + disconnect_notice_frame().encode())
            await conn.drain()
            return False
        else:
            conn.send(command_reply_frame("-ERR command not found").encode())
        return True

    async def _api_body(self, command: str) -> str:
        if any(command.startswith(prefix) for prefix in self._holds):
            await self._release.wait()
        reply = self._api.get(command)
        if reply is None:
            prefixes = [prefix for prefix in self._api_prefixes if command.startswith(prefix)]
            if prefixes:
                reply = self._api_prefixes[max(prefixes, key=len)]
        if reply is None:
            return f"-ERR {command.partition(' ')[0]} Command not found!\n"
        body = reply(command) if callable(reply) else reply
        return body or "-ERR no reply\n"

    async def _background_job(self, job_uuid: str, command: str) -> None:
        body = await self._api_body(command)
        name, _, args = command.partition(" ")
        headers = {"Job-UUID": job_uuid, "Job-Command": name}
        if args:
            headers["Job-Command-Arg"] = args
        await self.emit(
            self.make_event("BACKGROUND_JOB", headers, body=body, calling=("mod_event_socket.c", "api_exec", 1572))
        )

    def _subscribe(self, conn: FakeConnection, words: Iterable[str]) -> str:
        """Apply `event [fmt] WORDS...` the way FreeSWITCH does; returns the reply text."""
        words = list(words)
        # Only the first word can name the format.
        if words and words[0].lower() in _FORMATS:
            conn.event_format = words.pop(0).lower()
        if not words:
            return "-ERR no keywords supplied"
        custom = False
        for word in words:
            if custom:
                # FreeSWITCH takes every word after CUSTOM as a subclass, even CHANNEL_CREATE.
                conn.subclasses.add(word)
                continue
            name = word.upper()
            if name == "ALL":
                conn.all_events = True
            conn.event_names.add(name)
            custom = name == "CUSTOM"
        conn.subscribed = True
        return f"+OK event listener enabled {conn.event_format}"
