from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsdir.freeswitch.esl_frames import (
    DISCONNECT_NOTICE,
    Event,
    EventFormat,
    Frame,
    FrameError,
    FrameParser,
    api_response_frame,
    command_reply_frame,
    decode_event,
    decode_json_event,
    decode_plain_event,
    disconnect_notice_frame,
    encode_json_event,
    encode_plain_event,
    event_frame,
    parse_frames,
    url_encode,
)

ESL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch" / "esl"
RECORDINGS = sorted(ESL.glob("*.txt"))
PAIRS = [
    (plain, ESL / plain.name.replace("events_plain_", "events_json_"))
    for plain in sorted(ESL.glob("events_plain_*.txt"))
    if (ESL / plain.name.replace("events_plain_", "events_json_")).exists()
]


def events_of(path: Path) -> list[tuple[Frame, Event]]:
    return [
        (frame, decode_event(frame))
        for frame in parse_frames(path.read_bytes())
        if frame.content_type in ("text/event-plain", "text/event-json")
    ]


def test_the_recordings_are_there() -> None:
    assert len(RECORDINGS) == 63
    assert len(PAIRS) == 10


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_every_recording_parses_completely_and_reencodes_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    frames = parse_frames(data)
    assert frames
    assert b"".join(frame.encode() for frame in frames) == data
    for frame in frames:
        assert frame.content_type is not None
        if frame.body is not None:
            assert frame.get("Content-Length") == str(len(frame.body))


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_incremental_parsing_gives_the_same_frames_whatever_the_chunks(chunk: int) -> None:
    for path in RECORDINGS:
        data = path.read_bytes()
        if chunk == 1 and len(data) > 20_000:
            continue
        parser = FrameParser()
        frames: list[Frame] = []
        for start in range(0, len(data), chunk):
            frames.extend(parser.feed(data[start : start + chunk]))
        assert parser.buffered == 0
        assert frames == parse_frames(data), path.name


def test_frame_with_incomplete_body_is_held_until_the_rest_arrives() -> None:
    data = (ESL / "api_status.txt").read_bytes()
    parser = FrameParser()
    assert list(parser.feed(data[:60])) == []
    assert parser.buffered == 60
    [frame] = list(parser.feed(data[60:]))
    assert frame.content_type == "api/response"
    assert frame.text.startswith("UP 0 years")
    assert frame.headers == (("Content-Type", "api/response"), ("Content-Length", "337"))


def test_frames_spanning_feeds_and_several_per_feed() -> None:
    data = (ESL / "bgapi_full_stream.txt").read_bytes()
    parser = FrameParser()
    cut = data.index(b"Content-Type: text/event-plain") + 5
    first = list(parser.feed(data[:cut]))
    rest = list(parser.feed(data[cut:]))
    types = [frame.content_type for frame in first + rest]
    assert types == [
        "auth/request",
        "command/reply",
        "command/reply",
        "command/reply",
        "text/event-plain",
        "command/reply",
        "text/disconnect-notice",
    ]


def test_recorded_frames_have_the_shapes_freeswitch_uses() -> None:
    [greeting] = parse_frames((ESL / "connect_greeting.txt").read_bytes())
    assert greeting == Frame((("Content-Type", "auth/request"),))
    [reply, notice] = parse_frames((ESL / "auth_wrong_password.txt").read_bytes())
    assert reply.reply_text == "-ERR invalid"
    assert notice.body == DISCONNECT_NOTICE and len(DISCONNECT_NOTICE) == 67
    assert notice.encode() == disconnect_notice_frame().encode()
    [ok] = parse_frames((ESL / "auth_ok.txt").read_bytes())
    assert ok.encode() == command_reply_frame("+OK accepted").encode()
    [api] = parse_frames((ESL / "api_no_such_command.txt").read_bytes())
    assert api.encode() == api_response_frame(b"-ERR no_such_command Command not found!\n").encode()
    reply, job = parse_frames((ESL / "bgapi_status.txt").read_bytes())
    job_uuid = "a13402ff-a833-42cf-a593-8bca59bff678"
    assert reply.encode() == command_reply_frame(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]).encode()
    assert [name for name, _ in job.headers] == ["Content-Length", "Content-Type"]


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: api/response\nContent-Length: abc\n\n",
        b"Content-Type: api/response\nContent-Length: -1\n\n",
        b"Content-Type: api/response\nContent-Length: \n\n",
        b"Content-Type: command/reply\nthis line has no colon\n\n",
        b": no name\n\n",
    ],
)
def test_malformed_frames_raise_and_keep_raising(data: bytes) -> None:
    parser = FrameParser()
    with pytest.raises(FrameError):
        list(parser.feed(data))
    with pytest.raises(FrameError):
        list(parser.feed(b"Content-Type: auth/request\n\n"))


