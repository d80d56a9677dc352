"""The Event Socket client and its supervisor, against the fake FreeSWITCH on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from fsdir.freeswitch.esl import (
    AuthError,
    EslClient,
    EslConnection,
    EslConnectionError,
    EslTimeoutError,
    parse_version,
    subscription_command,
)
from fsdir.freeswitch.esl_frames import Event, decode_event, parse_frames
from fsdir.freeswitch.fake import FakeFreeSWITCH, load_recorded_api, read_api_reply

ESL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch" / "esl"
LIVE_EVENTS = [
    "CUSTOM",
    "sofia::register",
    "sofia::unregister",
    "CHANNEL_CREATE",
    "sofia::expire",
    "CHANNEL_ANSWER",
    "verto::login",
    "CHANNEL_BRIDGE",
    "verto::client_disconnect",
    "CHANNEL_HANGUP_COMPLETE",
]
LIVE_SUBSCRIPTION = (
    "event json CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE "
    "CUSTOM sofia::register sofia::unregister sofia::expire verto::login verto::client_disconnect"
)
STATUS = read_api_reply(ESL / "api_status.txt")
LOGGER = "fsdir.freeswitch.esl"


def recorded_events(name: str) -> list[Event]:
    return [
        decode_event(frame)
        for frame in parse_frames((ESL / name).read_bytes())
        if frame.content_type in ("text/event-plain", "text/event-json")
    ]


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def take(client: EslClient, n: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(5):
        async for event in client.events():
            events.append(event)
            if len(events) == n:
                break
    return events


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSWITCH]:
    async with FakeFreeSWITCH(api=load_recorded_api(ESL)) as server:
        yield server


@pytest.fixture
async def client(fake: FakeFreeSWITCH) -> AsyncIterator[EslClient]:
    async with await EslClient.connect(fake.host, fake.port, "ClueCon", command_timeout=5) as connected:
        yield connected


def supervisor(fake: FakeFreeSWITCH, **options: Any) -> EslConnection:
    settings: dict[str, Any] = {
        "events": LIVE_EVENTS,
        "backoff_min": 0.02,
        "backoff_max": 0.2,
        "connect_timeout": 2.0,
        "command_timeout": 2.0,
    }
    return EslConnection(fake.host, fake.port, "ClueCon", **(settings | options))


# -- pure helpers -------------------------------------------------------------------------


def test_subscription_puts_event_names_before_custom_and_subclasses() -> None:
    assert subscription_command(LIVE_EVENTS) == LIVE_SUBSCRIPTION
    assert subscription_command(["sofia::register", "BACKGROUND_JOB", "sofia::register"], "plain") == (
        "event plain BACKGROUND_JOB CUSTOM sofia::register"
    )
    assert subscription_command(["ALL"]) == "event json ALL"
    for bad in ([], ["CUSTOM"], ["CHANNEL_CREATE CUSTOM"], [""]):
        with pytest.raises(ValueError):
            subscription_command(bad)


def test_version_from_status_or_version_replies() -> None:
    assert parse_version(STATUS) == "1.10.12-release"
    assert parse_version("FreeSWITCH Version 1.10.12-release+git~20240802~64bit (git 1 2024 64bit)\n") == (
        "1.10.12-release+git~20240802~64bit"
    )
    assert parse_version("-ERR no reply\n") is None


# -- the client ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_api_round_trip_with_recorded_replies(fake: FakeFreeSWITCH, client: EslClient) -> None:
    body = await client.api("show registrations as json")
    assert body == read_api_reply(ESL / "api_show_registrations_as_json.txt")
    assert json.loads(body)["row_count"] == 2
    assert await client.api("xml_flush_cache id 2000 xmlcurl.test") == "+OK cleared 1 entry\n"
    assert await client.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    assert fake.command_lines == [
        "auth ClueCon",
        "api show registrations as json",
        "api xml_flush_cache id 2000 xmlcurl.test",
        "api no_such_command",
    ]
    with pytest.raises(ValueError):
        await client.api("status\n\napi sneaky")


@pytest.mark.anyio
async def test_concurrent_commands_get_their_own_replies(client: EslClient) -> None:
    commands = ["status", "user_exists id 2000 xmlcurl.test", "user_exists id 9999 xmlcurl.test", "reloadacl"] * 5
    replies = await asyncio.gather(*(client.api(command) for command in commands))
    assert replies == [load_recorded_api(ESL)[command] for command in commands]


@pytest.mark.anyio
async def test_wrong_password_is_a_clear_error(fake: FakeFreeSWITCH) -> None:
    with pytest.raises(AuthError) as refused:
        await EslClient.connect(fake.host, fake.port, "WrongPassword")
    assert "-ERR invalid" in str(refused.value)
    assert "WrongPassword" not in str(refused.value)
    await fake.wait_until(lambda: not fake.connections)
    async with await EslClient.connect(fake.host, fake.port, "ClueCon") as client:
        assert await client.api("status") == STATUS


@pytest.mark.anyio
async def test_nobody_listening_is_a_connection_error(fake: FakeFreeSWITCH) -> None:
    await fake.stop()
    with pytest.raises(OSError):
        await EslClient.connect(fake.host, fake.port, "ClueCon")


@pytest.mark.anyio
async def test_bgapi_subscribes_once_and_returns_the_job_body(fake: FakeFreeSWITCH, client: EslClient) -> None:
    assert await client.bgapi("status") == STATUS
    assert fake.command_lines[1:] == ["event json BACKGROUND_JOB", "bgapi status"]
    job_uuid = fake.commands[-1].header("Job-UUID")
    assert job_uuid is not None and str(uuid.UUID(job_uuid)) == job_uuid
    jobs = await asyncio.gather(
        client.bgapi("user_exists id 2000 xmlcurl.test"),
        client.bgapi("user_exists id 9999 xmlcurl.test"),
        client.bgapi("no_such_command"),
    )
    assert list(jobs) == ["true", "false", "-ERR no_such_command Command not found!\n"]
    assert fake.command_lines.count("event json BACKGROUND_JOB") == 1


@pytest.mark.anyio
async def test_subscription_order_and_raw_commands(fake: FakeFreeSWITCH, client: EslClient) -> None:
    await client.subscribe(LIVE_EVENTS)
    assert fake.command_lines[-1] == LIVE_SUBSCRIPTION
    assert (await client.command("frobnicate")).reply_text == "-ERR command not found"
    reply = await client.command("event plain BACKGROUND_JOB")
    assert reply.reply_text == "+OK event listener enabled plain"


@pytest.mark.anyio
async def test_json_and_plain_events_are_delivered(fake: FakeFreeSWITCH, client: EslClient) -> None:
    await client.subscribe([*LIVE_EVENTS, "sofia::pre_register"])
    expected = recorded_events("events_json_call.txt")
    assert await fake.replay(ESL / "events_json_call.txt") == 8
    assert await take(client, 8) == expected
    assert client.last_event_at is not None
    await client.subscribe(["CHANNEL_CREATE"], "plain")
    assert await fake.replay(ESL / "events_json_call.txt") == 8
    assert await take(client, 8) == expected


@pytest.mark.anyio
async def test_events_to_a_callback(fake: FakeFreeSWITCH) -> None:
    seen: list[Event] = []
    async with await EslClient.connect(fake.host, fake.port, "ClueCon", on_event=seen.append) as client:
        await client.subscribe(["sofia::register", "sofia::pre_register"])
        await fake.replay(ESL / "events_plain_register.txt")
        await eventually(lambda: len(seen) == 2)
    assert [event.subclass for event in seen] == ["sofia::pre_register", "sofia::register"]
    assert seen[1].headers["contact"] == '"" <sip:2000@127.0.0.1:5071>'


@pytest.mark.anyio
async def test_timed_out_api_leaves_the_client_usable(fake: FakeFreeSWITCH, client: EslClient) -> None:
    fake.hold_api("sofia status")
    with pytest.raises(EslTimeoutError, match="api sofia status"):
        await client.api("sofia status", timeout=0.2)
    # FreeSWITCH answers in order: the next command waits behind the slow one...
    with pytest.raises(TimeoutError):
        await client.api("status", timeout=0.2)
    following = asyncio.create_task(client.api("user_exists id 2000 xmlcurl.test"))
    await asyncio.sleep(0.1)
    assert not following.done() and not client.closed
    fake.release_api()
    # ...and the late replies are dropped, never taken as the answer to a later command.
    assert await following == "true"
    assert await client.api("status") == STATUS


@pytest.mark.anyio
async def test_cancelled_api_reply_is_dropped(fake: FakeFreeSWITCH, client: EslClient) -> None:
    fake.hold_api("sofia status")
    waiting = asyncio.create_task(client.api("sofia status"))
    await fake.wait_for_command("api sofia status")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    fake.release_api()
    assert await client.api("status") == STATUS


@pytest.mark.anyio
async def test_disconnect_notice_closes_and_fails_pending_commands(fake: FakeFreeSWITCH, client: EslClient) -> None:
    fake.hold_api("status")
    pending = asyncio.create_task(client.api("status"))
    await fake.wait_for_command("api status")
    await fake.send_disconnect_notice()
    with pytest.raises(EslConnectionError):
        await pending
    await client.wait_closed()
    assert "disconnect notice" in str(client.close_reason)
    with pytest.raises(EslConnectionError):
        await client.api("status")


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["drop_all", "drop_mid_frame", "send_malformed"])
async def test_lost_connection_is_noticed(fake: FakeFreeSWITCH, client: EslClient, fault: str) -> None:
    await client.subscribe(["ALL"])
    fake.hold_api("status")
    pending = asyncio.create_task(client.api("status"))
    job = asyncio.create_task(client.bgapi("status", timeout=5))
    await fake.wait_for_command("api status")
    await getattr(fake, fault)()
    for waiting in (pending, job):
        with pytest.raises(EslConnectionError):
            await waiting
    assert client.closed
    assert [event async for event in client.events()] == []
    if fault == "send_malformed":
        assert "malformed frame" in str(client.close_reason)
        fake.release_api()  # the fake, like FreeSWITCH, notices the hang-up once the api is done
        await fake.wait_until(lambda: not fake.connections)
    else:
        assert "closed by FreeSWITCH" in str(client.close_reason)


# -- the supervisor -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_supervisor_connects_subscribes_runs_the_hook_then_events(fake: FakeFreeSWITCH) -> None:
    order: list[str] = []

    async def on_connect(client: EslClient) -> None:
        order.append("reset")
        await fake.replay(ESL / "events_json_register.txt")  # arrives while we rebuild
        order.append("rebuild " + json.loads(await client.api("show registrations as json"))["rows"][0]["reg_user"])

    async def on_event(event: Event) -> None:
        order.append(event.subclass or event.name)

    conn = supervisor(fake, on_connect=on_connect, on_event=on_event)
    assert not conn.connected and conn.version is None and conn.last_event_at is None
    with pytest.raises(EslConnectionError, match="freeswitch not connected"):
        await conn.api("status")
    async with conn:
        await conn.wait_connected(5)
        assert conn.connected and conn.connect_count == 1
        assert conn.version == "1.10.12-release"
        assert fake.command_lines == [
            "auth ClueCon",
            LIVE_SUBSCRIPTION,
            "api status",
            "api show registrations as json",
        ]
        await eventually(lambda: len(order) == 3)
        # Not subscribed to sofia::pre_register, so only sofia::register comes, after the hook.
        assert order == ["reset", "rebuild 2000", "sofia::register"]
        assert conn.last_event_at is not None
        assert await conn.api("user_exists id 2000 xmlcurl.test") == "true"
        assert await conn.bgapi("status") == STATUS
    assert not conn.connected and conn.client is None
    await fake.wait_until(lambda: not fake.connections)


@pytest.mark.anyio
async def test_wrong_password_retries_with_backoff_and_never_logs_it(
    fake: FakeFreeSWITCH, caplog: pytest.LogCaptureFixture
) -> None:
    fake.password = "SomethingElse"
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with supervisor(fake) as conn:
        await fake.wait_until(lambda: fake.command_lines.count("auth ClueCon") >= 4)
        assert not conn.connected
        fake.password = "ClueCon"
        await conn.wait_connected(5)
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert messages and all("ClueCon" not in message and "\n" not in message for message in messages)
    failures = [m for m in messages if "refused the password" in m]
    assert len(failures) >= 4
    delays = [float(re.findall(r"retrying in ([\d.]+)s", m)[0]) for m in failures]
    assert delays[0] <= 0.02 < delays[2] <= 0.08  # doubling from backoff_min, with jitter below
    assert any("connected (version 1.10.12-release)" in m for m in messages)


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["drop_all", "drop_mid_frame", "send_malformed", "send_disconnect_notice"])
async def test_supervisor_reconnects_and_resubscribes(
    fake: FakeFreeSWITCH, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    hooks: list[EslClient] = []
    seen: list[Event] = []

    async def on_connect(client: EslClient) -> None:
        hooks.append(client)

    async def on_event(event: Event) -> None:
        seen.append(event)

    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with supervisor(fake, on_connect=on_connect, on_event=on_event) as conn:
        first = await conn.wait_connected(5)
        await getattr(fake, fault)()
        await eventually(lambda: len(hooks) == 2)
        second = await conn.wait_connected(5)
        assert first.closed and second is not first and conn.connect_count == 2
        subscriptions = [cmd for cmd in fake.commands if cmd.line == LIVE_SUBSCRIPTION]
        assert len(subscriptions) == 2 and subscriptions[0].connection != subscriptions[1].connection
        await fake.replay(ESL / "events_json_unregister.txt")
        await eventually(lambda: len(seen) == 1)
        assert seen[0].subclass == "sofia::unregister"
    lost = [r.getMessage() for r in caplog.records if "connection lost" in r.getMessage()]
    assert len(lost) == 1


@pytest.mark.anyio
async def test_supervisor_survives_freeswitch_restarts_and_hook_failures(fake: FakeFreeSWITCH) -> None:
    attempts: list[int] = []

    async def flaky_hook(client: EslClient) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("rebuild failed")

    async with supervisor(fake, on_connect=flaky_hook) as conn:
        await conn.wait_connected(5)
        assert len(attempts) == 2 and conn.connect_count == 1
        await fake.stop()
        await eventually(lambda: not conn.connected)
        with pytest.raises(EslConnectionError):
            await conn.api("status")
        await asyncio.sleep(0.3)  # a few failed attempts against a closed port
        await fake.start()
        await conn.wait_connected(5)
        assert await conn.api("status") == STATUS
    auths = fake.command_lines.count("auth ClueCon")
    await asyncio.sleep(0.3)
    assert fake.command_lines.count("auth ClueCon") == auths  # closed: no more attempts
    assert not fake.connections


@pytest.mark.anyio
async def test_event_handler_errors_do_not_stop_the_stream(fake: FakeFreeSWITCH) -> None:
    seen: list[str] = []

    async def on_event(event: Event) -> None:
        seen.append(event.name)
        if len(seen) == 1:
            raise ValueError("bad handler")

    async with supervisor(fake, on_event=on_event) as conn:
        await conn.wait_connected(5)
        await fake.replay(ESL / "events_json_originate_user.txt")
        await eventually(lambda: len(seen) == 3)
        assert conn.connected and conn.connect_count == 1


@pytest.mark.anyio
async def test_a_thousand_events_per_second_without_loss(fake: FakeFreeSWITCH) -> None:
    rate, seconds = 1000, 3
    received: list[int] = []

    async def on_event(event: Event) -> None:
        received.append(int(event.headers["Event-Sequence"]))

    create = recorded_events("events_json_call.txt")[1]
    assert create.name == "CHANNEL_CREATE"
    loop = asyncio.get_running_loop()
    async with supervisor(fake, on_event=on_event) as conn:
        await conn.wait_connected(5)
        start = loop.time()
        for i in range(rate * seconds):
            await fake.emit(Event({**create.headers, "Event-Sequence": str(i)}))
            if i % 50 == 49:
                await asyncio.sleep(max(0.0, start + (i + 1) / rate - loop.time()))
        await eventually(lambda: len(received) == rate * seconds, timeout=5)
        assert loop.time() - start < seconds + 1.5
        assert received == list(range(rate * seconds))
        assert conn.connect_count == 1
