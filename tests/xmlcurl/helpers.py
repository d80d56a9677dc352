"""Helpers for the mod_xml_curl tests: recorded requests, request bodies, reading answers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from starlette.testclient import TestClient

from fsdir.freeswitch.render import NOT_FOUND
from tests.conftest import FIXTURES

PATH = "/freeswitch/directory"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
RECORDED_DIRECTORY = FIXTURES / "xmlcurl_directory_response.xml"


@cache
def recorded_requests() -> tuple[dict[str, Any], ...]:
    """Every request line of xml_curl_requests.jsonl (markers left out), in order."""
    lines = (FIXTURES / "xml_curl_requests.jsonl").read_text().splitlines()
    return tuple(record for record in map(json.loads, lines) if "seq" in record)


def recorded(seq: int) -> dict[str, Any]:
    return next(record for record in recorded_requests() if record["seq"] == seq)


def sip_auth_body(user: str, domain: str) -> str:
    """The recorded REGISTER digest lookup (seq 6, user 2000 of xmlcurl.test) for another user."""
    body: str = recorded(6)["request"]["body"]
    return body.replace("xmlcurl.test", quote(domain, safe="")).replace("2000", quote(user, safe=""))


def domain_body(key_value: str, /, **fields: str) -> str:
    """A domain lookup as FreeSWITCH writes it: the unencoded prefix, then encoded fields."""
    prefix = f"hostname=fs-test&section=directory&tag_name=domain&key_name=name&key_value={key_value}"
    return prefix + "".join(f"&{name}={quote(value, safe='')}" for name, value in fields.items())


def user_body(user: str, domain: str) -> str:
    return domain_body(domain, key="id", user=user, domain=domain)


def lookup(client: TestClient, body: str) -> bytes:
    response = client.post(PATH, content=body.encode(), headers=FORM)
    assert response.status_code == 200, response.status_code
    assert response.headers["content-type"] == "text/xml"
    return response.content


def parse(answer: bytes) -> ElementTree.Element:
    """The answer as FreeSWITCH reads it, checked for the lines its pre-processor would drop."""
    for line in answer.decode().splitlines():
        assert "<?" not in line and "<include>" not in line, line
    return ElementTree.fromstring(answer)


def is_not_found(answer: bytes) -> bool:
    return answer == NOT_FOUND


def domain_of(answer: bytes, name: str) -> ElementTree.Element:
    root = parse(answer)
    section = root.find("section")
    assert section is not None and section.get("name") == "directory", answer
    found = [d for d in section.findall("domain") if d.get("name", "").lower() == name.lower()]
    assert len(found) == 1, answer
    return found[0]


def users_in(domain: ElementTree.Element) -> dict[str, ElementTree.Element]:
    """Real users by id, where FreeSWITCH finds them (inside groups; pointers left out)."""
    return {
        user.get("id", ""): user for user in domain.iterfind("groups/group/users/user") if user.get("type") != "pointer"
    }


def params(element: ElementTree.Element, container: str = "params", tag: str = "param") -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iterfind(f"{container}/{tag}")}


def group_members(domain: ElementTree.Element, group: str) -> list[str]:
    for element in domain.iterfind("groups/group"):
        if element.get("name") == group:
            return [u.get("id", "") for u in element.iterfind("users/user") if u.get("type") == "pointer"]
    raise AssertionError(f"no group {group}")


def gateways(domain: ElementTree.Element) -> dict[str, dict[str, str]]:
    return {
        gateway.get("name", ""): {p.get("name", ""): p.get("value", "") for p in gateway.iterfind("param")}
        for gateway in domain.iterfind("groups/group/users/user/gateways/gateway")
    }


def domain_xml(name: str, users: int, *, first: int = 1000) -> str:
    """A domain of ``users`` users (password, a variable; every tenth with a cidr, every hundredth
    with a gateway), a group ``sales`` of the first three, for ImportXMLDomain."""
    lines = [
        '<document type="freeswitch/xml"><section name="directory">',
        f'<domain name="{name}"><params><param name="dial-string" value="{{presence_id=x}}"/></params>',
        '<variables><variable name="user_context" value="default"/></variables><groups><group name="default"><users>',
    ]
    for number in range(first, first + users):
        cidr = f' cidr="10.{number // 256 % 256}.{number % 256}.0/24"' if number % 10 == 0 else ""
        gateway = (
            f'<gateways><gateway name="gw-{name}-{number}"><param name="realm" value="r{number}"/></gateway></gateways>'
            if number % 100 == 0
            else ""
        )
        lines.append(
            f'<user id="{number}"{cidr}><params><param name="password" value="pw{number}"/></params>'
            f'<variables><variable name="effective_caller_id_number" value="{number}"/></variables>{gateway}</user>'
        )
    lines.append('</users></group><group name="sales"><users>')
    lines.extend(f'<user id="{number}" type="pointer"/>' for number in range(first, first + min(users, 3)))
    lines.append("</users></group></groups></domain></section></document>")
    return "\n".join(lines)
