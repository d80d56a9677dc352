"""The fake FreeSWITCH, seen through a raw socket: its bytes must be the recorded ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fsdir.freeswitch.esl_frames import Frame, FrameParser, decode_event, disconnect_notice_frame, parse_frames
from fsdir.freeswitch.fake import FakeFreeSWITCH, load_recorded_api, read_api_reply

ESL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch" / "esl"
CHANNEL_FIRST = (
    "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE "
    "CUSTOM sofia::register sofia::unregister sofia::expire sofia::pre_register"
)
CUSTOM_FIRST = (
    "CUSTOM sofia::register sofia::unregister sofia::expire sofia::pre_register "
    "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE"
)


def recorded(name: str) -> bytes:
    return (ESL / name).read_bytes()


class Raw:
    """A bare socket client that keeps every byte it receives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = FrameParser()
        self.frames: list[Frame] = []

    async def send(self, command: str) -> None:
        self.writer.write(f"{command}\n\n".encode())
        await self.writer.drain()

    async def read_bytes(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), 5)

    async def frame(self) -> Frame:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            assert data, "connection closed"
            self.frames.extend(self.parser.feed(data))
        return self.frames.pop(0)

    async def read_to_eof(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(), 5)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSWITCH]:
    async with FakeFreeSWITCH(api=load_recorded_api(ESL)) as server:
        yield server


async def connect(fake: FakeFreeSWITCH, *, auth: bool = True) -> Raw:
    reader, writer = await asyncio.open_connection(fake.host, fake.port)
    raw = Raw(reader, writer)
    assert await raw.read_bytes(28) == recorded("connect_greeting.txt")
    if auth:
        await raw.send("auth ClueCon")
        assert await raw.read_bytes(54) == recorded("auth_ok.txt")
    return raw


@pytest.mark.anyio
async def test_greeting_and_auth_are_the_recorded_bytes(fake: FakeFreeSWITCH) -> None:
    raw = await connect(fake)
    await raw.close()
    assert fake.port > 0 and fake.host == "127.0.0.1"


@pytest.mark.anyio
async def test_wrong_password_gets_the_recorded_refusal_then_close(fake: FakeFreeSWITCH) -> None:
    raw = await connect(fake, auth=False)
    await raw.send("auth WrongPassword")
    assert await raw.read_to_eof() == recorded("auth_wrong_password.txt")
    await raw.close()


@pytest.mark.anyio
async def test_commands_before_auth_are_refused(fake: FakeFreeSWITCH) -> None:
    raw = await connect(fake, auth=False)
    await raw.send("api status")
    assert (await raw.frame()).reply_text == "-ERR command not found"
    await raw.send("auth ClueCon")
    assert (await raw.frame()).reply_text == "+OK accepted"
    await raw.close()


@pytest.mark.anyio
async def test_api_replies_from_recordings_are_byte_exact(fake: FakeFreeSWITCH) -> None:
    table = load_recorded_api(ESL)
    assert table["xml_flush_cache id 2000 xmlcurl.test"] == "+OK cleared 1 entry\n"
    assert table["status"] == read_api_reply(ESL / "api_status.txt")
    raw = await connect(fake)
    for name, command in [
        ("api_status.txt", "status"),
        ("api_show_registrations_as_json.txt", "show registrations as json"),
        ("api_xml_locate_directory.txt", "xml_locate directory"),
        ("api_user_data_param_password.txt", "user_data 2000@xmlcurl.test param password"),
        ("api_xml_flush_cache.txt", "xml_flush_cache id 2000 xmlcurl.test"),
        ("api_no_such_command.txt", "no_such_command"),
    ]:
        await raw.send(f"api {command}")
        expected = recorded(name)
        assert await raw.read_bytes(len(expected)) == expected, name
    await raw.close()


@pytest.mark.anyio
async def test_api_table_exact_prefix_callable_and_unknown(fake: FakeFreeSWITCH) -> None:
    fake.set_api("sofia profile", "prefix\n", prefix=True)
    fake.set_api("sofia profile internal", lambda cmd: f"longer prefix for {cmd}\n", prefix=True)
    fake.set_api("empty", "")
    raw = await connect(fake)
    for command, body in [
        ("sofia profile external killgw gw-x", "prefix\n"),
        ("sofia profile internal rescan", "longer prefix for sofia profile internal rescan\n"),
        ("sofia profile external rescan", read_api_reply(ESL / "api_sofia_profile_external_rescan.txt")),
        ("sofia status", read_api_reply(ESL / "api_sofia_status.txt")),
        ("empty", "-ERR no reply\n"),
        ("frobnicate now", "-ERR frobnicate Command not found!\n"),
    ]:
        await raw.send(f"api {command}")
        frame = await raw.frame()
        assert [name for name, _ in frame.headers] == ["Content-Type", "Content-Length"]
        assert frame.text == body
    await raw.close()


