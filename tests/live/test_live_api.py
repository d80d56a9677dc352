"""Recorded registrations and calls, replayed by the fake, seen through `[Users] Get_users` and
the pushes a subscribed WebSocket receives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from fsdir.freeswitch.esl_frames import Event
from fsdir.freeswitch.fake import read_api_reply
from tests.live.conftest import (
    ESL,
    FakeFS,
    Session,
    event_frames,
    eventually,
    import_xmlcurl_directory,
    live,
    on_loop,
    recorded_events,
)

USERS_TOPIC = "[Users] Get_users"
DOMAINS_TOPIC = "[Domains][Get] Domains"
A_LEG = "411dfd62-7775-4355-a204-d8da16bd79fd"
B_LEG = "eb868f1c-5e79-40fd-b2a4-874d004f7ba1"
IDLE = {
    "sip_register": False,
    "verto_register": False,
    "in_call": False,
    "talking": False,
    "call_date": 0,
    "last_uuid": "",
    "call_direction": "",
}


class View:
    """What a subscriber knows: the pushes merged, as a client would merge them."""

    def __init__(self, session: Session, domain_id: int, user_ids: dict[str, int]) -> None:
        self.session = session
        self.domain_id = str(domain_id)
        self.names = {str(user_id): name for name, user_id in user_ids.items()}
        self.users: dict[str, dict[str, Any]] = {}
        self.regs = {USERS_TOPIC: 0, DOMAINS_TOPIC: 0}  # the domain's counter, by topic

    def merge(self, frame: dict[str, Any]) -> None:
        topic = frame["MessageType"]
        assert topic in (USERS_TOPIC, DOMAINS_TOPIC), frame
        for domain_id, users in frame.get("directory_users", {}).items():
            assert domain_id == self.domain_id and topic == USERS_TOPIC
            for user_id, user in users.items():
                self.users[self.names[user_id]] = user
        for domain_id, domain in frame.get("domains", {}).items():
            assert domain_id == self.domain_id
            self.regs[topic] = domain["sip_regs_counter"]

    def until(self, user: str, counter: int, timeout: float = 5.0, **fields: Any) -> None:
        """Take pushes until `user` shows `fields` and both topics show `counter`."""
        wanted = {**IDLE, **fields}

        def shown() -> bool:
            current = self.users.get(user)
            return (
                current is not None
                and {k: current[k] for k in wanted} == wanted
                and self.regs == {USERS_TOPIC: counter, DOMAINS_TOPIC: counter}
            )

        while not shown():
            self.merge(self.session.next_push(timeout))


def get_user(session: Session, domain_id: int, user_id: int) -> tuple[dict[str, Any], int]:
    reply = session.ok(USERS_TOPIC)
    return reply["directory_users"][str(domain_id)][str(user_id)], reply["domains"][str(domain_id)]["sip_regs_counter"]


def check(session: Session, domain_id: int, user_id: int, counter: int, **fields: Any) -> None:
    user, regs = get_user(session, domain_id, user_id)
    assert {k: user[k] for k in IDLE} == {**IDLE, **fields}
    assert regs == counter


@pytest.fixture
def directory(
    app_client: TestClient, session_factory: Callable[[TestClient], Session]
) -> tuple[Session, View, int, dict[str, int]]:
    admin = session_factory(app_client)
    domain_id, user_ids = import_xmlcurl_directory(admin)
    watcher = session_factory(app_client)
    watcher.ok("subscribe", {"events": [USERS_TOPIC, DOMAINS_TOPIC]})
    return admin, View(watcher, domain_id, user_ids), domain_id, user_ids


def test_recorded_register_unregister_expire(
    fake_fs: FakeFS, directory: tuple[Session, View, int, dict[str, int]]
) -> None:
    admin, view, domain_id, ids = directory
    fake_fs.replay(ESL / "events_json_register.txt")
    view.until("2000", 1, sip_register=True)
    check(admin, domain_id, ids["2000"], 1, sip_register=True)
    fake_fs.replay(ESL / "events_json_unregister.txt")
    view.until("2000", 0)
    check(admin, domain_id, ids["2000"], 0)
    fake_fs.replay(ESL / "events_json_register_short_expiry.txt")
    view.until("2000", 1, sip_register=True)
    fake_fs.replay(ESL / "events_json_expire.txt")
    view.until("2000", 0)
    check(admin, domain_id, ids["2000"], 0)
    check(admin, domain_id, ids["2001"], 0)


def test_recorded_call(fake_fs: FakeFS, directory: tuple[Session, View, int, dict[str, int]]) -> None:
    admin, view, domain_id, ids = directory
    frames = event_frames("events_json_call.txt")
    fake_fs.replay_frames(frames[:3])  # pre_register, both CHANNEL_CREATE
    common = {"in_call": True, "call_date": 1796397693}
    view.until("2000", 0, last_uuid=A_LEG, call_direction="inbound", **common)
    view.until("2001", 0, last_uuid=B_LEG, call_direction="outbound", **common)
    check(admin, domain_id, ids["2000"], 0, last_uuid=A_LEG, call_direction="inbound", **common)
    fake_fs.replay_frames(frames[3:6])  # both CHANNEL_ANSWER, CHANNEL_BRIDGE
    view.until("2000", 0, talking=True, last_uuid=A_LEG, call_direction="inbound", **common)
    view.until("2001", 0, talking=True, last_uuid=B_LEG, call_direction="outbound", **common)
    check(admin, domain_id, ids["2001"], 0, talking=True, last_uuid=B_LEG, call_direction="outbound", **common)
    fake_fs.replay_frames(frames[6:])  # both CHANNEL_HANGUP_COMPLETE
    view.until("2000", 0)
    view.until("2001", 0)
    check(admin, domain_id, ids["2000"], 0)
    check(admin, domain_id, ids["2001"], 0)


def test_users_unknown_to_the_database_are_tracked_but_not_pushed(
    app_client: TestClient, fake_fs: FakeFS, directory: tuple[Session, View, int, dict[str, int]]
) -> None:
    admin, view, domain_id, ids = directory
    fake_fs.replay(ESL / "events_json_register_2001.txt")
    for event in recorded_events("events_json_register.txt"):
        fake_fs.emit(
            Event({name: value.replace("xmlcurl.test", "elsewhere.test") for name, value in event.headers.items()})
        )
    view.until("2001", 1, sip_register=True)
    eventually(lambda: on_loop(app_client, lambda: live(app_client).regs_counter("elsewhere.test")) == 1)
    admin.ok("[Domains][Get] Domains")  # a round trip: any push for elsewhere.test would have come by now
    assert all("elsewhere" not in str(frame) for frame in view.session.pushes)


def test_reconnect_bootstraps_and_pushes_the_new_state(
    app_client: TestClient, fake_fs: FakeFS, directory: tuple[Session, View, int, dict[str, int]]
) -> None:
    admin, view, domain_id, ids = directory
    fake_fs.replay(ESL / "events_json_register.txt")
    view.until("2000", 1, sip_register=True)
    # FreeSWITCH restarts; meanwhile 2001 registered and is in a call with 2000.
    fake_fs.set_api("show registrations as json", read_api_reply(ESL / "api_show_registrations_as_json.txt"))
    fake_fs.set_api("show channels as json", read_api_reply(ESL / "api_show_channels_as_json.txt"))
    fake_fs.call(fake_fs.fake.restart)
    common = {"sip_register": True, "in_call": True, "talking": True, "call_date": 1796397693}
    view.until("2000", 2, last_uuid=A_LEG, call_direction="inbound", **common)
    view.until("2001", 2, last_uuid=B_LEG, call_direction="outbound", **common)
    check(admin, domain_id, ids["2001"], 2, last_uuid=B_LEG, call_direction="outbound", **common)
