"""Who may read the directory: the address allow-list, basic auth; and what never reaches a log."""

from __future__ import annotations

import base64
import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from fsdir.app import create_app
from fsdir.config import Settings
from fsdir.freeswitch.access import AccessPolicy
from tests.conftest import Api
from tests.xmlcurl.conftest import LOCAL, import_recorded_directory, recorded_app
from tests.xmlcurl.helpers import FORM, PATH, lookup, recorded_requests, sip_auth_body

XC_USER = "freeswitch"
XC_PASSWORD = "xml-curl-Secret-42"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {**FORM, "Authorization": f"Basic {token}"}


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    with recorded_app(replace(settings, xmlcurl_user=XC_USER, xmlcurl_password=XC_PASSWORD)) as (client, _):
        yield client


def assert_refused(response: Response, status: int) -> None:
    assert response.status_code == status
    body = response.content
    assert body == b""
    assert b"s3cret" not in body and b"xmlcurl" not in body


@pytest.mark.parametrize(
    "headers",
    [
        FORM,
        basic(XC_USER, "wrong"),
        basic("someone", XC_PASSWORD),
        basic(XC_USER, XC_PASSWORD + "x"),
        {**FORM, "Authorization": "Basic !!!not-base64"},
        {**FORM, "Authorization": "Bearer " + base64.b64encode(f"{XC_USER}:{XC_PASSWORD}".encode()).decode()},
        {**FORM, "Authorization": "Basic"},
    ],
)
def test_wrong_credentials_get_401_and_no_data(guarded: TestClient, headers: dict[str, str]) -> None:
    response = guarded.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=headers)
    assert_refused(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic")


def test_right_credentials_get_the_user(guarded: TestClient) -> None:
    response = guarded.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=basic(XC_USER, XC_PASSWORD))
    assert response.status_code == 200
    assert b'value="s3cret"' in response.content
    scheme_in_lower_case = {
        **FORM,
        "Authorization": "basic " + base64.b64encode(f"{XC_USER}:{XC_PASSWORD}".encode()).decode(),
    }
    assert (
        guarded.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=scheme_in_lower_case).status_code
        == 200
    )


@pytest.mark.parametrize("address", ["192.0.2.7", "10.1.2.3", "::2", "fe80::1", "not-an-address", "testclient"])
def test_addresses_outside_the_allow_list_get_403_and_no_data(settings: Settings, address: str) -> None:
    with recorded_app(settings, client=(address, 5060)) as (client, _):
        for record in recorded_requests():
            response = client.post(PATH, content=record["request"]["body"], headers=FORM)
            assert_refused(response, 403)
        # Credentials do not open the door to an address outside the list.
        response = client.get(PATH + "?" + sip_auth_body("2000", "xmlcurl.test"))
        assert_refused(response, 403)


def test_allow_list_setting(settings: Settings) -> None:
    allowed = replace(settings, xmlcurl_allow=(ipaddress.ip_network("192.0.2.0/24"),))
    with TestClient(create_app(allowed), client=("192.0.2.200", 5060)) as client:
        assert client.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=FORM).status_code == 200
    with TestClient(create_app(allowed), client=LOCAL) as client:
        assert client.post(PATH, content=sip_auth_body("2000", "xmlcurl.test"), headers=FORM).status_code == 403


def test_policy_addresses() -> None:
    policy = AccessPolicy([ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")])
    assert policy.check("127.0.0.1", None) == 0
    assert policy.check("127.9.9.9", None) == 0
    assert policy.check("::1", None) == 0
    assert policy.check("::ffff:127.0.0.1", None) == 0  # a dual-stack socket's view of IPv4
    assert policy.check("128.0.0.1", None) == 403
    assert policy.check(None, None) == 403
    assert policy.check("", None) == 403
    for number in range(3000):  # many addresses: the memo of seen addresses stays bounded
        assert policy.check(f"10.0.{number // 256}.{number % 256}", None) == 403
    assert len(policy._hosts) <= 1024


def test_no_secret_reaches_a_log(fs: TestClient, admin: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Every recorded request replayed, with every logger at DEBUG: no password, no digest field."""
    import_recorded_directory(admin)
    secrets = {"s3cret", "s3cret2"}
    for record in recorded_requests():
        form = record["request"]["form_dict"]
        secrets |= {form[name] for name in ("sip_auth_response", "sip_auth_nonce", "sip_auth_cnonce") if name in form}
    assert "71a657cb3e8a2ac6f562dad1a71c89c7" in secrets
    caplog.set_level(logging.DEBUG)
    for record in recorded_requests():
        lookup(fs, record["request"]["body"])
        lookup(fs, record["request"]["body"])
    lookup_lines = [r for r in caplog.records if r.name == "fsdir.xmlcurl"]
    assert len(lookup_lines) >= 2 * len(recorded_requests())
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in secrets:
        assert secret not in text, secret
