"""The vanilla FreeSWITCH directory, imported; then exported, imported into an empty database, exported again."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.helpers import Directory, new_api, stub_freeswitch, vanilla_directory
from tests.conftest import Api

VANILLA_USERS = [str(number) for number in range(1000, 1020)] + ["brian", "default", "example.com", "SEP001120AABBCC"]
GATEWAY_PARAMS = {
    "username": "joeuser",
    "password": "password",
    "from-user": "joeuser",
    "from-domain": "example.com",
    "expire-seconds": "600",
    "register": "false",
    "retry-seconds": "30",
    "extension": "5000",
    "context": "public",
}


def entries(details: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(entry["name"], entry["value"], entry["enabled"]) for entry in details.values()]


def directory_data(api: Api) -> dict[str, Any]:
    """The whole directory as a client reads it, by names (ids differ between databases)."""
    domains = api.ok("[Domains][Get] Domains")["domains"]
    users = api.ok("[Users] Get_users")["directory_users"]
    groups = api.ok("[Groups] Get_groups")["list"]
    gateways = api.ok("[Gateways] Get_users_gateways")["user_gateways"]
    data: dict[str, Any] = {}
    for domain_id, domain in domains.items():
        details = api.ok("[Domains][Get] Domain_details", {"id": int(domain_id)})["domain_details"][domain_id]
        domain_users = {}
        for user_id, user in users.get(domain_id, {}).items():
            user_details = api.ok("[Users] Get_user_details", {"id": int(user_id)})["user_details"][user_id]
            user_gateways = {}
            for gateway_id, gateway in gateways.get(domain_id, {}).get(user_id, {}).items():
                gateway_details = api.ok("[Gateways] Get_user_gateways_details", {"id": int(gateway_id)})
                parts = gateway_details["gateway_details"][gateway_id]
                user_gateways[gateway["name"]] = {
                    "enabled": gateway["enabled"],
                    "parameters": entries(parts["parameters"]),
                    "variables": [
                        (var["name"], var["value"], var["enabled"], var["direction"])
                        for var in parts["variables"].values()
                    ],
                }
            domain_users[user["name"]] = {
                "enabled": user["enabled"],
                "cache": user["cache"],
                "cidr": user["cidr"],
                "number_alias": user.get("number_alias", ""),
                "parameters": entries(user_details["parameters"]),
                "variables": entries(user_details["variables"]),
                "gateways": user_gateways,
            }
        domain_groups = {}
        for group_id, group_name in groups.get(domain_id, {}).items():
            members = api.ok("[Groups] Get_group_users", {"id": int(group_id)})["group_users"][group_id]
            domain_groups[group_name] = [(member["name"], member["enabled"]) for member in members.values()]
        data[domain["name"]] = {
            "enabled": domain["enabled"],
            "parameters": entries(details["parameters"]),
            "variables": entries(details["variables"]),
            "users": domain_users,
            "groups": domain_groups,
        }
    return data


def test_vanilla_directory_imports_and_round_trips(http_api: Api, other_client: TestClient) -> None:
    reply = http_api.ok("ImportXMLDomain", {"file": vanilla_directory()})
    assert [domain["name"] for domain in reply["domains"].values()] == ["127.0.0.1"]
    data = directory_data(http_api)
    vanilla = data["127.0.0.1"]

    assert list(vanilla["users"]) == VANILLA_USERS
    assert [name for name, _, _ in vanilla["parameters"]] == ["dial-string", "jsonrpc-allowed-methods"]
    assert ("default_gateway", "example.com", True) in vanilla["variables"]
    assert vanilla["users"]["1000"]["parameters"] == [("password", "1234", True), ("vm-password", "1000", True)]
    assert ("callgroup", "techsupport", True) in vanilla["users"]["1000"]["variables"]
    assert vanilla["users"]["brian"]["cidr"] == "192.0.2.0/24"
    assert vanilla["users"]["SEP001120AABBCC"]["parameters"] == [("foo", "bar", True)]
    assert vanilla["groups"] == {
        "default": [(name, True) for name in VANILLA_USERS],
        "sales": [(str(number), True) for number in range(1000, 1005)],
        "billing": [(str(number), True) for number in range(1005, 1010)],
        "support": [(str(number), True) for number in range(1010, 1015)],
    }
    gateways = {name: user["gateways"] for name, user in vanilla["users"].items() if user["gateways"]}
    assert list(gateways) == ["example.com"]
    gateway = gateways["example.com"]["example.com"]
    assert gateway["parameters"] == [(name, value, True) for name, value in GATEWAY_PARAMS.items()]

    exported = http_api.ok("[Directory] Export")["file"]
    other = new_api(other_client, "http")
    try:
        assert other.ok("[Domains][Get] Domains")["domains"] == {}
        other.ok("ImportXMLDomain", {"file": exported})
        assert directory_data(other) == data
        assert other.ok("[Directory] Export")["file"] == exported
    finally:
        other.close()


def test_directory_import_from_freeswitch(http_api: Api) -> None:
    with stub_freeswitch(http_api.client, {"xml_locate directory": vanilla_directory()}) as stub:
        reply = http_api.ok("[Directory][Import]")
        assert reply == {
            "MessageType": "[Directory][Import]",
            "imported": {"domains": 1, "users": 24, "groups": 4, "gateways": 1},
        }
        assert stub.commands == ["xml_locate directory"]
        users = http_api.ok("[Users] Get_users")["directory_users"]
        assert [user["name"] for domain in users.values() for user in domain.values()] == VANILLA_USERS
        # A second import meets the existing domain and changes nothing.
        before = http_api.ok("[Directory] Export")["file"]
        assert http_api.call("[Directory][Import]") == {
            "MessageType": "[Directory][Import]",
            "error": "domain 127.0.0.1 already exists",
        }
        assert http_api.ok("[Directory] Export")["file"] == before


def test_everything_the_api_can_set_survives_export_and_import(http_api: Api, other_client: TestClient) -> None:
    make = Directory(http_api)
    domain = make.domain("rich.example")
    make.domain_param(
        domain, "dial-string", "{^^:sip_invite_domain=${dialed_domain}}${sofia_contact(*/${dialed_user})}"
    )
    quoted = make.domain_var(domain, "quoted", 'a "b" <c> & d\'e\tf\ng\r\n$${default_password} X-PRE-PROCESS')
    http_api.ok("[Domains][Switch] Domain variable", {"id": quoted, "enabled": False})
    user = make.user(domain, "1000")
    http_api.ok("[Users] Update_user_cache", {"id": user, "value": "5000"})
    http_api.ok("[Users] Update_user_cidr", {"id": user, "value": "10.0.0.0/8,::1"})
    http_api.ok("[Users] Update_user_number_alias", {"id": user, "value": "2000"})
    make.user_param(user, "password", "p\u00e4ss \u20ac")
    off = make.user_var(user, "off", "1")
    http_api.ok("[Users][Switch] User variable", {"id": off, "enabled": False})
    disabled_user = make.user(domain, "1001")
    http_api.ok("[Users][Switch] User", {"id": disabled_user, "enabled": False})
    group = make.group(domain, "sales")
    make.member(group, user)
    make.member(group, disabled_user)
    gateway = make.gateway(user, "rich-gw")
    make.gateway_param(gateway, "realm", "example.com")
    make.gateway_var(gateway, "in", "1", "inbound")
    make.gateway_var(gateway, "out", "2", "outbound")
    make.gateway_var(gateway, "both", "3")
    switched = make.domain("off.example")
    http_api.ok("[Domains][Switch] Domain", {"id": switched, "enabled": False})
    data = directory_data(http_api)

    # FreeSWITCH XML has no "enabled": without include_disabled, disabled things are left out.
    served = http_api.ok("[Directory] Export")["file"]
    assert "off.example" not in served and '"1001"' not in served and '"quoted"' not in served
    assert 'enabled="false"' not in served

    exported = http_api.ok("[Directory] Export", {"include_disabled": True})["file"]
    other = new_api(other_client, "http")
    try:
        other.ok("ImportXMLDomain", {"file": exported})
        assert directory_data(other) == data
        assert other.ok("[Directory] Export", {"include_disabled": True})["file"] == exported
    finally:
        other.close()
