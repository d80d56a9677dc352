"""What each kind of request gets, beyond the recorded ones: FreeSWITCH's matching rules, settings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from fsdir.config import Settings
from fsdir.freeswitch.lookup import Kind, Lookup
from tests.conftest import Api
from tests.xmlcurl.conftest import import_recorded_directory, recorded_app
from tests.xmlcurl.helpers import (
    domain_body,
    domain_of,
    domain_xml,
    gateways,
    group_members,
    is_not_found,
    lookup,
    params,
    sip_auth_body,
    users_in,
)

DOMAIN = "xmlcurl.test"


@pytest.fixture
def loaded(fs: TestClient, admin: Api) -> TestClient:
    import_recorded_directory(admin)
    admin.ok("ImportXMLDomain", {"file": domain_xml("other.example", 25)})
    return fs


def test_names_are_case_insensitive(loaded: TestClient) -> None:
    answer = lookup(loaded, sip_auth_body("2000", "XmlCurl.TEST"))
    # The stored spelling comes back: FreeSWITCH compares it case-insensitively.
    assert list(users_in(domain_of(answer, DOMAIN))) == ["2000"]
    assert domain_of(answer, DOMAIN).get("name") == DOMAIN


def test_whole_domain_and_the_all_users_group(loaded: TestClient) -> None:
    domain = domain_of(lookup(loaded, domain_body("other.example", domain="other.example")), "other.example")
    assert len(users_in(domain)) == 25
    everyone = domain_of(
        lookup(loaded, domain_body("other.example", group="all", action="group_call")), "other.example"
    )
    assert [g.get("name") for g in everyone.iterfind("groups/group")] == ["all", "default", "sales"]
    assert len(users_in(everyone)) == 25


def test_group_answer_holds_the_group_and_its_members_only(loaded: TestClient) -> None:
    domain = domain_of(
        lookup(loaded, domain_body("other.example", group="sales", action="group_call")), "other.example"
    )
    assert group_members(domain, "sales") == ["1000", "1001", "1002"]
    assert set(users_in(domain)) == {"1000", "1001", "1002"}
    assert params(users_in(domain)["1001"])["password"] == "pw1001"
    unknown = domain_of(
        lookup(loaded, domain_body("other.example", group="nobody", action="group_call")), "other.example"
    )
    assert [g.get("name") for g in unknown.iterfind("groups/group")] == ["all"]
    assert is_not_found(lookup(loaded, domain_body("nowhere.example", group="sales", action="group_call")))


def test_in_group_asks_for_the_group(loaded: TestClient) -> None:
    domain = domain_of(lookup(loaded, domain_body(DOMAIN, user="2001", domain=DOMAIN, group_name="sales")), DOMAIN)
    assert "2001" in group_members(domain, "sales")


def test_gateways_of_one_domain_and_of_all(loaded: TestClient) -> None:
    one = domain_of(
        lookup(loaded, domain_body("other.example", purpose="gateways", profile="external")), "other.example"
    )
    assert gateways(one) == {"gw-other.example-1000": {"realm": "r1000"}}
    everything = lookup(loaded, "hostname=h&section=directory&tag_name=&key_name=&key_value=&purpose=gateways")
    assert set(gateways(domain_of(everything, DOMAIN))) == {"gw-test"}
    assert set(gateways(domain_of(everything, "other.example"))) == {"gw-other.example-1000"}
    assert is_not_found(lookup(loaded, domain_body("nowhere.example", purpose="gateways")))


def test_network_list_holds_the_users_with_a_cidr(loaded: TestClient) -> None:
    domain = domain_of(lookup(loaded, domain_body("other.example", purpose="network-list")), "other.example")
    assert {u.get("id"): u.get("cidr") for u in domain.iter("user")} == {
        "1000": "10.3.232.0/24",
        "1010": "10.3.242.0/24",
        "1020": "10.3.252.0/24",
    }
    assert not list(domain_of(lookup(loaded, domain_body(DOMAIN, purpose="network-list")), DOMAIN).iter("user"))


def test_other_sections_tags_and_empty_bodies_are_not_found(loaded: TestClient) -> None:
    for body in (
        "hostname=h&section=dialplan&tag_name=context&key_name=name&key_value=default",
        "hostname=h&section=configuration&tag_name=configuration&key_name=name&key_value=sofia.conf",
        "hostname=h&section=directory&tag_name=user&key_name=id&key_value=2000",
        "",
    ):
        assert is_not_found(lookup(loaded, body)), body


def test_users_of_a_domain_share_one_copy_of_its_part(loaded: TestClient) -> None:
    """Memory: cached user answers keep the domain's part (params, variables) once per domain."""
    lookup(loaded, sip_auth_body("1001", "other.example"))
    lookup(loaded, sip_auth_body("1002", "other.example"))
    documents = loaded.app.state.xmlcurl.endpoint.documents  # type: ignore[attr-defined]
    first = documents.cached(Lookup(Kind.USER, "other.example", "1001"))
    second = documents.cached(Lookup(Kind.USER, "other.example", "1002"))
    assert first.head is second.head and first.head.endswith(b"</variables>")
    assert list(users_in(domain_of(first.body, "other.example"))) == ["1001"]


@pytest.fixture
def hashed(settings: Settings) -> Iterator[TestClient]:
    with recorded_app(replace(settings, xmlcurl_a1_hash=True)) as (client, _):
        yield client


def test_a1_hash_mode_sends_no_password(hashed: TestClient) -> None:
    for user, password in (("2000", "s3cret"), ("2001", "s3cret2")):
        answer = lookup(hashed, sip_auth_body(user, DOMAIN))
        entries = params(users_in(domain_of(answer, DOMAIN))[user])
        assert "password" not in entries
        assert entries["a1-hash"] == hashlib.md5(f"{user}:{DOMAIN}:{password}".encode()).hexdigest()
        assert password.encode() not in answer
    whole = lookup(hashed, domain_body(DOMAIN))
    assert b"s3cret" not in whole and b"a1-hash" in whole
