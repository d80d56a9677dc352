"""A cache miss costs a fixed number of SQL statements whatever the directory size; a hit none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.xmlcurl.helpers import domain_body, domain_of, domain_xml, lookup, sip_auth_body, users_in

LOOKUPS: dict[str, Callable[[str], str]] = {
    "user": lambda d: sip_auth_body("1005", d),
    "unknown user": lambda d: sip_auth_body("99999", d),
    "group": lambda d: domain_body(d, group="sales", action="group_call"),
    "gateways of the domain": lambda d: domain_body(d, purpose="gateways", profile="external"),
    "network list": lambda d: domain_body(d, purpose="network-list", domain=d),
}


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


@pytest.fixture
def sized(fs: TestClient, admin: Api) -> AsyncEngine:
    admin.ok("ImportXMLDomain", {"file": domain_xml("small.test", 10)})
    admin.ok("ImportXMLDomain", {"file": domain_xml("big.test", 10_000)})
    engine: AsyncEngine = fs.app.state.runtime.engine  # type: ignore[attr-defined]
    # A first lookup opens the pooled connection (PostgreSQL asks the server a few things then).
    lookup(fs, sip_auth_body("1000", "warmup.test"))
    return engine


def test_cold_lookups_cost_the_same_for_10_and_10000_users(fs: TestClient, sized: AsyncEngine) -> None:
    for kind, body in LOOKUPS.items():
        counts = {}
        for domain in ("small.test", "big.test"):
            with counting(sized) as statements:
                lookup(fs, body(domain))
            counts[domain] = len(statements)
        assert counts["small.test"] == counts["big.test"], (kind, counts)
        assert 1 <= counts["big.test"] <= 8, (kind, counts)


def test_warm_lookups_cost_no_statement(fs: TestClient, sized: AsyncEngine) -> None:
    for kind, make in LOOKUPS.items():
        body = make("big.test")
        first = lookup(fs, body)
        with counting(sized) as statements:
            assert lookup(fs, body) == first
        assert statements == [], kind


def test_user_answer_holds_one_user_of_the_big_domain(fs: TestClient, sized: AsyncEngine) -> None:
    answer = lookup(fs, sip_auth_body("5432", "big.test"))
    assert list(users_in(domain_of(answer, "big.test"))) == ["5432"]
    assert len(answer) < 2000
