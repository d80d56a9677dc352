"""Which commands tell FreeSWITCH about a change, and how they wait for it (no network)."""

from __future__ import annotations

import asyncio

import pytest

from fsdir.directory.changes import ChangeNotice
from fsdir.freeswitch.esl import EslConnectionError, EslTimeoutError
from fsdir.freeswitch.sync import FreeSwitchSync


def notice(users: set[tuple[str, str]] | None = None, gateways: set[str] | None = None) -> ChangeNotice:
    return ChangeNotice(users=users or set(), gateways=gateways or set())


def test_user_flushes_then_killgw_and_one_rescan_per_profile() -> None:
    sync = FreeSwitchSync(["external", "internal"])
    commands = sync.commands_for(notice({("1001", "a.test"), ("1000", "a.test")}, {"gw2", "gw1"}))
    assert commands == [
        "xml_flush_cache id 1000 a.test",
        "xml_flush_cache id 1001 a.test",
        "sofia profile external killgw gw1",
        "sofia profile external killgw gw2",
        "sofia profile external rescan",
        "sofia profile internal killgw gw1",
        "sofia profile internal killgw gw2",
        "sofia profile internal rescan",
    ]
    assert sync.commands_for(notice(set(), set())) == []


def test_many_users_at_once_is_one_full_flush_and_unnameable_names_are_skipped() -> None:
    sync = FreeSwitchSync(["external"], full_flush_at=3)
    assert sync.commands_for(notice({(str(n), "a.test") for n in range(4)})) == ["xml_flush_cache"]
    assert sync.commands_for(notice({("a b", "a.test"), ("1000", "a.test")}, {"bad\nname"})) == [
        "xml_flush_cache id 1000 a.test"
    ]


def test_queue_keeps_order_merges_repeats_and_overflows_into_a_full_reload() -> None:
    sync = FreeSwitchSync(["external"], max_pending=6)
    sync.notice(notice({("1000", "a.test")}))
    sync.notice(notice(gateways={"gw1"}))
    sync.notice(notice({("1000", "a.test")}))
    assert sync.pending == [
        "sofia profile external killgw gw1",
        "sofia profile external rescan",
        "xml_flush_cache id 1000 a.test",
    ]
    sync.notice(notice({(str(n), "a.test") for n in range(4)}))
    assert sync.pending == ["xml_flush_cache", "sofia profile external rescan"]


@pytest.mark.anyio
async def test_unsent_commands_stay_queued_in_order() -> None:
    sync = FreeSwitchSync(["external"])
    sent: list[str] = []
    fail_on: set[str] = {"sofia profile external killgw gw1"}

    async def api(command: str) -> str:
        if command in fail_on:
            raise EslTimeoutError("no reply")
        sent.append(command)
        return "+OK\n"

    sync.notice(notice({("1000", "a.test")}, {"gw1"}))
    assert not await sync.send_pending(api)
    assert sent == ["xml_flush_cache id 1000 a.test"]
    assert sync.pending == ["sofia profile external killgw gw1", "sofia profile external rescan"]
    fail_on.clear()
    assert await sync.send_pending(api)
    assert sent[1:] == ["sofia profile external killgw gw1", "sofia profile external rescan"] and not sync.pending


@pytest.mark.anyio
async def test_a_change_arriving_while_its_command_is_on_the_wire_sends_it_again() -> None:
    sync = FreeSwitchSync(["external"])
    sent: list[str] = []

    async def api(command: str) -> str:
        if not sent:
            # The same user changes again after the flush left but before FreeSWITCH answered.
            sync.notice(notice({("1000", "a.test")}))
        sent.append(command)
        return "+OK cleared 1 entry\n"

    sync.notice(notice({("1000", "a.test")}))
    assert await sync.send_pending(api)
    assert sent == ["xml_flush_cache id 1000 a.test"] * 2


@pytest.mark.anyio
async def test_background_sender_waits_for_a_connection() -> None:
    sync = FreeSwitchSync(["external"], retry_delay=0.01)
    up = False
    sent: list[str] = []

    async def api(command: str) -> str:
        if not up:
            raise EslConnectionError("freeswitch not connected")
        sent.append(command)
        return "+OK\n"

    sync.start(lambda: up, api)
    try:
        sync.notice(notice({("1000", "a.test")}))
        await asyncio.sleep(0.05)
        assert sent == [] and sync.pending
        up = True
        async with asyncio.timeout(2):
            while not sent:
                await asyncio.sleep(0.01)
        assert sent == ["xml_flush_cache id 1000 a.test"]
    finally:
        await sync.close()