def test_limits_are_errors_not_hangs() -> None:
    with pytest.raises(FrameError, match="header block"):
        list(FrameParser(max_header_bytes=100).feed(b"X-Long: " + b"a" * 200))
    with pytest.raises(FrameError, match="exceeds"):
        list(FrameParser(max_body_bytes=10).feed(b"Content-Length: 11\n\n"))
    with pytest.raises(FrameError, match="incomplete"):
        parse_frames(b"Content-Length: 10\n\nabc")


def test_blank_lines_between_frames_are_skipped() -> None:
    frames = parse_frames(b"\nContent-Type: auth/request\n\n\n\nContent-Type: command/reply\nReply-Text: +OK\n\n")
    assert [frame.content_type for frame in frames] == ["auth/request", "command/reply"]


def index_events() -> dict[str, list[str]]:
    """The event list INDEX.md gives for each events_* phase file."""
    rows = re.findall(r"^\| (events_\w+\.txt) \|.*Events: ([^|]+)\|", (ESL / "INDEX.md").read_text(), re.M)
    return {name: [word.strip() for word in words.split(",")] for name, words in rows}


def test_decoded_events_match_the_index() -> None:
    expected = index_events()
    assert len(expected) == 18
    for name, names in expected.items():
        decoded = [event.subclass or event.name for _, event in events_of(ESL / name)]
        assert decoded == names, name


@pytest.mark.parametrize("plain_path,json_path", PAIRS, ids=lambda p: p.name)
def test_plain_and_json_recordings_decode_to_the_same_events(plain_path: Path, json_path: Path) -> None:
    plain = [event for _, event in events_of(plain_path)]
    json_events = [event for _, event in events_of(json_path)]
    assert len(plain) == len(json_events) > 0
    for p, j in zip(plain, json_events, strict=True):
        for key in ("Event-Name", "Event-Subclass", "from-user", "from-host", "Unique-ID", "contact", "Event-Sequence"):
            assert p.get(key) == j.get(key), key
        assert p == j


def test_plain_values_are_url_decoded() -> None:
    [_, register] = [event for _, event in events_of(ESL / "events_plain_register.txt")]
    assert register.name == "CUSTOM"
    assert register.subclass == "sofia::register"
    assert register.headers["contact"] == '"" <sip:2000@127.0.0.1:5071>'
    assert register.headers["call-id"] == "1-2648@127.0.0.1"
    assert register.headers["FreeSWITCH-IPv6"] == "::1"
    assert register.headers["effective_caller_id_name"] == "Extension 2000"
    assert register.body is None
    assert "Content-Length" not in register.headers


def test_event_body_follows_its_own_content_length() -> None:
    [(_, job)] = events_of(ESL / "bgapi_status.txt")
    assert job.name == "BACKGROUND_JOB"
    assert job.headers["Job-UUID"] == "a13402ff-a833-42cf-a593-8bca59bff678"
    assert job.headers["Job-Command"] == "status"
    assert job.body is not None and len(job.body.encode()) == 337
    assert "FreeSWITCH (Version 1.10.12-release  64bit) is ready" in job.body
    assert "Content-Length" not in job.headers
    assert decode_json_event(encode_json_event(job)) == job


