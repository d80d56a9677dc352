"""The app against the fake FreeSWITCH: the fake runs on its own event loop thread, the app in
the TestClient's, both on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.testclient import TestClient, WebSocketTestSession

from fsdir.app import create_app
from fsdir.config import Settings
from fsdir.freeswitch import link
from fsdir.freeswitch.esl_frames import Event, Frame, decode_event, parse_frames
from fsdir.freeswitch.fake import FakeFreeSWITCH, load_recorded_api
from fsdir.freeswitch.live import LiveState
from fsdir.runtime import Runtime
from tests.conftest import ADMIN_PASSWORD, FIXTURES

T = TypeVar("T")

ESL = FIXTURES / "esl"
XMLCURL_DIRECTORY = FIXTURES / "xmlcurl_directory_response.xml"
NO_ROWS = '{"row_count": 0}\n'


def event_frames(name: str) -> list[Frame]:
    """The event frames of a recorded `events_*.txt` file, as recorded."""
    return [
        f for f in parse_frames((ESL / name).read_bytes()) if f.content_type in ("text/event-json", "text/event-plain")
    ]


def recorded_events(name: str) -> list[Event]:
    return [decode_event(frame) for frame in event_frames(name)]


def eventually(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class FakeFS:
    """The fake FreeSWITCH, driven from the test thread."""

    def __init__(self, portal: BlockingPortal, fake: FakeFreeSWITCH) -> None:
        self.portal = portal
        self.fake = fake

    @property
    def port(self) -> int:
        return self.fake.port

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        return self.portal.call(func, *args)

    def set_api(self, command: str, reply: str, *, prefix: bool = False) -> None:
        self.call(lambda: self.fake.set_api(command, reply, prefix=prefix))

    def replay(self, data: Path | bytes) -> int:
        return int(self.call(self.fake.replay, data))

    def emit(self, event: Event) -> int:
        return int(self.call(self.fake.emit, event))

    def replay_frames(self, frames: list[Frame]) -> int:
        return self.replay(b"".join(frame.encode() for frame in frames))

    def commands(self) -> list[str]:
        return list(self.call(lambda: list(self.fake.command_lines)))

    def wait_for_command(self, line: str, timeout: float = 5.0) -> None:
        self.call(self.fake.wait_for_command, line, timeout)

    def connections(self) -> int:
        return int(self.call(lambda: len(self.fake.connections)))


@pytest.fixture
def fake_fs() -> Iterator[FakeFS]:
    with start_blocking_portal() as portal:
        fake = FakeFreeSWITCH(api=load_recorded_api(ESL))
        fake.set_api("show registrations as json", NO_ROWS)
        fake.set_api("show channels as json", NO_ROWS)
        fake.set_api("xml_flush_cache", "+OK cleared 0 entries\n", prefix=True)
        fake.set_api("sofia profile external killgw", "+OK gateway marked for deletion.\n", prefix=True)
        portal.call(fake.start)
        try:
            yield FakeFS(portal, fake)
        finally:
            portal.call(fake.stop)


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link, "BACKOFF", link.Backoff(minimum=0.05, maximum=0.4))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """For tests where the database plays no part."""
    return Settings(
        admin_login="admin",
        admin_password=ADMIN_PASSWORD,
        esl_host="",
        database_url=f"sqlite:///{tmp_path / 'fsdir.db'}",
    )


def with_fake(settings: Settings, fake_fs: FakeFS, **changes: Any) -> Settings:
    return replace(
        settings, **{"esl_host": "127.0.0.1", "esl_port": fake_fs.port, "esl_command_timeout": 2.0, **changes}
    )


def runtime(client: TestClient) -> Runtime:
    return client.app.state.runtime  # type: ignore[attr-defined,no-any-return]


def on_loop(client: TestClient, func: Callable[[], T]) -> T:
    """Run `func` on the app's event loop (where the live state changes)."""
    assert client.portal is not None
    return client.portal.call(func)


def live(client: TestClient) -> LiveState:
    return runtime(client).live


def connected(client: TestClient) -> bool:
    fs = runtime(client).freeswitch
    return bool(fs is not None and fs.connected)


def wait_connected(client: TestClient, timeout: float = 5.0) -> None:
    eventually(lambda: connected(client), timeout, "the link to connect")


@pytest.fixture
def app_client(settings: Settings, fake_fs: FakeFS) -> Iterator[TestClient]:
    """The app (both databases) connected to the fake."""
    with TestClient(create_app(with_fake(settings, fake_fs))) as client:
        wait_connected(client)
        yield client


@pytest.fixture
def lite_client(sqlite_settings: Settings, fake_fs: FakeFS) -> Iterator[TestClient]:
    """The app on SQLite connected to the fake."""
    with TestClient(create_app(with_fake(sqlite_settings, fake_fs))) as client:
        wait_connected(client)
        yield client


class Session:
    """An API client on one WebSocket: requests, and pushes received with a timeout."""

    def __init__(self, client: TestClient) -> None:
        self._context = client.websocket_connect("/ws")
        self.ws: WebSocketTestSession = self._context.__enter__()
        self.pushes: list[dict[str, Any]] = []
        self.token = ""
        self.token = self.ok("login", {"login": "admin", "password": ADMIN_PASSWORD})["token"]

    def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        async def get() -> Any:
            with anyio.fail_after(timeout):
                # The TestClient's receive() has no timeout: wait on its stream ourselves.
                return await self.ws._send_rx.receive()

        message = self.ws.portal.call(get)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])  # type: ignore[no-any-return]

    def call(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {**(data or {}), **({"token": self.token} if self.token else {})}
        self.ws.send_text(json.dumps({"event": event, "data": payload, "id": "req"}))
        while True:
            frame = self.receive()
            if frame.get("id") == "req":
                frame.pop("id")
                return frame
            self.pushes.append(frame)

    def ok(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.call(event, data)
        assert "error" not in reply, reply
        return reply

    def next_push(self, timeout: float = 5.0) -> dict[str, Any]:
        if self.pushes:
            return self.pushes.pop(0)
        return self.receive(timeout)

    def drain(self) -> int:
        """Take every push waiting now; how many there were."""
        count = len(self.pushes)
        self.pushes.clear()
        while True:
            try:
                self.receive(timeout=0.01)
            except TimeoutError:
                return count
            count += 1

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def session_factory() -> Iterator[Callable[[TestClient], Session]]:
    sessions: list[Session] = []

    def make(client: TestClient) -> Session:
        sessions.append(Session(client))
        return sessions[-1]

    yield make
    for session in sessions:
        session.close()


def import_xmlcurl_directory(session: Session) -> tuple[int, dict[str, int]]:
    """Create the xmlcurl.test directory the recordings were made with: (domain id, user ids by name)."""
    session.ok("ImportXMLDomain", {"file": XMLCURL_DIRECTORY.read_text()})
    reply = session.ok("[Users] Get_users")
    [(domain_id, domain)] = reply["domains"].items()
    assert domain["name"] == "xmlcurl.test"
    users = reply["directory_users"][domain_id]
    return int(domain_id), {user["name"]: int(user_id) for user_id, user in users.items()}
