"""xml_curl worker processes on the dedicated port: fresh after every write, counted, restarted."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from fsdir.config import Settings
from tests.conftest import Api
from tests.xmlcurl.conftest import recorded_app
from tests.xmlcurl.helpers import domain_of, params, recorded_requests, sip_auth_body, users_in
from tests.xmlcurl.test_listener import exchange, free_port, raw_request

WORKERS = 2


@pytest.fixture
def pool(settings: Settings) -> Iterator[tuple[TestClient, Api, int]]:
    port = free_port()
    with recorded_app(replace(settings, xmlcurl_port=port, xmlcurl_workers=WORKERS)) as (client, api):
        yield client, api, port
        processes = list(client.app.state.xmlcurl.workers.processes.values())  # type: ignore[attr-defined]
    assert not any(process.is_alive() for process in processes)


def password(port: int, user: str = "2000") -> str:
    status, _, body = exchange(port, raw_request(sip_auth_body(user, "xmlcurl.test")))
    assert status == 200
    return params(users_in(domain_of(body, "xmlcurl.test"))[user])["password"]


def set_password(api: Api, value: str) -> None:
    users = api.ok("[Users] Get_users")["directory_users"]
    uid = next(int(key) for domain in users.values() for key, user in domain.items() if user["name"] == "2000")
    entries = api.ok("[Users] Get_user_details", {"id": uid})["user_details"][str(uid)]["parameters"]
    param = next(int(key) for key, entry in entries.items() if entry["name"] == "password")
    api.ok("[Users] Update_user_param", {"id": param, "name": "password", "value": value})


def test_workers_answer_and_see_every_write_at_once(pool: tuple[TestClient, Api, int]) -> None:
    client, api, port = pool
    for record in recorded_requests():
        body = record["request"]["body"]
        status, _, answer = exchange(port, raw_request(body))
        assert status == 200
        assert answer == client.post("/freeswitch/directory", content=body).content, record["seq"]
    current = "s3cret"
    for round_number in range(3):
        # Many connections: the kernel spreads them over both workers, whose caches are now warm.
        assert {password(port) for _ in range(20)} == {current}
        current = f"changed-{round_number}"
        set_password(api, current)
        assert {password(port) for _ in range(20)} == {current}


def test_metrics_add_up_every_process(pool: tuple[TestClient, Api, int]) -> None:
    client, _, port = pool
    for _ in range(30):
        password(port)
    client.post("/freeswitch/directory", content=sip_auth_body("2001", "xmlcurl.test"))
    text = client.get("/metrics").text
    found = next(
        line
        for line in text.splitlines()
        if line.startswith('fsdir_xmlcurl_lookups_total{kind="user",outcome="found"}')
    )
    assert float(found.split()[-1]) == 31
    hits = next(line for line in text.splitlines() if line.startswith("fsdir_xmlcurl_cache_hits_total"))
    assert float(hits.split()[-1]) >= 30 - WORKERS


def test_a_dead_worker_is_replaced(pool: tuple[TestClient, Api, int]) -> None:
    client, _, port = pool
    workers = client.app.state.xmlcurl.workers  # type: ignore[attr-defined]
    victim = workers.processes[1]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    resets = 0
    while time.monotonic() < deadline:
        # The other worker answers meanwhile (connections already queued on the dead one's socket
        # are reset by the kernel: FreeSWITCH sees a failed fetch, as for any crash).
        try:
            assert password(port) == "s3cret"
        except ConnectionResetError:
            resets += 1
            assert resets < 5
        replacement = workers.processes[1]
        if replacement is not victim and replacement.is_alive():
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the worker was not restarted")
    for _ in range(10):
        assert password(port) == "s3cret"
