"""Live pushes (spec/API.md "Live updates"): subscribers get the reply frames of other clients' writes.

A push is queued before the writer gets its reply, so once the writer has its reply the push is
waiting; a "ping" request whose reply is the subscriber's next frame proves that nothing else came.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, Api

DOMAINS = "[Domains][Get] Domains"
USERS = "[Users] Get_users"


class Socket:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.pings = 0
        self.call("login", {"login": "admin", "password": ADMIN_PASSWORD})

    def send(self, event: str, data: dict[str, Any] | None = None, request_id: str | None = None) -> None:
        message: dict[str, Any] = {"event": event, "data": data or {}}
        if request_id is not None:
            message["id"] = request_id
        self.session.send_text(json.dumps(message))

    def receive(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.session.receive_text())
        return frame

    def call(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.send(event, data)
        return self.receive()

    def ok(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.call(event, data)
        assert "error" not in reply and reply["MessageType"] == event, reply
        return reply

    def assert_nothing_pending(self) -> None:
        self.pings += 1
        request_id = f"ping-{self.pings}"
        self.send("[Directory] Status", request_id=request_id)
        frame = self.receive()
        assert frame.get("id") == request_id, f"unexpected frame {frame}"


@pytest.fixture
def sockets(client: TestClient) -> Iterator[list[Socket]]:
    with ExitStack() as stack:
        yield [Socket(stack.enter_context(client.websocket_connect("/ws"))) for _ in range(3)]


def test_subscriber_gets_the_reply_of_another_clients_write(sockets: list[Socket]) -> None:
    watcher, writer, bystander = sockets
    assert watcher.call("subscribe", {"events": [DOMAINS]}) == {"MessageType": "subscribe", "events": [DOMAINS]}
    reply = writer.ok("[Domains][Add] Domain", {"name": "live.example"})
    assert watcher.receive() == reply
    watcher.assert_nothing_pending()
    # Not subscribed, nothing pushed.
    bystander.assert_nothing_pending()


def test_author_gets_no_duplicate(sockets: list[Socket]) -> None:
    watcher, writer, _ = sockets
    for socket in (watcher, writer):
        socket.ok("subscribe", {"events": [DOMAINS]})
    reply = writer.ok("[Domains][Add] Domain", {"name": "mine.example"})
    writer.assert_nothing_pending()
    assert watcher.receive() == reply
    watcher.assert_nothing_pending()


def test_unsubscribe_stops_the_pushes(sockets: list[Socket]) -> None:
    watcher, writer, _ = sockets
    watcher.ok("subscribe", {"events": [DOMAINS, USERS]})
    assert watcher.call("unsubscribe", {"events": [DOMAINS]}) == {"MessageType": "unsubscribe", "events": [USERS]}
    domain = writer.ok("[Domains][Add] Domain", {"name": "quiet.example"})
    watcher.assert_nothing_pending()
    [domain_id] = map(int, domain["domains"])
    user = writer.ok("[Users] Add_new_user", {"id": domain_id, "name": "1000"})
    assert watcher.receive() == user
    watcher.ok("unsubscribe", {"events": [USERS]})
    writer.ok("[Users] Add_new_user", {"id": domain_id, "name": "1001"})
    watcher.assert_nothing_pending()


def test_subscriber_sees_every_change_in_order(sockets: list[Socket], client: TestClient) -> None:
    watcher, writer, _ = sockets
    watcher.ok("subscribe", {"events": [DOMAINS, USERS, "[Groups] Get_groups", "[Gateways] Get_users_gateways"]})
    replies = []
    added = writer.ok("[Domains][Add] Domain", {"name": "order.example"})
    replies.append(added)
    [domain] = map(int, added["domains"])
    replies.append(writer.ok("[Domains] Rename_domain", {"id": domain, "name": "order.example.net"}))
    replies.append(writer.ok("[Domains][Switch] Domain", {"id": domain, "enabled": False}))
    users = writer.ok("[Users] Add_new_user", {"id": domain, "name": "1000", "bulk": 3})
    replies.append(users)
    first, second, _ = map(int, users["directory_users"][str(domain)])
    replies.append(writer.ok("[Users] Update_user_cache", {"id": first, "value": "5000"}))
    replies.append(writer.ok("[Users] Update_user_name", {"id": second, "name": "2000"}))
    group = writer.ok("[Groups] Add_new_group", {"id": domain, "name": "sales"})
    replies.append(group)
    [group_id] = map(int, group["items"])
    replies.append(writer.ok("[Groups] Add_group_user", {"id": group_id, "value": str(first)}))
    replies.append(writer.ok("[Gateways] Add_new_user_gateway", {"id": first, "name": "order-gw"}))
    replies.append(writer.ok("[Users] Del_user", {"id": first}))
    # A failed write is not pushed.
    assert "error" in writer.call("[Domains][Add] Domain", {"name": "ORDER.example.net"})
    # Over HTTP too (no socket to leave out).
    token = writer.ok("login", {"login": "admin", "password": ADMIN_PASSWORD})["token"]
    body = {"event": "[Domains] Del_domain", "data": {"token": token, "id": domain}}
    replies.append(client.post("/api/v1", json=body).json())
    for reply in replies:
        assert watcher.receive() == reply
    watcher.assert_nothing_pending()


def test_subscribing_to_one_event_gets_only_that_event(sockets: list[Socket]) -> None:
    watcher, writer, both = sockets
    watcher.ok("subscribe", {"events": ["[Domains][Add] Domain"]})
    # Subscribed to the event and to its topic: still one frame per change.
    both.ok("subscribe", {"events": ["[Domains][Add] Domain", DOMAINS]})
    added = writer.ok("[Domains][Add] Domain", {"name": "one.example"})
    [domain] = map(int, added["domains"])
    renamed = writer.ok("[Domains] Rename_domain", {"id": domain, "name": "two.example"})
    assert watcher.receive() == added
    watcher.assert_nothing_pending()
    assert both.receive() == added
    assert both.receive() == renamed
    both.assert_nothing_pending()


def test_subscriptions_are_checked(sockets: list[Socket]) -> None:
    watcher, writer, _ = sockets
    assert watcher.call("subscribe", {"events": ["[Domains][Get] Nothing"]}) == {
        "MessageType": "subscribe",
        "error": "invalid events",
    }
    assert watcher.call("subscribe", {"events": DOMAINS}) == {"MessageType": "subscribe", "error": "invalid events"}
    # A subscriber that leaves is forgotten; writers go on.
    watcher.ok("subscribe", {"events": [DOMAINS]})
    watcher.session.close()
    writer.ok("[Domains][Add] Domain", {"name": "gone.example"})
    writer.assert_nothing_pending()


def test_subscribe_over_http_is_an_error(http_api: Api) -> None:
    reply = http_api.call("subscribe", {"events": [DOMAINS]})
    assert reply == {"MessageType": "subscribe", "error": "websocket only"}
    assert http_api.call("unsubscribe", {"events": [DOMAINS]}) == {
        "MessageType": "unsubscribe",
        "error": "websocket only",
    }
