"""The envelope and the two doors: invalid messages, sizes, tokens, request ids, roles, logins."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from fsdir.api.auth import count_api_users, now
from fsdir.api.registry import Role, registry
from fsdir.app import create_app
from fsdir.config import Settings
from tests.api.helpers import Directory, add_api_user, age_token, new_api, on_app_loop
from tests.conftest import ADMIN_PASSWORD, Api

INVALID = {"MessageType": "none", "error": "invalid message"}
GET_DOMAINS = "[Domains][Get] Domains"
MiB = 1024 * 1024


def login_token(client: TestClient, login: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    reply = client.post("/api/v1", json={"event": "login", "data": {"login": login, "password": password}}).json()
    token: str = reply["token"]
    return token


def http(client: TestClient, event: str, data: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/v1", content=json.dumps({"event": event, "data": data}), headers=headers)
    return response.status_code, response.json()


@pytest.fixture
def ws(client: TestClient) -> Iterator[Any]:
    with client.websocket_connect("/ws") as socket:
        yield socket


def ws_call(socket: Any, message: Any) -> dict[str, Any]:
    socket.send_text(message if isinstance(message, str) else json.dumps(message))
    reply: dict[str, Any] = json.loads(socket.receive_text())
    return reply


# Bodies that are not a JSON object with a string "event" and an object "data".
NOT_MESSAGES: tuple[bytes, ...] = (
    b"",
    b"not json",
    b"{",
    b"\xff\xfe\x00",
    b"[1, 2]",
    b'"[Domains][Get] Domains"',
    b"null",
    b"42",
    b"[" * 100_000 + b"]" * 100_000,
    b"{}",
    b'{"data": {}}',
    b'{"event": 5, "data": {}}',
    b'{"event": null, "data": {}}',
    b'{"event": ["[Domains][Get] Domains"], "data": {}}',
    b'{"event": "[Domains][Get] Domains"}',
    b'{"event": "[Domains][Get] Domains", "data": null}',
    b'{"event": "[Domains][Get] Domains", "data": []}',
    b'{"event": "[Domains][Get] Domains", "data": "token"}',
)


def test_http_rejects_what_is_not_a_message(client: TestClient) -> None:
    token = login_token(client)
    for body in NOT_MESSAGES:
        response = client.post("/api/v1", content=body, headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json()) == (400, INVALID), body[:60]


def test_websocket_rejects_what_is_not_a_message_and_stays_open(ws: Any) -> None:
    token = ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}})["token"]
    for body in NOT_MESSAGES:
        if body.startswith(b"\xff"):
            ws.send_bytes(body)
            reply = json.loads(ws.receive_text())
        else:
            reply = ws_call(ws, body.decode())
        assert reply == INVALID, body[:60]
        # The connection still answers the next request.
        assert "domains" in ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}})


def test_unknown_event(api: Api) -> None:
    for event in ("[Domains][Get] Domainz", "", "LOGIN", "[domains][get] domains"):
        status, reply = api.raw({"event": event, "data": {"token": api.token}})
        assert (status, reply) == (200, {"MessageType": "none", "error": "wrong event"})


def test_http_body_over_the_limit_is_413(client: TestClient) -> None:
    token = login_token(client)
    body = json.dumps({"event": "[Domains][Add] Domain", "data": {"token": token, "name": "x" * (20 * MiB)}})
    response = client.post("/api/v1", content=body)
    assert response.status_code == 413
    assert response.json() == {"MessageType": "none", "error": "body too large"}
    # Bytes count, not characters: 3 MiB of a 3-byte character is over 8 MiB.
    body = json.dumps({"event": "[Domains][Add] Domain", "data": {"token": token, "name": "\u20ac" * (3 * MiB)}})
    response = client.post("/api/v1", content=body.encode())
    assert response.status_code == 413
    status, reply = http(client, GET_DOMAINS, {"token": token})
    assert (status, reply["domains"]) == (200, {})


def test_websocket_frame_over_the_limit_is_refused_and_the_socket_stays_usable(ws: Any) -> None:
    token = ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}})["token"]
    too_large = {"MessageType": "none", "error": "body too large"}
    huge = {"event": "[Domains][Add] Domain", "data": {"token": token, "name": "x" * (20 * MiB)}, "id": 1}
    assert ws_call(ws, huge) == too_large
    wide = {"event": "[Domains][Add] Domain", "data": {"token": token, "name": "\u20ac" * (3 * MiB)}}
    assert ws_call(ws, json.dumps(wide, ensure_ascii=False)) == too_large
    ws.send_bytes(b" " * (9 * MiB))
    assert json.loads(ws.receive_text()) == too_large
    assert ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}})["domains"] == {}


# --- tokens --------------------------------------------------------------------------------------


def test_login_reply(api: Api) -> None:
    reply = api.call("login", {"login": "admin", "password": ADMIN_PASSWORD}, token="")
    assert set(reply) == {"MessageType", "token", "user"}
    assert re.fullmatch(r"[0-9a-f]{32,}", reply["token"])
    assert reply["user"] == {"id": reply["user"]["id"], "login": "admin", "role": "admin"}
    assert isinstance(reply["user"]["id"], int)
    # Every login gets its own token.
    assert reply["token"] != api.call("login", {"login": "admin", "password": ADMIN_PASSWORD}, token="")["token"]


def test_missing_unknown_and_malformed_tokens_are_unauthorized(client: TestClient, ws: Any) -> None:
    unauthorized = {"MessageType": GET_DOMAINS, "error": "unauthorized"}
    for data in ({}, {"token": ""}, {"token": "0" * 64}, {"token": "x" * 5000}, {"token": 12345}, {"token": None}):
        assert http(client, GET_DOMAINS, data) == (401, unauthorized), data
        assert ws_call(ws, {"event": GET_DOMAINS, "data": data}) == unauthorized, data
    # Nor does a bad token learn anything from a malformed request.
    status, reply = http(client, "[Domains] Del_domain", {"token": "0" * 64, "id": "x"})
    assert (status, reply) == (401, {"MessageType": "[Domains] Del_domain", "error": "unauthorized"})


def test_expired_token_is_unauthorized(client: TestClient, settings: Settings) -> None:
    token = login_token(client)
    assert http(client, GET_DOMAINS, {"token": token})[0] == 200
    age_token(client, token, now() - timedelta(seconds=settings.token_ttl_seconds + 1))
    assert http(client, GET_DOMAINS, {"token": token}) == (401, {"MessageType": GET_DOMAINS, "error": "unauthorized"})
    # Used within the time to live, a token stays alive.
    fresh = login_token(client)
    age_token(client, fresh, now() - timedelta(seconds=settings.token_ttl_seconds - 60))
    assert http(client, GET_DOMAINS, {"token": fresh})[0] == 200


def test_bearer_header_over_http(client: TestClient) -> None:
    token = login_token(client)
    for header in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token} "):
        assert http(client, GET_DOMAINS, {}, Authorization=header) == (200, {"MessageType": GET_DOMAINS, "domains": {}})
    for header in ("Bearer", "Bearer ", f"Basic {token}", token, f"Bearer {'0' * 64}"):
        assert http(client, GET_DOMAINS, {}, Authorization=header)[0] == 401, header


def test_websocket_that_logged_in_may_omit_the_token(ws: Any, client: TestClient) -> None:
    assert ws_call(ws, {"event": GET_DOMAINS, "data": {}}) == {"MessageType": GET_DOMAINS, "error": "unauthorized"}
    ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}})
    assert ws_call(ws, {"event": "[Domains][Add] Domain", "data": {"name": "ws.example"}})["domains"]
    # Another socket has no session of its own.
    with client.websocket_connect("/ws") as other:
        assert ws_call(other, {"event": GET_DOMAINS, "data": {}})["error"] == "unauthorized"


def test_logout_stops_the_token_at_once_on_both_transports(client: TestClient, ws: Any) -> None:
    token = login_token(client)
    unauthorized = {"MessageType": GET_DOMAINS, "error": "unauthorized"}
    assert "domains" in ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}})
    assert http(client, "logout", {"token": token}) == (200, {"MessageType": "logout"})
    assert ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}}) == unauthorized
    assert http(client, GET_DOMAINS, {"token": token}) == (401, unauthorized)
    assert http(client, GET_DOMAINS, {}, Authorization=f"Bearer {token}") == (401, unauthorized)
    # A second logout of the same token is refused like any other use of it.
    assert http(client, "logout", {"token": token})[0] == 401
    # A socket's own session, ended from elsewhere, ends for the socket too.
    session = ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}})["token"]
    assert "domains" in ws_call(ws, {"event": GET_DOMAINS, "data": {}})
    assert http(client, "logout", {}, Authorization=f"Bearer {session}") == (200, {"MessageType": "logout"})
    assert ws_call(ws, {"event": GET_DOMAINS, "data": {}}) == unauthorized


def test_websocket_logout_ends_its_session(client: TestClient, ws: Any) -> None:
    token = ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}})["token"]
    assert http(client, GET_DOMAINS, {"token": token})[0] == 200
    assert ws_call(ws, {"event": "logout", "data": {}}) == {"MessageType": "logout"}
    assert ws_call(ws, {"event": GET_DOMAINS, "data": {}}) == {"MessageType": GET_DOMAINS, "error": "unauthorized"}
    assert http(client, GET_DOMAINS, {"token": token})[0] == 401
    # Other tokens of the same API user are not touched.
    other = login_token(client)
    assert http(client, GET_DOMAINS, {"token": other})[0] == 200


# --- request ids over the WebSocket ----------------------------------------------------------------


def test_websocket_echoes_the_request_id(ws: Any) -> None:
    token = ws_call(ws, {"event": "login", "data": {"login": "admin", "password": ADMIN_PASSWORD}, "id": "l-1"})[
        "token"
    ]
    reply = ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}, "id": "abc-1"})
    assert reply == {"MessageType": GET_DOMAINS, "domains": {}, "id": "abc-1"}
    reply = ws_call(ws, {"event": "[Domains][Add] Domain", "data": {"token": token, "name": "a.example"}, "id": 7})
    [domain] = map(int, reply["domains"])
    assert reply["id"] == 7
    # An error carries it too.
    reply = ws_call(ws, {"event": "[Domains][Add] Domain", "data": {"token": token, "name": ""}, "id": "e"})
    assert reply == {"MessageType": "[Domains][Add] Domain", "error": "empty domain name", "id": "e"}
    assert ws_call(ws, {"event": "nope", "data": {}, "id": 3}) == {
        "MessageType": "none",
        "error": "wrong event",
        "id": 3,
    }
    # The documented reply already has an "id": the request's goes to "request_id".
    reply = ws_call(ws, {"event": "[Domains] Del_domain", "data": {"token": token, "id": domain}, "id": "del-1"})
    assert reply == {"MessageType": "[Domains] Del_domain", "id": domain, "request_id": "del-1"}
    # Only strings and integers are request ids.
    for odd in (True, None, 1.5, {"a": 1}, [1]):
        assert ws_call(ws, {"event": GET_DOMAINS, "data": {"token": token}, "id": odd}) == {
            "MessageType": GET_DOMAINS,
            "domains": {},
        }


# --- roles -----------------------------------------------------------------------------------------

WRITES = sorted(name for name in registry.names() if (spec := registry.get(name)) and spec.role > Role.viewer)
READS = sorted(name for name in registry.names() if (spec := registry.get(name)) and spec.role == Role.viewer)


def test_viewer_reads_but_may_not_write(api: Api) -> None:
    assert "[Domains][Add] Domain" in WRITES and "[Domains][Get] Domains" in READS
    directory = Directory(api)
    domain = directory.domain("roles.example")
    user = directory.user(domain, "1000")
    add_api_user(api.client, "viewer", "viewer-password", Role.viewer)
    before = api.ok("[Directory] Export", {"include_disabled": True})["file"]
    viewer = new_api(api.client, api.transport, "viewer", "viewer-password")
    try:
        assert viewer.ok(GET_DOMAINS)["domains"][str(domain)]["name"] == "roles.example"
        assert viewer.ok("[Users] Get_user_details", {"id": user})["user_details"][str(user)]["parameters"] == {}
        assert "roles.example" in viewer.ok("[Directory] Export")["file"]
        for event in READS:
            if event not in ("login", "logout", "subscribe", "unsubscribe"):
                assert viewer.call(event, {}).get("error") != "forbidden", event
        # Data that would be valid for an operator, and data that would not: forbidden all the same.
        for event in WRITES:
            assert viewer.call(event, {"id": domain, "name": "x.example"}) == {
                "MessageType": event,
                "error": "forbidden",
            }
            assert viewer.call(event, {}) == {"MessageType": event, "error": "forbidden"}
    finally:
        viewer.close()
    assert api.ok("[Directory] Export", {"include_disabled": True})["file"] == before


def test_operator_edits_the_directory(http_api: Api) -> None:
    add_api_user(http_api.client, "operator", "operator-password", Role.operator)
    operator = new_api(http_api.client, http_api.transport, "operator", "operator-password")
    try:
        directory = Directory(operator)
        domain = directory.domain("operator.example")
        user = directory.user(domain, "1000")
        directory.user_param(user, "password", "secret")
        group = directory.group(domain, "sales")
        directory.member(group, user)
        directory.gateway(user, "operator-gw")
        operator.ok("[Domains] Rename_domain", {"id": domain, "name": "operator.example.net"})
        operator.ok("[Users] Del_user", {"id": user})
    finally:
        operator.close()
    assert http_api.ok(GET_DOMAINS)["domains"][str(domain)]["name"] == "operator.example.net"


def test_wrong_login_and_unknown_login_read_the_same(api: Api) -> None:
    add_api_user(api.client, "viewer", "viewer-password", Role.viewer)
    wrong = {"MessageType": "login", "error": "wrong login or password"}
    for login, password in (
        ("admin", "not-the-password"),
        ("admin", ADMIN_PASSWORD.upper()),
        ("nobody", ADMIN_PASSWORD),
        ("", ""),
        ("viewer", ADMIN_PASSWORD),
    ):
        assert api.call("login", {"login": login, "password": password}, token="") == wrong
    assert api.call("login", {"login": 5, "password": "x"}, token="") == {
        "MessageType": "login",
        "error": "invalid login",
    }


@pytest.fixture
def no_admin_client(settings: Settings) -> Iterator[TestClient]:
    """A first start without FSDIR_ADMIN_PASSWORD."""
    with TestClient(create_app(replace(settings, admin_password=""))) as test_client:
        yield test_client


def test_no_default_password_works(no_admin_client: TestClient) -> None:
    async def count(engine: AsyncEngine) -> int:
        async with engine.connect() as conn:
            return await count_api_users(conn)

    # No API user at all until one is created on purpose (CLI or FSDIR_ADMIN_PASSWORD).
    assert on_app_loop(no_admin_client, count) == 0
    for login, password in (("admin", "admin"), ("admin", ""), ("admin", "password"), ("root", "root"), ("", "")):
        status, reply = http(no_admin_client, "login", {"login": login, "password": password})
        assert (status, reply) == (200, {"MessageType": "login", "error": "wrong login or password"})
