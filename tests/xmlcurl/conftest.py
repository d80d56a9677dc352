"""Fixtures of the mod_xml_curl tests: a client calling from 127.0.0.1, an API handle on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from tests.conftest import Api
from tests.xmlcurl.helpers import RECORDED_DIRECTORY

LOCAL = ("127.0.0.1", 40000)


@pytest.fixture
def fs(settings: Settings) -> Iterator[TestClient]:
    """The app, called from 127.0.0.1 (inside the default allow-list) as FreeSWITCH would."""
    with TestClient(create_app(settings), client=LOCAL) as client:
        yield client


@pytest.fixture
def admin(fs: TestClient) -> Iterator[Api]:
    handle = Api(fs, "http")
    handle.login()
    yield handle
    handle.close()


def import_recorded_directory(api: Api) -> None:
    """Domain xmlcurl.test exactly as the recording responder served it."""
    api.ok("ImportXMLDomain", {"file": RECORDED_DIRECTORY.read_text()})


@contextmanager
def recorded_app(settings: Settings, client: tuple[str, int] = LOCAL) -> Iterator[tuple[TestClient, Api]]:
    """An app on ``settings``, called from ``client``, holding the recorded directory."""
    with TestClient(create_app(settings), client=client) as test_client:
        api = Api(test_client, "http")
        api.login()
        import_recorded_directory(api)
        yield test_client, api
