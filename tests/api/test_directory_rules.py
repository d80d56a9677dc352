"""Rules of spec/API.md "Entities and their fields" that a client notices, and imports held to the same rules."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import Directory
from tests.conftest import Api


def users_of(api: Api, domain: int, **filters: Any) -> dict[str, Any]:
    users: dict[str, Any] = api.ok("[Users] Get_users", {"domain_id": domain, **filters})["directory_users"]
    return users.get(str(domain), {})


def test_names_are_trimmed_and_unique_without_case(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("  trim.example ")
    assert http_api.ok("[Domains][Get] Domains")["domains"][str(domain)]["name"] == "trim.example"
    user = make.user(domain, " 1000 ")
    assert [u["name"] for u in users_of(http_api, domain).values()] == ["1000"]
    group = make.group(domain, " Sales ")
    assert http_api.ok("[Groups] Get_groups")["list"][str(domain)] == {str(group): "Sales"}
    assert (
        http_api.call("[Groups] Add_new_group", {"id": domain, "name": "SALES"})["error"] == "group name already exists"
    )
    param = make.user_param(user, " password ", "  spaced value  ")
    details = http_api.ok("[Users] Get_user_details", {"id": user})["user_details"][str(user)]
    # Names are trimmed, values kept as sent.
    assert details["parameters"][str(param)] == {
        "id": param,
        "enabled": True,
        "name": "password",
        "value": "  spaced value  ",
    }
    # Renaming to another case of one's own name is no clash.
    http_api.ok("[Domains] Rename_domain", {"id": domain, "name": "TRIM.example"})
    http_api.ok("[Users] Update_user_name", {"id": user, "name": "1000"})
    http_api.ok("[Groups] Update_group_name", {"id": group, "name": "sales"})


def test_index_is_ignored_and_entries_keep_their_order(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("order.example")
    for index, name in ((5, "c"), (0, "a"), (3, "b")):
        http_api.ok("[Domains] New_domain_var", {"id": domain, "index": index, "name": name, "value": name})
    variables = http_api.ok("[Domains][Get] Domain_details", {"id": domain})["domain_details"][str(domain)]["variables"]
    assert [variable["name"] for variable in variables.values()] == ["c", "a", "b"]


def test_number_alias_shows_only_when_set_and_never_names_another_user(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("alias.example")
    user = make.user(domain, "1000")
    other = make.user(domain, "1001")
    assert "number_alias" not in users_of(http_api, domain)[str(user)]
    http_api.ok("[Users] Update_user_number_alias", {"id": user, "value": " 2000 "})
    assert users_of(http_api, domain)[str(user)]["number_alias"] == "2000"
    exists = {"MessageType": "[Users] Add_new_user", "error": "user name already exists"}
    # FreeSWITCH finds a user by id or by number-alias: a new user may not be named like an alias.
    assert http_api.call("[Users] Add_new_user", {"id": domain, "name": "2000"}) == exists
    assert http_api.call("[Users] Add_new_user", {"id": domain, "name": "1998", "bulk": 5}) == exists
    assert (
        http_api.call("[Users] Update_user_name", {"id": other, "name": "2000"})["error"] == "user name already exists"
    )
    reply = http_api.call("[Users] Update_user_number_alias", {"id": other, "value": "2000"})
    assert reply["error"] == "number alias already exists"
    assert list(users_of(http_api, domain)) == [str(user), str(other)]
    # Another domain has its own names.
    elsewhere = make.domain("elsewhere.example")
    make.user(elsewhere, "2000")
    # Cleared, the alias is gone from the view and the name is free.
    http_api.ok("[Users] Update_user_number_alias", {"id": user, "value": ""})
    assert "number_alias" not in users_of(http_api, domain)[str(user)]
    make.user(domain, "2000")


def test_user_search_takes_like_wildcards_literally(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("search.example")
    for name in ("100", "1_0", "50%", "abc"):
        make.user(domain, name)

    def found(search: str) -> list[str]:
        return sorted(user["name"] for user in users_of(http_api, domain, search=search).values())

    assert found("_") == ["1_0"]
    assert found("%") == ["50%"]
    assert found("1_") == ["1_0"]
    assert found("0") == ["100", "1_0", "50%"]
    assert found("ABC") == ["abc"]
    page = http_api.ok("[Users] Get_users", {"domain_id": domain, "offset": 1, "limit": 2})
    assert page["total"] == 4 and len(page["directory_users"][str(domain)]) == 2


def test_imports_keep_to_the_rules_of_the_events(http_api: Api) -> None:
    make = Directory(http_api)
    domain = make.domain("rules.example")
    before = http_api.ok("[Directory] Export", {"include_disabled": True})["file"]

    def import_users(xml: str) -> dict[str, Any]:
        return http_api.call("ImportXMLDomainUser", {"id": domain, "file": xml})

    assert import_users('<user id="1000" cidr="10.0.0.0/8,router"/>') == {
        "MessageType": "ImportXMLDomainUser",
        "error": "invalid cidr in user 1000",
    }
    both = (
        '<user id="1000"><gateways><gateway name="gw">'
        '<variable name="v" value="1" direction="both"/></gateway></gateways></user>'
    )
    assert import_users(both) == {"MessageType": "ImportXMLDomainUser", "error": "invalid direction in gateway gw"}
    reply = http_api.call("ImportXMLDomain", {"file": f'<domain name="bad.example">{both}</domain>'})
    assert reply == {"MessageType": "ImportXMLDomain", "error": "invalid direction in gateway gw"}
    # The all-users group's name is the API's reserved group name: not a group one can import either.
    reserved = '<domain name="bad.example"><groups><group name="ALL"><users/></group></groups></domain>'
    reply = http_api.call("ImportXMLDomain", {"file": reserved})
    assert reply == {"MessageType": "ImportXMLDomain", "error": "bad.example: group name ALL is reserved"}
    assert http_api.ok("[Directory] Export", {"include_disabled": True})["file"] == before

    good = (
        '<user id="1000" cidr="10.0.0.1, 192.0.2.0/24"><gateways><gateway name="gw">'
        '<variable name="in" value="1" direction="Inbound"/><variable name="any" value="2"/>'
        "</gateway></gateways></user>"
    )
    user = users_of_import(import_users(good), domain)
    assert user["cidr"] == "10.0.0.1/32,192.0.2.0/24"
    gateways = http_api.ok("[Gateways] Get_users_gateways")["user_gateways"][str(domain)][str(user["id"])]
    [gateway] = map(int, gateways)
    variables = http_api.ok("[Gateways] Get_user_gateways_details", {"id": gateway})["gateway_details"][str(gateway)]
    assert [(v["name"], v["direction"]) for v in variables["variables"].values()] == [("in", "inbound"), ("any", "")]


def users_of_import(reply: dict[str, Any], domain: int) -> dict[str, Any]:
    assert "error" not in reply, reply
    [user] = reply["directory_users"][str(domain)].values()
    return dict(user)


def test_imports_refuse_a_number_alias_that_names_another_user(api: Api) -> None:
    # FreeSWITCH finds a user by id OR number-alias: one name standing for two users is refused.
    clash = (
        '<domain name="alias.example"><users><user id="1000"/><user id="1001" number-alias="1000"/></users></domain>'
    )
    reply = api.call("ImportXMLDomain", {"file": clash})
    assert "already exists" in reply["error"] or "appears twice" in reply["error"]
    api.ok("ImportXMLDomain", {"file": '<domain name="alias.example"><users><user id="1000"/></users></domain>'})
    domain_id = int(next(iter(api.ok("[Domains][Get] Domains")["domains"])))
    reply = api.call("ImportXMLDomainUser", {"id": domain_id, "file": '<user id="2000" number-alias="1000"/>'})
    assert reply["error"] == "user 1000 already exists"
    users = api.ok("[Users] Get_users")["directory_users"][str(domain_id)]
    assert [user["name"] for user in users.values()] == ["1000"]
