"""The real ``fsdir serve`` process: start, log in on both transports, edit, restart, data intact."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.sync.client import connect

PASSWORD = "process-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, workdir: Path, port: int, log_level: str = "INFO") -> None:
        self.log_level = log_level
        self.workdir = workdir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "FSDIR_PORT": str(self.port),
            "FSDIR_DATABASE_URL": f"sqlite:///{self.workdir / 'fsdir.db'}",
            "FSDIR_ADMIN_PASSWORD": PASSWORD,
            "FSDIR_ESL_HOST": "",
            "FSDIR_LOG_LEVEL": self.log_level,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fsdir", "serve"], cwd=self.workdir, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not start: " + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    handle = Server(tmp_path, free_port())
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


def post(server: Server, event: str, data: dict[str, Any]) -> dict[str, Any]:
    response = httpx2.post(f"{server.url}/api/v1", json={"event": event, "data": data}, timeout=10)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    assert "error" not in reply, reply
    return reply


def test_serve_edit_restart_keeps_data(server: Server) -> None:
    assert httpx2.get(f"{server.url}/healthz").json() == {"database": "ok", "freeswitch": "disconnected"}
    token = post(server, "login", {"login": "admin", "password": PASSWORD})["token"]

    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send(json.dumps({"event": "login", "data": {"login": "admin", "password": PASSWORD}, "id": 1}))
        login = json.loads(ws.recv(timeout=10))
        assert login["id"] == 1 and len(login["token"]) >= 32
        ws.send(json.dumps({"event": "[Domains][Add] Domain", "data": {"name": "office.example"}, "id": 2}))
        added = json.loads(ws.recv(timeout=10))
    [domain_id] = [int(key) for key in added["domains"]]

    post(server, "[Domains] New_domain_param", {"token": token, "id": domain_id, "name": "dial-string", "value": "x"})
    post(server, "[Domains] New_domain_var", {"token": token, "id": domain_id, "name": "record_stereo", "value": "t"})
    post(server, "[Domains] Rename_domain", {"token": token, "id": domain_id, "name": "pbx.example"})
    post(server, "[Domains][Switch] Domain", {"token": token, "id": domain_id, "enabled": False})
    doomed = post(server, "[Domains][Add] Domain", {"token": token, "name": "doomed.example"})
    post(server, "[Domains] Del_domain", {"token": token, "id": int(next(iter(doomed["domains"])))})

    server.stop()
    server.start()

    token = post(server, "login", {"login": "admin", "password": PASSWORD})["token"]
    domains = post(server, "[Domains][Get] Domains", {"token": token})["domains"]
    assert [(d["name"], d["enabled"]) for d in domains.values()] == [("pbx.example", False)]
    details = post(server, "[Domains][Get] Domain_details", {"token": token, "id": domain_id})["domain_details"]
    entry = details[str(domain_id)]
    assert [(p["name"], p["value"]) for p in entry["parameters"].values()] == [("dial-string", "x")]
    assert [(v["name"], v["value"]) for v in entry["variables"].values()] == [("record_stereo", "t")]
    assert PASSWORD not in server.log.read_text()


def test_bad_setting_stops_with_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "FSDIR_PORT": "eighty", "FSDIR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "fsdir", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FSDIR_PORT" in lines[0]


def test_debug_logging_never_carries_a_password(tmp_path: Path) -> None:
    server = Server(tmp_path, free_port(), log_level="DEBUG")
    try:
        server.start()
        token = post(server, "login", {"login": "admin", "password": PASSWORD})["token"]
        domain = post(server, "[Domains][Add] Domain", {"token": token, "name": "log.example"})
        domain_id = int(next(iter(domain["domains"])))
        user = post(server, "[Users] Add_new_user", {"token": token, "id": domain_id, "name": "1000"})
        user_id = int(next(iter(user["directory_users"][str(domain_id)])))
        post(
            server,
            "[Users] Add_user_param",
            {"token": token, "id": user_id, "name": "password", "value": "sip-secret-42"},
        )
    finally:
        server.stop()
    log = server.log.read_text()
    assert "DEBUG" in log
    for secret in (PASSWORD, "sip-secret-42", token):
        assert secret not in log
