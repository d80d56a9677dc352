"""Event Socket framing, sans-IO: parse and build the frames FreeSWITCH sends.

A frame is `Name: value` header lines ended by an empty line (LF only); when it carries
`Content-Length: N`, exactly N body bytes follow. Events travel as the body of a
`text/event-plain` or `text/event-json` frame and are decoded into one `Event` type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

EventFormat = Literal["plain", "json"]

# Exactly what FreeSWITCH sends on a wrong password, `exit` or shutdown (67 bytes).
DISCONNECT_NOTICE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

# A FreeSWITCH array header in its plain form: `ARRAY::first|:second`.
ARRAY_PREFIX = "ARRAY::"
ARRAY_SEPARATOR = "|:"

# Bytes that switch_url_encode escapes besides controls and non-ASCII (SWITCH_URL_UNSAFE).
_URL_UNSAFE = frozenset(b'\r\n "#%&+:;<=>?@[\\]^`{|}')
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class FrameError(ValueError):
    """Bytes that break the Event Socket framing or an event that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One Event Socket frame: ordered headers and an optional body."""

    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first header called `name` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def content_type(self) -> str | None:
        return self.get("Content-Type")

    @property
    def reply_text(self) -> str | None:
        return self.get("Reply-Text")

    @property
    def text(self) -> str:
        """The body as text ('' when there is none)."""
        return self.body.decode("utf-8", "replace") if self.body is not None else ""

    def encode(self) -> bytes:
        """The frame's bytes, headers in their order, as FreeSWITCH writes them."""
        head = "".join(f"{name}: {value}\n" for name, value in self.headers).encode()
        return head + b"\n" + (self.body or b"")


class FrameParser:
    """Incremental frame parser: feed it bytes as they arrive, it yields whole frames.

    A frame whose body has not fully arrived is held until more bytes come. After a
    `FrameError` the stream cannot be resynchronised, so every later call raises again.
    """

    def __init__(self, *, max_header_bytes: int = 64 * 1024, max_body_bytes: int = 256 * 1024 * 1024) -> None:
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._pos = 0
        self._scan_from = 0  # where to resume looking for the blank line ending the headers
        self._pending: tuple[tuple[tuple[str, str], ...], int, int] | None = None  # headers, length, header bytes
        self._error: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a frame."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes) -> Iterator[Frame]:
        """Add `data` and iterate the frames now complete (consume it before feeding again)."""
        if self._pos:
            del self._buffer[: self._pos]
            self._scan_from = max(0, self._scan_from - self._pos)
            self._pos = 0
        self._buffer += data
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        buf = self._buffer
        while True:
            if self._error is not None:
                raise FrameError(self._error)
            if self._pending is None:
                # FreeSWITCH never sends blank lines between frames; tolerate them anyway.
                while self._pos < len(buf) and buf[self._pos] == 0x0A:
                    self._pos += 1
                end = buf.find(b"\n\n", max(self._pos, self._scan_from))
                if end < 0:
                    if len(buf) - self._pos > self._max_header_bytes:
                        self._fail(f"header block longer than {self._max_header_bytes} bytes")
                    self._scan_from = max(self._pos, len(buf) - 1)
                    return
                headers = self._parse_headers(bytes(buf[self._pos : end]))
                length = self._content_length(headers)
                if length is None:
                    self._pos = self._scan_from = end + 2
                    yield Frame(headers)
                    continue
                self._pending = (headers, length, end + 2 - self._pos)
            # The frame start stays at _pos until the body is complete.
            headers, length, head_size = self._pending
            start = self._pos + head_size
            if len(buf) - start < length:
                return
            self._pos = self._scan_from = start + length
            self._pending = None
            yield Frame(headers, bytes(buf[start : self._pos]))

    def _fail(self, message: str) -> None:
        self._error = message
        raise FrameError(message)

    def _parse_headers(self, block: bytes) -> tuple[tuple[str, str], ...]:
        headers: list[tuple[str, str]] = []
        for raw in block.split(b"\n"):
            line = raw.decode("utf-8", "replace")
            name, sep, value = line.partition(":")
            if not sep or not name:
                self._fail(f"header line without a name: {line[:80]!r}")
            headers.append((name, value.removeprefix(" ")))
        return tuple(headers)

    def _content_length(self, headers: tuple[tuple[str, str], ...]) -> int | None:
        value = Frame(headers).get("Content-Length")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            self._fail(f"invalid Content-Length: {value[:40]!r}")
        length = int(value)
        if length > self._max_body_bytes:
            self._fail(f"Content-Length {length} exceeds {self._max_body_bytes}")
        return length


def parse_frames(data: bytes) -> list[Frame]:
    """Every frame of a complete byte string; trailing partial data is a `FrameError`."""
    parser = FrameParser()
    frames = list(parser.feed(data))
    if parser.buffered:
        raise FrameError(f"{parser.buffered} bytes of an incomplete frame at the end")
    return frames


@dataclass(frozen=True, slots=True)
class Event:
    """A FreeSWITCH event, whichever format it arrived in.

    Header values are plain text; an array header keeps FreeSWITCH's plain form
    `ARRAY::a|:b`. `Content-Length` is framing, so it is not among the headers.
    """

    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


