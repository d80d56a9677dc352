"""Clients racing each other: uniqueness holds, rows stay whole, the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest
from starlette.testclient import TestClient

from fsdir.directory import queries
from tests.api.helpers import Directory
from tests.conftest import ADMIN_PASSWORD, Api

ROUNDS = 8


class Socket:
    """One logged-in WebSocket connection, used from one thread at a time."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.call("login", {"login": "admin", "password": ADMIN_PASSWORD})

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self.session.send_text(json.dumps({"event": event, "data": data}))
        reply: dict[str, Any] = json.loads(self.session.receive_text())
        return reply


@pytest.fixture
def sockets(client: TestClient) -> Iterator[list[Socket]]:
    with ExitStack() as stack:
        yield [Socket(stack.enter_context(client.websocket_connect("/ws"))) for _ in range(2)]


def race(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads that start together; their results in order (a job's exception is raised)."""
    barrier = threading.Barrier(len(jobs))

    def start(job: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(start, job) for job in jobs]
        return [future.result(timeout=60) for future in futures]


@pytest.fixture(params=["checked", "unchecked"])
def name_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """ "unchecked": both racers pass the "name taken?" query, so only the database's unique index is left."""
    if request.param == "unchecked":

        async def never_taken(*args: Any, **kwargs: Any) -> bool:
            await asyncio.sleep(0.01)  # both requests get past the check before either inserts
            return False

        monkeypatch.setattr(queries, "domain_name_taken", never_taken)
    return str(request.param)


@pytest.mark.usefixtures("name_check")
def test_same_domain_added_at_once_over_websockets(sockets: list[Socket], http_api: Api) -> None:
    add = "[Domains][Add] Domain"
    for round_ in range(ROUNDS):
        name = f"race{round_}.example"
        replies = race(*(partial(socket.call, add, {"name": name}) for socket in sockets))
        errors = [reply for reply in replies if "error" in reply]
        assert errors == [{"MessageType": add, "error": "domain name already exists"}], replies
    names = sorted(domain["name"] for domain in http_api.ok("[Domains][Get] Domains")["domains"].values())
    assert names == sorted(f"race{round_}.example" for round_ in range(ROUNDS))


def test_same_domain_added_at_once_over_http(client: TestClient, http_api: Api) -> None:
    add = "[Domains][Add] Domain"

    def post(name: str) -> dict[str, Any]:
        body = {"event": add, "data": {"token": http_api.token, "name": name}}
        reply: dict[str, Any] = client.post("/api/v1", json=body).json()
        return reply

    for round_ in range(ROUNDS):
        # Case differs: FreeSWITCH compares domain names without case, so do we.
        replies = race(partial(post, f"Http{round_}.example"), partial(post, f"http{round_}.EXAMPLE"))
        assert sorted("error" in reply for reply in replies) == [False, True], replies
    assert len(http_api.ok("[Domains][Get] Domains")["domains"]) == ROUNDS


def test_two_users_renamed_to_one_name_at_once(sockets: list[Socket], http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("rename.example")
    first, second = make.user(domain, "a"), make.user(domain, "b")
    rename = "[Users] Update_user_name"
    for round_ in range(ROUNDS):
        name = f"taken{round_}"
        replies = race(
            partial(sockets[0].call, rename, {"id": first, "name": name}),
            partial(sockets[1].call, rename, {"id": second, "name": name}),
        )
        errors = [reply for reply in replies if "error" in reply]
        assert errors == [{"MessageType": rename, "error": "user name already exists"}], replies
        users = http_api.ok("[Users] Get_users", {"domain_id": domain})["directory_users"][str(domain)]
        assert [user["name"] for user in users.values()].count(name) == 1


def test_one_user_edited_by_two_clients_stays_whole(sockets: list[Socket], http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("edit.example")
    user = make.user(domain, "1000")
    param = make.user_param(user, "password", "start")
    written_names: set[str] = set()
    written_params: set[tuple[str, str]] = set()

    def edit(socket: Socket, who: str) -> list[dict[str, Any]]:
        replies = []
        for step in range(15):
            name, param_name, value = f"{who}{step}", f"p-{who}-{step}", f"v-{who}-{step}"
            written_names.add(name)
            written_params.add((param_name, value))
            replies.append(socket.call("[Users] Update_user_name", {"id": user, "name": name}))
            replies.append(socket.call("[Users] Update_user_param", {"id": param, "name": param_name, "value": value}))
            replies.append(socket.call("[Users] Update_user_cache", {"id": user, "value": str(step * 1000)}))
        return replies

    for replies in race(partial(edit, sockets[0], "a"), partial(edit, sockets[1], "b")):
        assert all("error" not in reply for reply in replies), [reply for reply in replies if "error" in reply]

    details = http_api.ok("[Users] Get_user_details", {"id": user})["user_details"][str(user)]
    [(param_key, final)] = details["parameters"].items()
    assert param_key == str(param)
    # Name and value of the param come from the same write, never half of each.
    assert (final["name"], final["value"]) in written_params
    assert details["cache"] in {step * 1000 for step in range(15)}
    [listed] = http_api.ok("[Users] Get_users", {"domain_id": domain})["directory_users"][str(domain)].values()
    assert listed["name"] in written_names and listed["id"] == user and listed["cache"] == details["cache"]
    # Each socket still answers, and so does the server.
    for socket in sockets:
        assert "domains" in socket.call("[Domains][Get] Domains", {})
