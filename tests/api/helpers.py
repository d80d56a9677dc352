"""Helpers shared by the event API tests: making objects, API users, a stand-in FreeSWITCH."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from fsdir.api.auth import create_api_user, hash_token, issue_token
from fsdir.api.registry import Role
from fsdir.db.engine import WRITE
from fsdir.db.schema import api_tokens
from tests.conftest import FIXTURES, Api

T = TypeVar("T")

VANILLA_ESL = FIXTURES / "esl" / "xml_locate_vanilla.txt"


def vanilla_directory() -> str:
    """The body of the recorded ``api xml_locate directory`` reply (the ESL headers end at the first blank line)."""
    _, _, body = VANILLA_ESL.read_text().partition("\n\n")
    return body


def on_app_loop(client: TestClient, job: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``job(engine)`` on the app's own event loop (its pooled connections belong to that loop)."""
    engine: AsyncEngine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    assert client.portal is not None, "the TestClient must be entered"

    async def run() -> T:
        return await job(engine)

    return client.portal.call(run)


def add_api_user(client: TestClient, login: str, password: str, role: Role) -> int:
    async def job(engine: AsyncEngine) -> int:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                return await create_api_user(conn, login, password, role)

    return on_app_loop(client, job)


def fresh_token(client: TestClient, api_user_id: int) -> str:
    """A new session token, as login issues it, without paying for a password hash each time."""

    async def job(engine: AsyncEngine) -> str:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                return await issue_token(conn, api_user_id, "session")

    return on_app_loop(client, job)


def age_token(client: TestClient, token: str, moment: datetime) -> None:
    """Pretend the token was last used at ``moment``."""

    async def job(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                statement = update(api_tokens).where(api_tokens.c.token_hash == hash_token(token))
                result = await conn.execute(statement.values(last_used_at=moment))
                assert result.rowcount == 1

    on_app_loop(client, job)


def new_api(client: TestClient, transport: str, login: str = "admin", password: str | None = None) -> Api:
    handle = Api(client, transport)
    if password is None:
        handle.login(login)
    else:
        handle.login(login, password)
    return handle


class Directory:
    """Makes directory objects through the API and returns their new ids."""

    def __init__(self, api: Api) -> None:
        self.api = api

    @staticmethod
    def _only_key(mapping: dict[str, Any]) -> int:
        [key] = mapping
        return int(key)

    def domain(self, name: str) -> int:
        return self._only_key(self.api.ok("[Domains][Add] Domain", {"name": name})["domains"])

    def domain_param(self, domain_id: int, name: str, value: str = "v") -> int:
        reply = self.api.ok("[Domains] New_domain_param", {"id": domain_id, "index": 0, "name": name, "value": value})
        return self._only_key(reply["domain_details"][str(domain_id)]["parameters"])

    def domain_var(self, domain_id: int, name: str, value: str = "v") -> int:
        reply = self.api.ok("[Domains] New_domain_var", {"id": domain_id, "index": 0, "name": name, "value": value})
        return self._only_key(reply["domain_details"][str(domain_id)]["variables"])

    def user(self, domain_id: int, name: str) -> int:
        reply = self.api.ok("[Users] Add_new_user", {"id": domain_id, "name": name})
        return self._only_key(reply["directory_users"][str(domain_id)])

    def user_param(self, user_id: int, name: str, value: str = "v") -> int:
        reply = self.api.ok("[Users] Add_user_param", {"id": user_id, "index": 0, "name": name, "value": value})
        return self._only_key(reply["user_details"][str(user_id)]["parameters"])

    def user_var(self, user_id: int, name: str, value: str = "v") -> int:
        reply = self.api.ok("[Users] Add_user_var", {"id": user_id, "index": 0, "name": name, "value": value})
        return self._only_key(reply["user_details"][str(user_id)]["variables"])

    def group(self, domain_id: int, name: str) -> int:
        return self._only_key(self.api.ok("[Groups] Add_new_group", {"id": domain_id, "name": name})["items"])

    def member(self, group_id: int, user_id: int) -> int:
        reply = self.api.ok("[Groups] Add_group_user", {"id": group_id, "value": str(user_id)})
        return self._only_key(reply["group_users"][str(group_id)])

    def gateway(self, user_id: int, name: str) -> int:
        return int(self.api.ok("[Gateways] Add_new_user_gateway", {"id": user_id, "name": name})["item"]["id"])

    def gateway_param(self, gateway_id: int, name: str, value: str = "v") -> int:
        reply = self.api.ok("[Gateways] Add_user_gateway_param", {"id": gateway_id, "name": name, "value": value})
        return int(reply["item"]["id"])

    def gateway_var(self, gateway_id: int, name: str, value: str = "v", direction: str = "") -> int:
        variable = {"enabled": True, "name": name, "value": value, "direction": direction}
        reply = self.api.ok("[Gateways] Add_user_gateway_var", {"id": gateway_id, "index": 0, "variable": variable})
        return self._only_key(reply["gateway_details"][str(gateway_id)]["variables"])


class StubFreeswitch:
    """Stands for a connected Event Socket: answers ``api`` from a table."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.connected = True
        self.replies = replies
        self.commands: list[str] = []

    async def api(self, command: str, timeout: float | None = None) -> str:
        self.commands.append(command)
        return self.replies[command]


@contextmanager
def stub_freeswitch(client: TestClient, replies: dict[str, str]) -> Iterator[StubFreeswitch]:
    """A connected FreeSWITCH for the app while the block runs; none again after it."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    stub = StubFreeswitch(replies)
    runtime.freeswitch = stub
    try:
        yield stub
    finally:
        runtime.freeswitch = None