@pytest.mark.anyio
async def test_every_command_is_recorded(fake: FakeFreeSWITCH) -> None:
    raw = await connect(fake)
    await raw.send("api xml_flush_cache id 1000 example.com")
    await raw.frame()
    command = await fake.wait_for_command("api xml_flush_cache id 1000 example.com")
    assert command.connection == fake.connections[0].id
    assert fake.command_lines == ["auth ClueCon", "api xml_flush_cache id 1000 example.com"]
    await raw.close()


@pytest.mark.anyio
async def test_subscription_replies_are_the_recorded_bytes(fake: FakeFreeSWITCH) -> None:
    for fmt, words, name in [
        ("plain", CHANNEL_FIRST, "event_plain_subscribe_reply.txt"),
        ("json", CHANNEL_FIRST, "event_json_subscribe_reply.txt"),
        ("plain", CUSTOM_FIRST, "event_plain_custom_first_subscribe_reply.txt"),
        ("plain", "BACKGROUND_JOB", "event_plain_background_job_subscribe_reply.txt"),
    ]:
        raw = await connect(fake)
        await raw.send(f"event {fmt} {words}")
        expected = recorded(name)
        assert await raw.read_bytes(len(expected)) == expected
        await raw.close()
    raw = await connect(fake)
    await raw.send("event json")
    assert (await raw.frame()).reply_text == "-ERR no keywords supplied"
    await raw.close()


async def subscriber(fake: FakeFreeSWITCH, fmt: str, words: str) -> Raw:
    raw = await connect(fake)
    await raw.send(f"event {fmt} {words}")
    assert (await raw.frame()).reply_text == f"+OK event listener enabled {fmt}"
    return raw


async def received_events(raw: Raw, n: int) -> list[Frame]:
    return [await raw.frame() for _ in range(n)]


@pytest.mark.anyio
async def test_replay_sends_recorded_bytes_or_converts(fake: FakeFreeSWITCH) -> None:
    plain = await subscriber(fake, "plain", CHANNEL_FIRST)
    as_json = await subscriber(fake, "json", CHANNEL_FIRST)
    assert await fake.replay(ESL / "events_plain_register.txt") == 2
    expected_plain = recorded("events_plain_register.txt")
    expected_json = recorded("events_json_register.txt")
    assert await plain.read_bytes(len(expected_plain)) == expected_plain
    assert await as_json.read_bytes(len(expected_json)) == expected_json
    await plain.close()
    await as_json.close()


@pytest.mark.anyio
async def test_words_after_custom_are_subclasses_like_freeswitch(fake: FakeFreeSWITCH) -> None:
    custom_first = await subscriber(fake, "plain", CUSTOM_FIRST)
    channel_first = await subscriber(fake, "json", CHANNEL_FIRST)
    assert await fake.replay(ESL / "events_json_call.txt") == 8
    # Recorded: with CUSTOM first FreeSWITCH delivered no CHANNEL_* event at all.
    [only] = await received_events(custom_first, 1)
    assert decode_event(only).subclass == "sofia::pre_register"
    everything = await received_events(channel_first, 8)
    assert [decode_event(f).name for f in everything].count("CHANNEL_CREATE") == 2
    await fake.emit(fake.make_event("CUSTOM", {"x": "1"}, subclass="sofia::register"))
    [register] = await received_events(custom_first, 1)
    assert decode_event(register).get("x") == "1"
    recorded_stream = [
        decode_event(frame).subclass
        for frame in parse_frames(recorded("events_plain_custom_first_full_stream.txt"))
        if frame.content_type == "text/event-plain"
    ]
    assert recorded_stream and all(subclass and subclass.startswith("sofia::") for subclass in recorded_stream)
    await custom_first.close()
    await channel_first.close()