def decode_plain_event(payload: bytes) -> Event:
    """Decode a `text/event-plain` body: url-encoded header lines, then an optional body."""
    head, sep, rest = payload.partition(b"\n\n")
    if not sep:
        raise FrameError("plain event without the blank line ending its headers")
    headers: dict[str, str] = {}
    body_length: int | None = None
    for raw in head.split(b"\n"):
        name, colon, value = raw.decode("utf-8", "replace").partition(": ")
        if not colon:
            raise FrameError(f"plain event header line without ': ': {raw[:80]!r}")
        if name == "Content-Length":
            if not (value.isascii() and value.isdigit()):
                raise FrameError(f"invalid event Content-Length: {value[:40]!r}")
            body_length = int(value)
        else:
            headers[name] = unquote(value)
    body: str | None = None
    if body_length is not None:
        if len(rest) != body_length:
            raise FrameError(f"event body is {len(rest)} bytes, Content-Length says {body_length}")
        body = rest.decode("utf-8", "replace")
    elif rest:
        raise FrameError("plain event has bytes after its headers but no Content-Length")
    return _checked(Event(headers, body))


def decode_json_event(payload: bytes) -> Event:
    """Decode a `text/event-json` body: one JSON object, the event body under `_body`."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"json event is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise FrameError("json event is not a JSON object")
    body = obj.pop("_body", None)
    if body is not None:
        if not isinstance(body, str):
            raise FrameError("json event _body is not a string")
        obj.pop("Content-Length", None)
    headers: dict[str, str] = {}
    for name, value in obj.items():
        if isinstance(value, str):
            headers[name] = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            headers[name] = ARRAY_PREFIX + ARRAY_SEPARATOR.join(value)
        else:
            raise FrameError(f"json event header {name!r} is neither a string nor a list of strings")
    return _checked(Event(headers, body))


def _checked(event: Event) -> Event:
    if not event.name:
        raise FrameError("event without Event-Name")
    return event


def decode_event(frame: Frame) -> Event:
    """Decode an event frame (`text/event-plain` or `text/event-json`)."""
    content_type = frame.content_type
    if content_type == "text/event-plain":
        return decode_plain_event(frame.body or b"")
    if content_type == "text/event-json":
        return decode_json_event(frame.body or b"")
    raise FrameError(f"not an event frame we decode: Content-Type {content_type!r}")


def url_encode(value: str) -> str:
    """Encode a header value the way FreeSWITCH does (switch_url_encode, no double encoding)."""
    raw = value.encode()
    out: list[str] = []
    for i, byte in enumerate(raw):
        keep_escape = byte == 0x25 and i + 2 < len(raw) and raw[i + 1] in _HEX and raw[i + 2] in _HEX
        if not keep_escape and (byte < 0x20 or byte > 0x7E or byte in _URL_UNSAFE):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def encode_plain_event(event: Event) -> bytes:
    """The `text/event-plain` body FreeSWITCH would send for `event`."""
    lines = "".join(f"{name}: {url_encode(value)}\n" for name, value in event.headers.items())
    if event.body is None:
        return (lines + "\n").encode()
    body = event.body.encode()
    return (lines + f"Content-Length: {len(body)}\n\n").encode() + body


def encode_json_event(event: Event) -> bytes:
    """The `text/event-json` body FreeSWITCH would send for `event` (compact, not url-encoded)."""
    obj: dict[str, str | list[str]] = {}
    for name, value in event.headers.items():
        if value.startswith(ARRAY_PREFIX):
            obj[name] = value.removeprefix(ARRAY_PREFIX).split(ARRAY_SEPARATOR)
        else:
            obj[name] = value
    if event.body is not None:
        obj["Content-Length"] = str(len(event.body.encode()))
        obj["_body"] = event.body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def event_frame(event: Event, fmt: EventFormat) -> Frame:
    """An event frame; FreeSWITCH puts Content-Length before Content-Type here."""
    payload = encode_plain_event(event) if fmt == "plain" else encode_json_event(event)
    return Frame((("Content-Length", str(len(payload))), ("Content-Type", f"text/event-{fmt}")), payload)


def command_reply_frame(reply_text: str, extra: Iterable[tuple[str, str]] = ()) -> Frame:
    """A `command/reply` frame (`+OK ...` / `-ERR ...`)."""
    return Frame((("Content-Type", "command/reply"), ("Reply-Text", reply_text), *extra))


def api_response_frame(body: bytes) -> Frame:
    """An `api/response` frame; FreeSWITCH puts Content-Type before Content-Length here."""
    return Frame((("Content-Type", "api/response"), ("Content-Length", str(len(body)))), body)


def disconnect_notice_frame() -> Frame:
    return Frame(
        (("Content-Type", "text/disconnect-notice"), ("Content-Length", str(len(DISCONNECT_NOTICE)))),
        DISCONNECT_NOTICE,
    )


def auth_request_frame() -> Frame:
    return Frame((("Content-Type", "auth/request"),))
