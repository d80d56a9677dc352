from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures" / "freeswitch"
POSTGRES_URL = os.environ.get("FSDIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_PASSWORD = "admin-password-for-tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _postgres(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql://", "postgres://"), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Fresh settings on an empty database: a SQLite file, or a PostgreSQL schema of its own."""
    base = Settings(admin_login="admin", admin_password=ADMIN_PASSWORD, esl_host="")
    if request.param == "sqlite":
        yield replace(base, database_url=f"sqlite:///{tmp_path / 'fsdir.db'}")
        return
    if os.environ.get("FSDIR_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("FSDIR_TEST_SKIP_POSTGRES=1")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    try:
        yield replace(base, database_url=POSTGRES_URL, database_schema=schema)
    finally:
        asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


class Api:
    """Sends events over one transport; ``call`` returns the decoded reply."""

    def __init__(self, client: TestClient, transport: str) -> None:
        self.client = client
        self.transport = transport
        self.token = ""
        self._ws: Any = None
        self._ws_context: Any = None

    def raw(self, message: Any) -> tuple[int, dict[str, Any]]:
        if self.transport == "http":
            response = self.client.post("/api/v1", content=json.dumps(message))
            return response.status_code, response.json()
        if self._ws is None:
            self._ws_context = self.client.websocket_connect("/ws")
            self._ws = self._ws_context.__enter__()
        self._ws.send_text(json.dumps(message))
        return 200, json.loads(self._ws.receive_text())

    def call(self, event: str, data: dict[str, Any] | None = None, *, token: str | None = None) -> dict[str, Any]:
        payload = dict(data or {})
        chosen = self.token if token is None else token
        if chosen:
            payload.setdefault("token", chosen)
        _, reply = self.raw({"event": event, "data": payload})
        return reply

    def ok(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.call(event, data)
        assert "error" not in reply, reply
        assert reply["MessageType"] == event
        return reply

    def login(self, login: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        reply = self.call("login", {"login": login, "password": password}, token="")
        self.token = reply["token"]
        return self.token

    def close(self) -> None:
        if self._ws_context is not None:
            self._ws_context.__exit__(None, None, None)
            self._ws = self._ws_context = None


@pytest.fixture(params=["http", "ws"])
def api(request: pytest.FixtureRequest, client: TestClient) -> Iterator[Api]:
    handle = Api(client, request.param)
    handle.login()
    yield handle
    handle.close()
