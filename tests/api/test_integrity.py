"""All or nothing, and what a delete takes with it: checked through the API, as a client sees it."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import Directory
from tests.conftest import Api

FIRST_DOMAIN = """
<domain name="first.example">
  <params><param name="dial-string" value="x"/></params>
  <variables><variable name="user_context" value="default"/></variables>
  <groups>
    <group name="default"><users>
      <user id="1000"><params><param name="password" value="s"/></params>
        <gateways><gateway name="first-gw"><param name="realm" value="example.com"/></gateway></gateways>
      </user>
    </users></group>
    <group name="sales"><users><user id="1000" type="pointer"/></users></group>
  </groups>
</domain>
"""


def snapshot(api: Api) -> dict[str, Any]:
    """Everything a client can list, with the whole directory as XML (disabled items included)."""
    return {
        "domains": api.ok("[Domains][Get] Domains")["domains"],
        "users": api.ok("[Users] Get_users")["directory_users"],
        "groups": api.ok("[Groups] Get_groups")["list"],
        "gateways": api.ok("[Gateways] Get_users_gateways")["user_gateways"],
        "export": api.ok("[Directory] Export", {"include_disabled": True})["file"],
    }


def test_import_with_an_existing_second_domain_writes_nothing(http_api: Api) -> None:
    Directory(http_api).domain("Existing.Example")
    before = snapshot(http_api)
    reply = http_api.call("ImportXMLDomain", {"file": FIRST_DOMAIN + '<domain name="existing.example"/>'})
    assert reply == {"MessageType": "ImportXMLDomain", "error": "domain Existing.Example already exists"}
    assert snapshot(http_api) == before
    # Nothing of the first domain was left behind, not even its global gateway name.
    names = [domain["name"] for domain in http_api.ok("ImportXMLDomain", {"file": FIRST_DOMAIN})["domains"].values()]
    assert names == ["Existing.Example", "first.example"]


def test_import_failing_after_its_first_writes_is_rolled_back(http_api: Api) -> None:
    before = snapshot(http_api)
    # The second domain's group points at a user that does not exist: found only while writing.
    broken = (
        '<domain name="late.example"><groups><group name="g">'
        '<users><user id="ghost" type="pointer"/></users></group></groups></domain>'
    )
    reply = http_api.call("ImportXMLDomain", {"file": FIRST_DOMAIN + broken})
    assert reply == {"MessageType": "ImportXMLDomain", "error": "group g: user ghost not found"}
    assert snapshot(http_api) == before


def test_import_with_a_taken_gateway_name_writes_nothing(http_api: Api) -> None:
    make = Directory(http_api)
    user = make.user(make.domain("gw.example"), "1000")
    make.gateway(user, "FIRST-GW")
    before = snapshot(http_api)
    reply = http_api.call("ImportXMLDomain", {"file": FIRST_DOMAIN})
    assert reply == {"MessageType": "ImportXMLDomain", "error": "gateway FIRST-GW already exists"}
    assert snapshot(http_api) == before


def test_user_import_with_one_existing_user_adds_none(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("users.example")
    make.user(domain, "1001")
    before = snapshot(http_api)
    users = '<users><user id="1000"/><user id="1001"/><user id="1002"/></users>'
    reply = http_api.call("ImportXMLDomainUser", {"id": domain, "file": users})
    assert reply == {"MessageType": "ImportXMLDomainUser", "error": "user 1001 already exists"}
    assert snapshot(http_api) == before
    reply = http_api.ok("ImportXMLDomainUser", {"id": domain, "file": '<user id="1000"/><user id="1002"/>'})
    assert sorted(user["name"] for user in reply["directory_users"][str(domain)].values()) == ["1000", "1001", "1002"]


def test_deleting_a_domain_deletes_everything_under_it(http_api: Api) -> None:
    make = Directory(http_api)
    keep = make.domain("keep.example")
    keep_user = make.user(keep, "1000")
    make.member(make.group(keep, "sales"), keep_user)
    make.gateway(keep_user, "keep-gw")
    kept = http_api.ok("[Directory] Export", {"id": keep, "include_disabled": True})["file"]

    domain = make.domain("gone.example")
    domain_param = make.domain_param(domain, "p")
    domain_var = make.domain_var(domain, "v")
    user = make.user(domain, "1000")
    user_param = make.user_param(user, "password")
    user_var = make.user_var(user, "user_context")
    group = make.group(domain, "sales")
    member = make.member(group, user)
    gateway = make.gateway(user, "gone-gw")
    gateway_param = make.gateway_param(gateway, "realm")
    gateway_var = make.gateway_var(gateway, "v")

    assert http_api.ok("[Domains] Del_domain", {"id": domain}) == {"MessageType": "[Domains] Del_domain", "id": domain}

    assert str(domain) not in http_api.ok("[Domains][Get] Domains")["domains"]
    assert str(domain) not in http_api.ok("[Users] Get_users")["directory_users"]
    assert str(domain) not in http_api.ok("[Groups] Get_groups")["list"]
    assert str(domain) not in http_api.ok("[Gateways] Get_users_gateways")["user_gateways"]
    for event, data, error in (
        ("[Domains][Get] Domain_details", {"id": domain}, "domain not found"),
        ("[Domains] Update_domain_param", {"id": domain_param, "name": "p"}, "param not found"),
        ("[Domains] Update_domain_var", {"id": domain_var, "name": "v"}, "variable not found"),
        ("[Users] Get_user_details", {"id": user}, "user not found"),
        ("[Users] Update_user_param", {"id": user_param, "name": "p"}, "parameter not found"),
        ("[Users][Switch] User variable", {"id": user_var, "enabled": False}, "variable not found"),
        ("[Groups] Get_group_users", {"id": group}, "group not found"),
        ("[Groups] Del_group_user", {"id": member}, "user not found"),
        ("[Gateways] Get_user_gateways_details", {"id": gateway}, "user gateway not found"),
        ("[Gateways][Switch] Param", {"id": gateway_param, "enabled": False}, "parameter not found"),
        ("[Gateways] Del_user_gateway_var", {"variable": {"id": gateway_var}}, "variable not found"),
    ):
        assert http_api.call(event, data) == {"MessageType": event, "error": error}
    # The other domain is untouched, and the global gateway name is free again.
    assert http_api.ok("[Directory] Export", {"id": keep, "include_disabled": True})["file"] == kept
    make.gateway(keep_user, "gone-gw")
    # And the name of the domain can be used again, from scratch.
    again = make.domain("gone.example")
    assert http_api.ok("[Domains][Get] Domain_details", {"id": again})["domain_details"] == {
        str(again): {"parameters": {}, "variables": {}}
    }


def test_deleting_a_user_deletes_its_memberships_and_gateways(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("users.example")
    user = make.user(domain, "1000")
    other = make.user(domain, "1001")
    group = make.group(domain, "sales")
    member = make.member(group, user)
    other_member = make.member(group, other)
    param = make.user_param(user, "password")
    gateway = make.gateway(user, "user-gw")
    other_gateway = make.gateway(other, "other-gw")

    reply = http_api.ok("[Users] Del_user", {"id": user})
    assert reply == {"MessageType": "[Users] Del_user", "item": {"id": user}, "id": domain}

    members = http_api.ok("[Groups] Get_group_users", {"id": group})
    assert list(members["group_users"][str(group)]) == [str(other_member)]
    assert list(members["list"][str(domain)]) == [str(other)]
    assert http_api.call("[Groups] Del_group_user", {"id": member})["error"] == "user not found"
    assert http_api.call("[Users] Del_user_param", {"id": param})["error"] == "parameter not found"
    gateways = http_api.ok("[Gateways] Get_users_gateways")["user_gateways"]
    assert gateways == {
        str(domain): {str(other): {str(other_gateway): {"id": other_gateway, "enabled": True, "name": "other-gw"}}}
    }
    assert http_api.call("[Gateways] Get_user_gateways_details", {"id": gateway})["error"] == "user gateway not found"
    # Its name is free again, and its gateway's name too.
    assert make.user(domain, "1000") != user
    make.gateway(other, "user-gw")


def test_deleting_a_group_keeps_its_users(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("groups.example")
    user = make.user(domain, "1000")
    make.user_param(user, "password", "secret")
    sales = make.group(domain, "sales")
    billing = make.group(domain, "billing")
    make.member(sales, user)
    billing_member = make.member(billing, user)
    users_before = http_api.ok("[Users] Get_users")["directory_users"]
    details_before = http_api.ok("[Users] Get_user_details", {"id": user})

    reply = http_api.ok("[Groups] Del_group", {"id": sales})
    assert reply == {"MessageType": "[Groups] Del_group", "item": {"id": sales}, "id": domain}

    assert http_api.ok("[Users] Get_users")["directory_users"] == users_before
    assert http_api.ok("[Users] Get_user_details", {"id": user}) == details_before
    assert http_api.ok("[Groups] Get_groups")["list"] == {str(domain): {str(billing): "billing"}}
    assert list(http_api.ok("[Groups] Get_group_users", {"id": billing})["group_users"][str(billing)]) == [
        str(billing_member)
    ]
    assert http_api.call("[Groups] Get_group_users", {"id": sales})["error"] == "group not found"
    # The name is free again.
    make.group(domain, "sales")