@pytest.mark.anyio
async def test_unsubscribed_and_unauthenticated_connections_get_no_events(fake: FakeFreeSWITCH) -> None:
    idle = [await connect(fake, auth=False), await connect(fake)]
    only_channels = await subscriber(fake, "json", "CHANNEL_CREATE")
    everything = await subscriber(fake, "json", "ALL")
    assert len(fake.connections) == 4 and len(fake.subscribers()) == 2
    assert await fake.emit(fake.make_event("CUSTOM", subclass="sofia::register")) == 1
    assert await fake.emit(fake.make_event("CHANNEL_CREATE")) == 2
    assert decode_event(await everything.frame()).subclass == "sofia::register"
    assert decode_event(await everything.frame()).name == "CHANNEL_CREATE"
    assert decode_event(await only_channels.frame()).name == "CHANNEL_CREATE"
    for raw in [*idle, only_channels, everything]:
        await raw.close()


@pytest.mark.anyio
async def test_bgapi_reply_then_background_job_like_the_recording(fake: FakeFreeSWITCH) -> None:
    job_uuid = "a13402ff-a833-42cf-a593-8bca59bff678"
    raw = await subscriber(fake, "plain", "BACKGROUND_JOB")
    raw.writer.write(f"bgapi status\nJob-UUID: {job_uuid}\n\n".encode())
    recorded_reply, recorded_job = parse_frames(recorded("bgapi_status.txt"))
    assert await raw.frame() == recorded_reply
    job = await raw.frame()
    assert [name for name, _ in job.headers] == ["Content-Length", "Content-Type"]
    event, expected = decode_event(job), decode_event(recorded_job)
    assert list(event.headers) == list(expected.headers)
    assert event.headers["Job-UUID"] == job_uuid and event.headers["Job-Command"] == "status"
    assert event.body == read_api_reply(ESL / "api_status.txt")
    await raw.send("bgapi user_exists id 2000 xmlcurl.test")
    reply = await raw.frame()
    job_event = decode_event(await raw.frame())
    assert reply.get("Job-UUID") == job_event.headers["Job-UUID"]
    assert job_event.headers["Job-Command-Arg"] == "id 2000 xmlcurl.test"
    assert job_event.body == "true"
    await raw.close()


@pytest.mark.anyio
async def test_exit_is_the_recorded_goodbye(fake: FakeFreeSWITCH) -> None:
    raw = await connect(fake)
    await raw.send("exit")
    assert await raw.read_to_eof() == recorded("exit.txt")
    await raw.close()


@pytest.mark.anyio
async def test_held_api_blocks_the_connection_until_released(fake: FakeFreeSWITCH) -> None:
    fake.hold_api("status")
    raw = await connect(fake)
    await raw.send("api status")
    await raw.send("api user_exists id 2000 xmlcurl.test")
    await fake.wait_for_command("api status")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(raw.reader.read(1), 0.2)
    fake.release_api()
    assert (await raw.frame()).text.startswith("UP 0 years")
    assert (await raw.frame()).text == "true"
    await raw.close()


@pytest.mark.anyio
async def test_faults(fake: FakeFreeSWITCH) -> None:
    raw = await subscriber(fake, "json", "ALL")
    await fake.drop_mid_frame()
    data = await raw.read_to_eof()
    assert data.startswith(b"Content-Length: ")
    assert list(raw.parser.feed(data)) == [] and raw.parser.buffered == len(data)
    await raw.close()

    raw = await connect(fake)
    await fake.send_malformed()
    malformed = b"Content-Type: api/response\nContent-Length: twelve\n\n"
    assert await raw.read_bytes(len(malformed)) == malformed
    await fake.send_disconnect_notice()
    notice = await raw.read_to_eof()
    assert notice == disconnect_notice_frame().encode() and recorded("exit.txt").endswith(notice)
    await raw.close()

    raw = await connect(fake)
    await fake.drop_all()
    assert await raw.read_to_eof() == b""
    await raw.close()
    await fake.wait_until(lambda: not fake.connections)


@pytest.mark.anyio
async def test_stop_and_restart_on_the_same_port(fake: FakeFreeSWITCH) -> None:
    port = fake.port
    raw = await connect(fake)
    await fake.stop()
    assert await raw.read_to_eof() == b""
    await raw.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(fake.host, port)
    await fake.start()
    assert fake.port == port
    raw = await connect(fake)
    await fake.restart()
    assert fake.port == port
    assert await raw.read_to_eof() == b""
    await raw.close()
    raw = await connect(fake)
    await raw.close()
