"""Untrusted XML in both imports: entity bombs, external entities and DTDs are refused, nothing is written."""

from __future__ import annotations

import pytest

from tests.api.helpers import Directory
from tests.conftest import Api
from tests.hostile_xml import BILLION_LAUGHS_PROLOG

BILLION_LAUGHS = BILLION_LAUGHS_PROLOG + "{body}"

XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
{body}"""

PARAMETER_ENTITY = """<!DOCTYPE foo [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>
{body}"""

EXTERNAL_DTD = """<!DOCTYPE domain SYSTEM "file:///etc/passwd">
{body}"""

INTERNAL_DTD = """<!DOCTYPE domain [<!ELEMENT domain ANY><!ATTLIST domain name CDATA "dtd.example">]>
{body}"""

# No DTD at all: an entity the document never declares.
UNDECLARED = "{body}"

XINCLUDE = """<domain name="xi.example" xmlns:xi="http://www.w3.org/2001/XInclude">
<xi:include href="file:///etc/passwd" parse="text"/></domain>"""

ATTACKS = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": XXE,
    "parameter entity": PARAMETER_ENTITY,
    "external DTD": EXTERNAL_DTD,
    "internal DTD": INTERNAL_DTD,
    "undeclared entity": UNDECLARED,
}
ENTITIES = {"billion laughs": "&lol9;", "external entity": "&xxe;", "undeclared entity": "&xxe;"}


def attack_documents(shape: str) -> dict[str, str]:
    """Each attack around a domain (ImportXMLDomain) or a user (ImportXMLDomainUser)."""
    documents = {}
    for name, template in ATTACKS.items():
        entity = ENTITIES.get(name, "x")
        if shape == "domain":
            body = f'<domain name="evil.example"><variables><variable name="v" value="{entity}"/></variables></domain>'
        else:
            body = f'<user id="evil"><params><param name="password" value="{entity}"/></params></user>'
        documents[name] = template.format(body=body)
        # Entities in the text or the name, not only in attribute values.
        if name in ENTITIES and shape == "domain":
            documents[f"{name} in a name"] = template.format(body=f'<domain name="{entity}"/>')
    return documents


def state(api: Api) -> tuple[object, ...]:
    return (
        api.ok("[Domains][Get] Domains")["domains"],
        api.ok("[Users] Get_users")["directory_users"],
        api.ok("[Directory] Export", {"include_disabled": True})["file"],
    )


def test_hostile_domain_imports_are_refused(http_api: Api, subtests: pytest.Subtests) -> None:
    Directory(http_api).domain("victim.example")
    before = state(http_api)
    for name, document in attack_documents("domain").items():
        with subtests.test(msg=name):
            assert http_api.call("ImportXMLDomain", {"file": document}) == {
                "MessageType": "ImportXMLDomain",
                "error": "can't parse",
            }
    assert state(http_api) == before
    # XInclude is not processed: at most a domain named as written, never a file's content.
    reply = http_api.call("ImportXMLDomain", {"file": XINCLUDE})
    assert "root:" not in str(reply)
    assert "root:" not in http_api.ok("[Directory] Export", {"include_disabled": True})["file"]
    # And the server still works.
    assert Directory(http_api).domain("after.example")


def test_hostile_user_imports_are_refused(http_api: Api, subtests: pytest.Subtests) -> None:
    domain = Directory(http_api).domain("victim.example")
    before = state(http_api)
    for name, document in attack_documents("user").items():
        with subtests.test(msg=name):
            assert http_api.call("ImportXMLDomainUser", {"id": domain, "file": document}) == {
                "MessageType": "ImportXMLDomainUser",
                "error": "can't parse",
            }
    assert state(http_api) == before
    reply = http_api.ok("ImportXMLDomainUser", {"id": domain, "file": '<user id="after"/>'})
    assert [user["name"] for user in reply["directory_users"][str(domain)].values()] == ["after"]