def test_json_arrays_take_the_plain_array_form() -> None:
    json_events = [event for _, event in events_of(ESL / "events_json_call.txt")]
    values = [event.headers["variable_DP_MATCH"] for event in json_events if "variable_DP_MATCH" in event.headers]
    assert values and all(value == "ARRAY::2001|:2001" for value in values)


def repeats_a_header(frame: Frame) -> bool:
    """Whether an event repeats a header name (Hangup-Cause in CHANNEL_HANGUP_COMPLETE),
    which the headers dict collapses, so its exact bytes cannot be rebuilt."""
    assert frame.body is not None
    names = re.findall(rb"^([^:\n]+): ", frame.body, re.M) or re.findall(rb'[{,]"([^"]+)":', frame.body)
    return len(names) != len(set(names))


@pytest.mark.parametrize("path", [p for p in RECORDINGS if p.name.startswith("events_")], ids=lambda p: p.name)
def test_events_reencode_exactly_in_both_formats(path: Path) -> None:
    exact = 0
    formats: tuple[EventFormat, ...] = ("plain", "json")
    for frame, event in events_of(path):
        for fmt in formats:
            assert decode_event(event_frame(event, fmt)) == event
        if not repeats_a_header(frame):
            same: EventFormat = "plain" if frame.content_type == "text/event-plain" else "json"
            assert event_frame(event, same) == frame
            exact += 1
    assert exact > 0


@pytest.mark.parametrize("plain_path,json_path", PAIRS, ids=lambda p: p.name)
def test_converting_plain_recordings_gives_the_json_recordings(plain_path: Path, json_path: Path) -> None:
    pairs = list(zip(events_of(plain_path), events_of(json_path), strict=True))
    for (plain_frame, plain_event), (json_frame, _) in pairs:
        if not repeats_a_header(plain_frame):
            assert event_frame(plain_event, "json") == json_frame


def test_url_encode_follows_freeswitch() -> None:
    assert url_encode('"" <sip:2000@127.0.0.1:5071>') == "%22%22%20%3Csip%3A2000%40127.0.0.1%3A5071%3E"
    assert url_encode("Registered(UDP)") == "Registered(UDP)"
    assert url_encode("Fri, 04 Dec") == "Fri,%2004%20Dec"
    assert url_encode("sofia/internal/x;y|z") == "sofia/internal/x%3By%7Cz"
    assert url_encode("é\t") == "%C3%A9%09"
    assert url_encode("50%25 off") == "50%25%20off"  # an existing %XX is not encoded again


def test_event_decoding_errors() -> None:
    with pytest.raises(FrameError):
        decode_json_event(b"{not json")
    with pytest.raises(FrameError):
        decode_json_event(b"[1, 2]")
    with pytest.raises(FrameError):
        decode_json_event(b'{"Event-Name": "X", "n": 1}')
    with pytest.raises(FrameError, match="Event-Name"):
        decode_json_event(b'{"Core-UUID": "x"}')
    with pytest.raises(FrameError):
        decode_plain_event(b"Event-Name: X\n")
    with pytest.raises(FrameError):
        decode_plain_event(b"Event-Name: X\nContent-Length: 5\n\nabc")
    with pytest.raises(FrameError):
        decode_plain_event(b"Event-Name X\n\n")
    with pytest.raises(FrameError, match="not an event frame"):
        decode_event(Frame((("Content-Type", "text/event-xml"),), b"<event/>"))


def test_encoders_build_what_the_decoders_read() -> None:
    event = Event({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "note": "a b:c"}, "body\n")
    assert encode_plain_event(event) == (
        b"Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\nnote: a%20b%3Ac\nContent-Length: 5\n\nbody\n"
    )
    assert decode_plain_event(encode_plain_event(event)) == event
    assert decode_json_event(encode_json_event(event)) == event
    assert event.name == "CUSTOM" and event.subclass == "sofia::register"
