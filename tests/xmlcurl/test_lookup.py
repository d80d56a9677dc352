"""Request → lookup: the kinds of spec/FREESWITCH.md, from the fields FreeSWITCH sends."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsdir.freeswitch.lookup import Kind, Lookup, form_value, parse_lookup
from tests.xmlcurl.helpers import domain_body, recorded_requests, sip_auth_body

PREFIX = "hostname=fs-test&section=directory&tag_name=domain&key_name=name&key_value="


def test_recorded_requests_are_classified() -> None:
    kinds = {record["seq"]: parse_lookup(record["request"]["body"].encode()) for record in recorded_requests()}
    assert kinds[1] == kinds[2] == kinds[25] == Lookup(Kind.GATEWAYS)
    assert kinds[3] == Lookup(Kind.NETWORK_LIST, "127.0.0.1")
    for seq in (6, 7, 9, 12, 14, 15, 16, 22, 24, 26):
        assert kinds[seq] == Lookup(Kind.USER, "xmlcurl.test", "2000"), seq
    for seq in (8, 10, 11, 20, 23):
        assert kinds[seq] == Lookup(Kind.USER, "xmlcurl.test", "2001"), seq
    assert kinds[13] == Lookup(Kind.USER, "xmlcurl.test", "9999")
    assert kinds[17] == kinds[19] == Lookup(Kind.DOMAIN, "xmlcurl.test")
    assert kinds[18] == kinds[27] == Lookup(Kind.DIRECTORY)
    assert kinds[21] == Lookup(Kind.GROUP, "xmlcurl.test", "sales")


def test_sip_auth_template() -> None:
    body = sip_auth_body("5000", "d7.example").encode()
    assert [form_value(body, name) for name in ("user", "key_value", "key")] == ["5000", "d7.example", "id"]


NAMES = ["section", "tag_name", "key_name", "key_value", "purpose", "key", "user", "group", "group_name"]
OTHERS = ["hostname", "sip_auth_response", "domain", "ip", "Event-Name", "tag", "keys", "users", "xuser"]


@given(
    st.lists(
        st.tuples(st.sampled_from(NAMES + OTHERS), st.text(max_size=12)),
        max_size=15,
    )
)
def test_fields_are_read_as_parse_qsl_reads_them(fields: list[tuple[str, str]]) -> None:
    """Values encoded as FreeSWITCH encodes them (or less: only what must be), names raw; repeated
    fields, empty values, anything UTF-8: the value read is parse_qsl's last one."""
    body = "&".join(f"{name}={quote(value, safe='')}" for name, value in fields).encode()
    expected = dict(parse_qsl(body.decode(), keep_blank_values=True))
    for name in NAMES:
        assert form_value(body, name) == expected.get(name, ""), name


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Names are compared case-insensitively, so they are keys in lower case.
        (domain_body("Example.COM", key="id", user="Alice"), Lookup(Kind.USER, "example.com", "alice")),
        (domain_body("d", key="number-alias", user="5000"), Lookup(Kind.USER, "d", "5000")),
        # GENERAL events repeat fields (voicemail's second lookup): the last one wins.
        (domain_body("d", key="id", user="1") + "&key=number-alias&user=2", Lookup(Kind.USER, "d", "2")),
        # in_group sends user and group_name but no key: a group lookup.
        (domain_body("d", user="1000", domain="d", group_name="sales"), Lookup(Kind.GROUP, "d", "sales")),
        (domain_body("d", group="Sales", action="group_call"), Lookup(Kind.GROUP, "d", "sales")),
        # user_exists with another key matches on that attribute: the whole domain answers it.
        (domain_body("d", key="cidr", user="1000"), Lookup(Kind.DOMAIN, "d")),
        # publish-vm: user=_all_ and no key.
        (domain_body("d", purpose="publish-vm", user="_all_"), Lookup(Kind.DOMAIN, "d")),
        (domain_body("d", purpose="gateways", profile="external"), Lookup(Kind.GATEWAYS, "d")),
        (domain_body("d", purpose="network-list", domain="d"), Lookup(Kind.NETWORK_LIST, "d")),
        (domain_body("d", domain="d"), Lookup(Kind.DOMAIN, "d")),
        ("hostname=h&section=directory&tag_name=&key_name=&key_value=", Lookup(Kind.DIRECTORY)),
        ("hostname=h&section=directory&tag_name=&key_name=&key_value=&purpose=gateways", Lookup(Kind.GATEWAYS)),
        ("hostname=h&section=dialplan&tag_name=context&key_name=name&key_value=default", Lookup(Kind.OTHER)),
        (
            "hostname=h&section=configuration&tag_name=configuration&key_name=name&key_value=acl.conf",
            Lookup(Kind.OTHER),
        ),
        ("hostname=h&section=directory&tag_name=user&key_name=id&key_value=1000", Lookup(Kind.OTHER)),
        ("", Lookup(Kind.OTHER)),
        ("garbage&&==&%zz", Lookup(Kind.OTHER)),
        # Values FreeSWITCH encodes (space is %20, never +; an existing %XX is sent as is).
        (PREFIX + "d&key=id&user=a%20b%2Bc", Lookup(Kind.USER, "d", "a b+c")),
        # xml_locate sends section twice.
        (PREFIX + "d&section=directory&tag=domain", Lookup(Kind.DOMAIN, "d")),
    ],
)
def test_classify(body: str, expected: Lookup) -> None:
    assert parse_lookup(body.encode()) == expected


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert parse_lookup(PREFIX.encode() + b"d\xff&key=id&user=x") == Lookup(Kind.USER, "d\ufffd", "x")
