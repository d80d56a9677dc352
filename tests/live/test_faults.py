"""The link to FreeSWITCH under faults: refused password, drops, restarts, silence, garbage, load."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from fsdir.freeswitch.esl_frames import Event
from fsdir.freeswitch.fake import read_api_reply
from fsdir.freeswitch.live import LiveState
from fsdir.freeswitch.live_events import load_bootstrap
from tests.live.conftest import (
    ESL,
    NO_ROWS,
    FakeFS,
    Session,
    connected,
    eventually,
    import_xmlcurl_directory,
    live,
    on_loop,
    wait_connected,
    with_fake,
)

REGISTRATIONS = read_api_reply(ESL / "api_show_registrations_as_json.txt")
CHANNELS = read_api_reply(ESL / "api_show_channels_as_json.txt")


def snapshot(client: TestClient) -> dict[str, object]:
    return on_loop(client, lambda: live(client).snapshot())


def bootstrapped(registrations: str, channels: str) -> dict[str, object]:
    state = LiveState()
    load_bootstrap(state, registrations, channels)
    return state.snapshot()


def logins(fake_fs: FakeFS) -> int:
    return sum(line.startswith("auth ") for line in fake_fs.commands())


def sofia(subclass: str, user: str, call_id: str, domain: str = "xmlcurl.test") -> Event:
    contact = f'"" <sip:{user}@127.0.0.1:{call_id}>'
    headers = {"from-user": user, "from-host": domain, "call-id": call_id, "contact": contact}
    return Event({"Event-Name": "CUSTOM", "Event-Subclass": subclass, **headers})


def test_wrong_password_is_logged_retried_with_backoff_and_the_server_keeps_serving(
    sqlite_settings: Settings,
    fake_fs: FakeFS,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = with_fake(sqlite_settings, fake_fs, esl_password="Not-ClueCon")
    with TestClient(create_app(settings)) as client, Session(client) as session:
        eventually(lambda: logins(fake_fs) >= 4, what="four login attempts")
        assert not connected(client)
        assert client.get("/healthz").json() == {"database": "ok", "freeswitch": "disconnected"}
        assert session.ok("[Users] Get_users")["directory_users"] == {}
    refused = [r.getMessage() for r in caplog.records if "refused the password" in r.getMessage()]
    assert refused, "a clear log line"
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+)s", " ".join(refused))]
    assert len(delays) >= 3 and delays[2] > delays[0], delays
    assert all("Not-ClueCon" not in r.getMessage() for r in caplog.records), "the password is never logged"


def test_dropped_mid_frame_reconnects_and_rebuilds(lite_client: TestClient, fake_fs: FakeFS) -> None:
    fake_fs.replay(ESL / "events_json_register.txt")
    eventually(lambda: on_loop(lite_client, lambda: live(lite_client).regs_counter("xmlcurl.test")) == 1)
    fake_fs.set_api("show registrations as json", REGISTRATIONS)
    fake_fs.set_api("show channels as json", CHANNELS)
    fake_fs.call(fake_fs.fake.drop_mid_frame)
    eventually(lambda: logins(fake_fs) == 2 and connected(lite_client), what="a new connection")
    assert snapshot(lite_client) == bootstrapped(REGISTRATIONS, CHANNELS)


def test_restarts_while_registrations_change_never_drift(
    lite_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    session = session_factory(lite_client)
    domain_id, _ = import_xmlcurl_directory(session)

    def counter() -> int:
        return int(session.ok("[Domains][Get] Domains")["domains"][str(domain_id)]["sip_regs_counter"])

    only_2001 = REGISTRATIONS.replace('"row_count":2', '"row_count":1')
    only_2001 = only_2001[: only_2001.index('{"reg_user":"2000"')] + only_2001[only_2001.index('{"reg_user":"2001"') :]
    answers = [(REGISTRATIONS, NO_ROWS), (only_2001, CHANNELS), (NO_ROWS, NO_ROWS), (REGISTRATIONS, CHANNELS)]
    for round_, (registrations, channels) in enumerate(answers, start=1):
        fake_fs.replay(ESL / "events_json_register.txt")
        fake_fs.replay(ESL / "events_json_register_2001.txt")
        eventually(lambda: counter() == 2, what="both registered")
        # FreeSWITCH goes away; when it is back its registrations are different.
        fake_fs.call(fake_fs.fake.stop)
        eventually(lambda: not connected(lite_client), what="the drop to be noticed")
        assert counter() == 0, "nothing is live without FreeSWITCH"
        fake_fs.set_api("show registrations as json", registrations)
        fake_fs.set_api("show channels as json", channels)
        fake_fs.call(fake_fs.fake.start)
        wait_connected(lite_client)
        assert snapshot(lite_client) == bootstrapped(registrations, channels), f"round {round_}"
        assert counter() == len(bootstrapped(registrations, NO_ROWS)["sip"])  # type: ignore[arg-type]


def test_events_during_the_bootstrap_apply_on_top_of_it(lite_client: TestClient, fake_fs: FakeFS) -> None:
    fake_fs.set_api("show registrations as json", REGISTRATIONS)
    fake_fs.call(fake_fs.fake.hold_api, "show channels")
    fake_fs.call(fake_fs.fake.drop_all)
    eventually(lambda: fake_fs.commands().count("api show channels as json") == 2, what="the second bootstrap")
    # 2001 unregisters while FreeSWITCH is still answering `show channels`.
    fake_fs.emit(sofia("sofia::unregister", "2001", "1-2812@127.0.0.1"))
    fake_fs.call(fake_fs.fake.release_api)
    wait_connected(lite_client)
    eventually(lambda: on_loop(lite_client, lambda: live(lite_client).regs_counter("xmlcurl.test")) == 1)
    assert on_loop(lite_client, lambda: live(lite_client).user("xmlcurl.test", "2000").sip_register)


def test_an_api_that_never_answers_times_out_and_the_link_stays_usable(
    sqlite_settings: Settings, fake_fs: FakeFS
) -> None:
    settings = with_fake(sqlite_settings, fake_fs, esl_command_timeout=0.5)
    with TestClient(create_app(settings)) as client, Session(client) as session:
        wait_connected(client)
        fake_fs.call(fake_fs.fake.hold_api, "xml_locate")
        started = time.monotonic()
        assert session.call("[Directory][Import]")["error"] == "freeswitch did not answer"
        assert time.monotonic() - started < 2
        fake_fs.call(fake_fs.fake.release_api)  # its late answer is dropped, not taken for the next one
        assert session.ok("[Directory][Import]")["imported"]["users"] == 2
        assert connected(client) and logins(fake_fs) == 1
        fake_fs.replay(ESL / "events_json_register.txt")
        eventually(lambda: on_loop(client, lambda: live(client).regs_counter("xmlcurl.test")) == 1)


def test_malformed_frames_and_events(
    lite_client: TestClient, fake_fs: FakeFS, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # An event FreeSWITCH would never send: skipped, with a log line; the connection stays.
    fake_fs.emit(Event({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "from-host": "xmlcurl.test"}))
    fake_fs.emit(Event({"Event-Name": "CHANNEL_ANSWER"}))
    # An event whose JSON does not parse: the framing holds, so only it is lost.
    broken = b'{"Event-Name": "CUSTOM", "Event-Subclass": '
    fake_fs.call(
        fake_fs.fake.send_malformed, b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(broken), broken)
    )
    fake_fs.replay(ESL / "events_json_register.txt")
    eventually(lambda: on_loop(lite_client, lambda: live(lite_client).regs_counter("xmlcurl.test")) == 1)
    assert logins(fake_fs) == 1
    assert any("skipped" in r.getMessage() for r in caplog.records)
    # Broken framing: nothing after it can be trusted, so the link starts over.
    fake_fs.call(fake_fs.fake.send_malformed)
    eventually(lambda: logins(fake_fs) == 2 and connected(lite_client), what="a new connection")
    assert snapshot(lite_client) == bootstrapped(NO_ROWS, NO_ROWS)


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def test_a_thousand_events_per_second_for_ten_seconds(
    lite_client: TestClient, fake_fs: FakeFS, session_factory: Callable[[TestClient], Session]
) -> None:
    """Each second registers 500 phones and unregisters the previous second's 500: after each
    second exactly that second's registrations must be there (a lost event of either kind shows)."""
    session = session_factory(lite_client)
    domain_id, _ = import_xmlcurl_directory(session)
    for start in range(3000, 3500, 100):
        session.ok("[Users] Add_new_user", {"id": domain_id, "name": str(start), "bulk": 100})
    watcher = session_factory(lite_client)
    watcher.ok("subscribe", {"events": ["[Users] Get_users", "[Domains][Get] Domains"]})

    def phone(second: int, i: int) -> tuple[str, str]:
        return str(3000 + i), f"{second}-{i}"

    def events_of(second: int) -> list[Event]:
        # Each user's phone goes and comes back: every event changes a user.
        events: list[Event] = []
        for i in range(500):
            if second:
                events.append(sofia("sofia::unregister", *phone(second - 1, i)))
            else:
                events.append(Event({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": f"unknown-{i}"}))
            events.append(sofia("sofia::register", *phone(second, i)))
        return events

    async def emit_paced(events: list[Event]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, event in enumerate(events, start=1):
            await fake_fs.fake.emit(event)
            if n % 50 == 0:
                await asyncio.sleep(max(0.0, start + n / 1000 - loop.time()))

    def registrations() -> set[str]:
        sip = snapshot(lite_client)["sip"]
        assert isinstance(sip, dict)
        return {reg for regs in sip.values() for reg in regs}

    pushes = 0
    baseline = 0
    started = time.monotonic()
    for second in range(10):
        fake_fs.call(emit_paced, events_of(second))
        expected = {phone(second, i)[1] for i in range(500)}
        eventually(lambda wanted=expected: registrations() == wanted, timeout=1.0, what=f"second {second}'s state")
        pushes += watcher.drain()
        if second == 0:
            baseline = rss()
    elapsed = time.monotonic() - started
    assert elapsed < 12, f"fell behind: {elapsed:.1f}s for 10s of events"
    assert logins(fake_fs) == 1
    assert 10 <= pushes < 1000, pushes  # coalesced: tens per second, not one per event
    growth = rss() - baseline
    assert growth < 16 * 1024 * 1024, f"memory grew by {growth / 1e6:.1f} MB"
