"""Fixtures shared by the event API tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from tests.api.helpers import new_api
from tests.conftest import Api, _postgres


@pytest.fixture
def http_api(client: TestClient) -> Iterator[Api]:
    """One transport only: for tests about data rather than about the door it came through."""
    handle = new_api(client, "http")
    yield handle
    handle.close()


@pytest.fixture
def ws_api(client: TestClient) -> Iterator[Api]:
    handle = new_api(client, "ws")
    yield handle
    handle.close()


@pytest.fixture
def other_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second empty database of the same kind as ``settings``."""
    if settings.database_url.startswith("sqlite"):
        yield replace(settings, database_url=f"sqlite:///{tmp_path / 'other.db'}")
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    try:
        yield replace(settings, database_schema=schema)
    finally:
        asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def other_client(other_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(other_settings)) as test_client:
        yield test_client
