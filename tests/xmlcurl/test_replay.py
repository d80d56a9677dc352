"""Every request FreeSWITCH 1.10.12's mod_xml_curl made (xml_curl_requests.jsonl), replayed.

The directory is the recorded one (domain xmlcurl.test, imported through the event API); each answer
is read with an XML parser and checked for what FreeSWITCH needed from it, following the recorded
responder's ``reason`` for each request.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.xmlcurl.conftest import import_recorded_directory
from tests.xmlcurl.helpers import (
    RECORDED_DIRECTORY,
    domain_of,
    gateways,
    group_members,
    is_not_found,
    lookup,
    params,
    recorded_requests,
    users_in,
)

DOMAIN = "xmlcurl.test"


def recorded_users() -> dict[str, ElementTree.Element]:
    domain = ElementTree.parse(RECORDED_DIRECTORY).getroot().find("section/domain")
    assert domain is not None
    return users_in(domain)


def check_user_answer(answer: bytes, user: str) -> None:
    domain = domain_of(answer, DOMAIN)
    assert params(domain)["jsonrpc-allowed-methods"] == "verto"
    assert params(domain, "variables", "variable")["user_context"] == "default"
    found = users_in(domain)
    assert list(found) == [user]
    assert params(found[user]) == params(recorded_users()[user])
    assert params(found[user], "variables", "variable") == params(recorded_users()[user], "variables", "variable")
    # No pointer may come before (or at all with) the real user: FreeSWITCH would take it (403).
    assert not [u for u in domain.iter("user") if u.get("type") == "pointer"]


def check_whole_domain(answer: bytes) -> None:
    domain = domain_of(answer, DOMAIN)
    found = users_in(domain)
    assert set(found) == {"2000", "2001"}
    assert params(found["2000"])["password"] == "s3cret"
    assert params(found["2001"])["password"] == "s3cret2"
    assert found["2000"].get("cacheable") == "5000"
    assert group_members(domain, "sales") == ["2000", "2001"]
    # Real users come first, in a group, before any pointer.
    ids = [(u.get("id"), u.get("type")) for u in domain.iter("user")]
    assert ids.index(("2000", "pointer")) > ids.index(("2001", None))


def check(record: dict[str, Any], answer: bytes) -> None:
    form: dict[str, str] = record["request"]["form_dict"]
    reason: str = record["response"]["reason"]
    if reason == "unknown domain -> not found":
        assert form["key_value"] == "127.0.0.1"
        assert is_not_found(answer)
    elif reason == "unknown user -> not found":
        # Our answer differs on purpose: the known domain without the user, so the lookup fails
        # for good instead of falling back to FreeSWITCH's static files.
        domain = domain_of(answer, DOMAIN)
        assert form["user"] == "9999"
        assert users_in(domain) == {}
        assert params(domain)["jsonrpc-allowed-methods"] == "verto"
    elif reason.startswith("purpose=gateways"):
        domain = domain_of(answer, DOMAIN)
        assert gateways(domain) == {"gw-test": {"realm": "127.0.0.1:5999", "register": "false"}}
    elif reason.startswith("whole-section lookup"):
        # Recorded with a static directory (vanilla mode), where the responder said not found;
        # with ours loaded, the whole directory is the answer.
        check_whole_domain(answer)
    elif "user" in form and form.get("key") == "id":
        check_user_answer(answer, form["user"])
    elif form.get("action") == "group_call":
        domain = domain_of(answer, DOMAIN)
        assert group_members(domain, form["group_name"]) == ["2000", "2001"]
        assert {"2000", "2001"} <= set(users_in(domain))
    else:
        assert form.get("purpose") is None and "user" not in form
        check_whole_domain(answer)


def test_every_recorded_request(fs: TestClient, admin: Api) -> None:
    import_recorded_directory(admin)
    records = recorded_requests()
    assert len(records) == 27
    for record in records:
        request = record["request"]
        assert request["method"] == "POST"
        answer = lookup(fs, request["body"])
        check(record, answer)
        # Asked again: the same bytes, now from the cache.
        assert lookup(fs, request["body"]) == answer


def test_recorded_requests_as_get(fs: TestClient, admin: Api) -> None:
    """mod_xml_curl with ``method`` set sends the same fields as a query string."""
    import_recorded_directory(admin)
    for record in recorded_requests():
        response = fs.get(f"/freeswitch/directory?{record['request']['body']}")
        assert response.status_code == 200
        check(record, response.content)


@pytest.mark.parametrize("seq", [18, 27])
def test_whole_section_of_an_empty_directory_is_not_found(fs: TestClient, seq: int) -> None:
    """An empty directory must not hide FreeSWITCH's own files from ``xml_locate directory``."""
    body = next(r for r in recorded_requests() if r["seq"] == seq)["request"]["body"]
    assert is_not_found(lookup(fs, body))


def test_gateway_loads_of_an_empty_directory_are_not_found(fs: TestClient) -> None:
    for record in recorded_requests():
        if record["request"]["form_dict"].get("purpose") == "gateways":
            assert is_not_found(lookup(fs, record["request"]["body"]))
