"""A slow or failing database gives the not-found document within the timeout: never a hang, never a 5xx."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.testclient import TestClient

from fsdir.config import Settings
from fsdir.db.engine import create_engine
from tests.conftest import POSTGRES_URL
from tests.xmlcurl.conftest import recorded_app
from tests.xmlcurl.helpers import domain_of, is_not_found, lookup, sip_auth_body, users_in

TIMEOUT = 0.3
# The answer may take the timeout plus a little: never the time the database takes.
SLACK = 0.6


@pytest.fixture
def quick(settings: Settings) -> Iterator[TestClient]:
    with recorded_app(replace(settings, xmlcurl_timeout=TIMEOUT)) as (client, _):
        yield client


def timed_lookup(client: TestClient, body: str) -> tuple[bytes, float]:
    started = time.monotonic()
    answer = lookup(client, body)
    return answer, time.monotonic() - started


def metric(client: TestClient, kind: str, outcome: str) -> float:
    line = f'fsdir_xmlcurl_lookups_total{{kind="{kind}",outcome="{outcome}"}} '
    text = client.get("/metrics").text
    return float(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])


def use_engine(client: TestClient, engine: AsyncEngine) -> AsyncEngine:
    """Point the lookups (not the API) at another engine; returns the one they used."""
    documents = client.app.state.xmlcurl.endpoint.documents  # type: ignore[attr-defined]
    previous: AsyncEngine = documents.engine
    documents.engine = engine
    return previous


def test_slow_sqlite(settings: Settings, quick: TestClient) -> None:
    """Every statement of the lookups' connections crawls (SQLite's progress handler sleeps)."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's own slowness; PostgreSQL's is a lock, below")
    crawling = threading.Event()
    crawling.set()

    def crawl() -> int:
        if crawling.is_set():
            time.sleep(0.01)
        return 0

    slow = create_engine(settings)

    @event.listens_for(slow.sync_engine, "connect")
    def install(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection._conn.set_progress_handler(crawl, 1)

    fast = use_engine(quick, slow)
    before = metric(quick, "user", "timeout")
    for user in ("2000", "2001", "9999"):
        answer, elapsed = timed_lookup(quick, sip_auth_body(user, "xmlcurl.test"))
        assert is_not_found(answer)
        assert elapsed < TIMEOUT + SLACK, elapsed
    assert metric(quick, "user", "timeout") == before + 3
    crawling.clear()
    # Once the database is itself again, so are the answers (the timed-out ones were not cached).
    time.sleep(0.2)
    assert list(users_in(domain_of(lookup(quick, sip_auth_body("2000", "xmlcurl.test")), "xmlcurl.test"))) == ["2000"]
    use_engine(quick, fast)
    assert quick.portal is not None
    quick.portal.call(slow.dispose)


def test_postgresql_table_locked_by_another_writer(settings: Settings, quick: TestClient) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("a table lock of PostgreSQL; SQLite's slowness is above")
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_lock() -> None:
        async def run() -> None:
            import asyncpg

            conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql://", "postgres://"), timeout=10)
            try:
                async with conn.transaction():
                    await conn.execute(f"LOCK TABLE {settings.database_schema}.domains IN ACCESS EXCLUSIVE MODE")
                    locked.set()
                    await asyncio.to_thread(release.wait, 30)
            finally:
                await conn.close()
                done.set()

        asyncio.run(run())

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        for user in ("2000", "2001"):
            answer, elapsed = timed_lookup(quick, sip_auth_body(user, "xmlcurl.test"))
            assert is_not_found(answer)
            assert elapsed < TIMEOUT + SLACK, elapsed
        assert metric(quick, "user", "timeout") == 2
    finally:
        release.set()
        holder.join(30)
    assert done.is_set()
    assert list(users_in(domain_of(lookup(quick, sip_auth_body("2000", "xmlcurl.test")), "xmlcurl.test"))) == ["2000"]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung database server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield int(server.getsockname()[1])
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hung_database_server(quick: TestClient, blackhole: int) -> None:
    hung = create_async_engine(f"postgresql+asyncpg://fsdir@127.0.0.1:{blackhole}/fsdir", pool_size=2)
    use_engine(quick, hung)
    for _ in range(5):
        answer, elapsed = timed_lookup(quick, sip_auth_body("2000", "xmlcurl.test"))
        assert is_not_found(answer)
        assert elapsed < TIMEOUT + SLACK, elapsed
    assert quick.portal is not None
    quick.portal.call(hung.dispose)


@pytest.mark.parametrize(
    "url",
    [
        lambda: f"postgresql+asyncpg://fsdir:pw@127.0.0.1:{closed_port()}/fsdir",
        lambda: "sqlite+aiosqlite:////nonexistent/directory/fsdir.db",
    ],
    ids=["postgresql-closed-port", "sqlite-missing-file"],
)
def test_failing_database(quick: TestClient, url: Any, caplog: pytest.LogCaptureFixture) -> None:
    failing = create_async_engine(url())
    use_engine(quick, failing)
    before = metric(quick, "user", "error")
    for user in ("2000", "2001"):
        answer, elapsed = timed_lookup(quick, sip_auth_body(user, "xmlcurl.test"))
        assert is_not_found(answer)
        assert elapsed < TIMEOUT + SLACK, elapsed
    assert metric(quick, "user", "error") == before + 2
    warnings = [r for r in caplog.records if r.name == "fsdir.xmlcurl" and r.levelno == logging.WARNING]
    # One line per ten seconds at most, naming the error's type only.
    assert len(warnings) == 1
    assert "s3cret" not in warnings[0].getMessage() and "pw" not in warnings[0].getMessage()
    assert quick.portal is not None
    quick.portal.call(failing.dispose)
