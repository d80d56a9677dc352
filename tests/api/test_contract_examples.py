"""Every request example of the original document, replayed; every reply shaped as documented.

Plus one request per Groups and Gateways event of spec/API.md (the original's headings are empty),
and the extension events, checked against the reply keys the spec gives them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.contract import assert_shape, examples, replace_ids
from tests.api.helpers import Directory, fresh_token, stub_freeswitch, vanilla_directory
from tests.conftest import ADMIN_PASSWORD, Api

# The documented ids each example refers to, and what they are in the document's story.
DOMAIN, SWITCHED_DOMAIN, RENAMED_DOMAIN = 8, 10, 11
DOMAIN_PARAM, DOMAIN_VAR = 23, 31
USER, USER_PARAM, USER_VAR = 56, 179, 698

# Keys a reply may add to the documented ones (spec/API.md marks them "ext").
EXTENSION_KEYS = {"[Directory][Import]": frozenset({"imported"})}


def make_world(directory: Directory, tag: str) -> dict[int, int]:
    """Objects standing for the documented ids, with params and variables so no map is empty."""
    domain = directory.domain(f"domain-{tag}.com")
    user = directory.user(domain, f"1000-{tag}")
    directory.domain_param(domain, "jsonrpc-allowed-methods", "verto")
    directory.domain_var(domain, "record_stereo", "true")
    directory.user_param(user, "password", "5555")
    directory.user_var(user, "toll_allow", "domestic,international,local")
    return {
        DOMAIN: domain,
        SWITCHED_DOMAIN: directory.domain(f"switched-{tag}"),
        RENAMED_DOMAIN: directory.domain(f"renamed-{tag}"),
        DOMAIN_PARAM: directory.domain_param(domain, "param0", "value0"),
        DOMAIN_VAR: directory.domain_var(domain, "var0", "value0"),
        USER: user,
        USER_PARAM: directory.user_param(user, "param0", "val0"),
        USER_VAR: directory.user_var(user, "var0", "val0"),
    }


def test_the_document_has_the_examples_we_replay() -> None:
    # A document that lost or renamed an example must fail here, not silently shrink the replay.
    events = [item.event for item in examples()]
    assert len(events) == len(set(events)) == 32
    assert {item.section for item in examples()} == {"Domains", "Users"}


def test_every_documented_example_replays(api: Api, subtests: pytest.Subtests) -> None:
    directory = Directory(api)
    admin_id = api.call("login", {"login": "admin", "password": ADMIN_PASSWORD}, token="")["user"]["id"]
    for number, item in enumerate(examples()):
        with subtests.test(msg=item.event):
            ids = make_world(directory, str(number))
            data = replace_ids(item.request, ids)
            # A fresh token for each example, as a client of the original API would send it.
            token = fresh_token(api.client, admin_id)
            if item.event == "[Directory][Import]":
                with stub_freeswitch(api.client, {"xml_locate directory": vanilla_directory()}):
                    reply = api.call(item.request["event"], data, token=token)
            else:
                reply = api.call(item.request["event"], data, token=token)
            assert "error" not in reply, reply
            assert reply["MessageType"] == item.event
            used = {documented: ids[documented] for documented in (item.request["data"].get("id"),) if documented}
            # The owners the document names in replies (domain 8, user 56) are ours too.
            known = {DOMAIN: ids[DOMAIN], USER: ids[USER], **used}
            assert_shape(reply, item.reply, ids=known, extra=EXTENSION_KEYS.get(item.event, frozenset()))


def test_replayed_examples_do_what_they_say(http_api: Api) -> None:
    """The values the document shows come back for the same request (names, flags, echoes)."""
    directory = Directory(http_api)
    ids = make_world(directory, "x")
    by_event = {item.event: item for item in examples()}

    def replay(event: str) -> dict[str, Any]:
        return http_api.ok(event, replace_ids(by_event[event].request, ids))

    renamed = replay("[Domains] Rename_domain")["domains"][str(ids[RENAMED_DOMAIN])]
    assert renamed["name"] == "newDomain2"
    switched = replay("[Domains][Switch] Domain")["domains"][str(ids[SWITCHED_DOMAIN])]
    assert switched["enabled"] is False
    param = replay("[Domains] Update_domain_param")["domain_details"][str(ids[DOMAIN])]["parameters"]
    assert param == {
        str(ids[DOMAIN_PARAM]): {"id": ids[DOMAIN_PARAM], "enabled": True, "name": "param1", "value": "value2"}
    }
    assert replay("[Users] Update_user_cache")["item"] == {"id": ids[USER], "value": "5000"}
    added = replay("[Users] Add_new_user")
    assert added["total"] == 10
    assert [user["name"] for user in added["directory_users"][str(ids[DOMAIN])].values()] == [
        str(number) for number in range(5000, 5010)
    ]
    assert replay("[Users] Update_user_name") == {
        "MessageType": "[Users] Update_user_name",
        "item": {"id": ids[USER], "name": "1022"},
        "id": ids[DOMAIN],
    }
    imported = replay("ImportXMLDomainUser")["directory_users"][str(ids[DOMAIN])]
    assert "1400" in [user["name"] for user in imported.values()]
    assert replay("[Domains] Del_domain") == {"MessageType": "[Domains] Del_domain", "id": ids[RENAMED_DOMAIN]}
    names = [domain["name"] for domain in replay("ImportXMLDomain")["domains"].values()]
    assert "newDomain" in names and "newDomain2" not in names


# --- Groups and Gateways (spec/API.md), and the extensions ----------------------------------------

DOMAIN_VIEW = {"id": 1, "enabled": True, "name": "d", "sip_regs_counter": 0}
USER_VIEW = {
    "id": 1,
    "enabled": True,
    "name": "1000",
    "cache": 0,
    "cidr": "",
    "call_date": 0,
    "in_call": False,
    "talking": False,
    "last_uuid": "",
    "call_direction": "",
    "sip_register": False,
    "verto_register": False,
}
ENTRY = {"id": 1, "enabled": True, "name": "n", "value": "v"}
GATEWAY_VAR = {**ENTRY, "direction": ""}
MEMBER = {"id": 1, "enabled": True, "user_id": 1, "name": "1000", "type": "pointer"}
GATEWAY = {"id": 1, "enabled": True, "name": "gw"}


def test_groups_events_reply_as_specified(api: Api) -> None:
    directory = Directory(api)
    domain = directory.domain("groups.example")
    user = directory.user(domain, "1000")
    other = directory.user(domain, "1001")
    group = directory.group(domain, "sales")
    member = directory.member(group, user)

    reply = api.ok("[Groups] Get_groups")
    assert_shape(reply, {"MessageType": "", "domains": {"1": DOMAIN_VIEW}, "list": {"1": {"1": "sales"}}})
    assert reply["list"] == {str(domain): {str(group): "sales"}}

    reply = api.ok("[Groups] Get_group_users", {"id": group})
    assert_shape(reply, {"MessageType": "", "list": {"1": {"1": "1000"}}, "group_users": {"1": {"1": MEMBER}}})
    assert reply["list"] == {str(domain): {str(user): "1000", str(other): "1001"}}
    assert reply["group_users"] == {
        str(group): {str(member): {"id": member, "enabled": True, "user_id": user, "name": "1000", "type": "pointer"}}
    }

    reply = api.ok("[Groups] Add_new_group", {"id": domain, "name": "billing"})
    assert_shape(reply, {"MessageType": "", "items": {"1": "billing"}, "id": 1})
    assert reply["id"] == domain
    [billing] = map(int, reply["items"])

    reply = api.ok("[Groups] Update_group_name", {"id": billing, "name": "support"})
    assert reply == {
        "MessageType": "[Groups] Update_group_name",
        "item": {"id": billing, "name": "support"},
        "id": domain,
    }

    reply = api.ok("[Groups] Add_group_user", {"id": billing, "value": str(other)})
    assert_shape(reply, {"MessageType": "", "group_users": {"1": {"1": MEMBER}}, "id": 1})
    assert reply["id"] == billing
    [new_member] = map(int, reply["group_users"][str(billing)])

    reply = api.ok("[Groups] Del_group_user", {"id": new_member})
    assert reply == {"MessageType": "[Groups] Del_group_user", "id": billing, "affected_id": new_member}

    reply = api.ok("[Groups] Del_group", {"id": billing})
    assert reply == {"MessageType": "[Groups] Del_group", "item": {"id": billing}, "id": domain}


def test_gateways_events_reply_as_specified(api: Api) -> None:
    directory = Directory(api)
    domain = directory.domain("gateways.example")
    user = directory.user(domain, "1000")

    reply = api.ok("[Gateways] Add_new_user_gateway", {"id": user, "name": "gw-one"})
    assert_shape(reply, {"MessageType": "", "item": {"id": 1, "name": "gw"}, "id": 1, "affected_id": 1})
    gateway = reply["item"]["id"]
    assert (reply["item"]["name"], reply["id"], reply["affected_id"]) == ("gw-one", domain, user)

    reply = api.ok("[Gateways] Update_user_gateway_name", {"id": gateway, "name": "gw-two"})
    assert reply == {
        "MessageType": "[Gateways] Update_user_gateway_name",
        "item": {"id": gateway, "name": "gw-two"},
        "id": domain,
        "affected_id": user,
    }

    reply = api.ok("[Gateways] Add_user_gateway_param", {"id": gateway, "name": "realm", "value": "example.com"})
    assert_shape(reply, {"MessageType": "", "item": ENTRY})
    param = reply["item"]["id"]
    assert reply["item"] == {"id": param, "enabled": True, "name": "realm", "value": "example.com"}

    details = {"MessageType": "", "gateway_details": {"1": {"parameters": {"1": ENTRY}}}}
    reply = api.ok("[Gateways] Update_user_gateway_param", {"id": param, "name": "realm", "value": "example.net"})
    assert_shape(reply, details, ids={1: gateway})
    assert reply["gateway_details"][str(gateway)]["parameters"][str(param)]["value"] == "example.net"
    reply = api.ok("[Gateways][Switch] Param", {"id": param, "enabled": False})
    assert_shape(reply, details, ids={1: gateway})
    assert reply["gateway_details"][str(gateway)]["parameters"][str(param)]["enabled"] is False

    variable = {"enabled": True, "name": "caller", "value": "1", "direction": "inbound"}
    reply = api.ok("[Gateways] Add_user_gateway_var", {"id": gateway, "index": 0, "variable": variable})
    var_details = {"MessageType": "", "gateway_details": {"1": {"variables": {"1": GATEWAY_VAR}}}}
    assert_shape(reply, var_details, ids={1: gateway})
    [var] = map(int, reply["gateway_details"][str(gateway)]["variables"])
    changed = {"id": var, "enabled": True, "name": "caller", "value": "2", "direction": "outbound"}
    reply = api.ok("[Gateways] Update_user_gateway_var", {"variable": changed})
    assert_shape(reply, var_details, ids={1: gateway})
    assert reply["gateway_details"][str(gateway)]["variables"][str(var)] == changed
    reply = api.ok("[Gateways] Switch_user_gateway_var", {"variable": {"id": var, "enabled": False}})
    assert reply["gateway_details"][str(gateway)]["variables"][str(var)] == {**changed, "enabled": False}

    reply = api.ok("[Gateways] Get_users_gateways")
    assert_shape(
        reply,
        {
            "MessageType": "",
            "domains": {"1": DOMAIN_VIEW},
            "directory_users": {"1": {"1": USER_VIEW}},
            "user_gateways": {"1": {"1": {"1": GATEWAY}}},
        },
    )
    assert reply["user_gateways"] == {
        str(domain): {str(user): {str(gateway): {"id": gateway, "enabled": True, "name": "gw-two"}}}
    }

    reply = api.ok("[Gateways] Get_user_gateways_details", {"id": gateway})
    assert_shape(
        reply,
        {"MessageType": "", "gateway_details": {"1": {"parameters": {"1": ENTRY}, "variables": {"1": GATEWAY_VAR}}}},
    )

    reply = api.ok("[Gateways] Del_user_gateway_var", {"variable": {"id": var}})
    assert_shape(reply, var_details, ids={1: gateway})
    reply = api.ok("[Gateways] Del_user_gateway_param", {"id": param})
    assert reply == {"MessageType": "[Gateways] Del_user_gateway_param", "id": param}
    reply = api.ok("[Gateways] Get_user_gateways_details", {"id": gateway})
    assert reply["gateway_details"] == {str(gateway): {"parameters": {}, "variables": {}}}

    reply = api.ok("[Gateways] Del_user_gateway", {"id": gateway})
    assert reply == {
        "MessageType": "[Gateways] Del_user_gateway",
        "item": {"id": gateway},
        "id": domain,
        "affected_id": user,
    }


def test_extension_events_reply_as_specified(api: Api) -> None:
    directory = Directory(api)
    domain = directory.domain("ext.example")
    user = directory.user(domain, "1000")

    reply = api.ok("[Users] Update_user_number_alias", {"id": user, "value": "2000"})
    assert reply == {"MessageType": "[Users] Update_user_number_alias", "item": {"id": user, "value": "2000"}}
    reply = api.ok("[Users][Switch] User", {"id": user, "enabled": False})
    expected_user = {**USER_VIEW, "number_alias": "2000"}
    assert_shape(reply, {"MessageType": "", "directory_users": {"1": {"1": expected_user}}})
    assert reply["directory_users"][str(domain)][str(user)]["enabled"] is False

    reply = api.ok("[Users] Get_users", {"domain_id": domain, "limit": 1})
    assert_shape(
        reply,
        {"MessageType": "", "domains": {"1": DOMAIN_VIEW}, "directory_users": {"1": {"1": expected_user}}, "total": 1},
    )

    reply = api.ok("[Directory] Export", {"id": domain})
    assert set(reply) == {"MessageType", "file"} and 'name="ext.example"' in reply["file"]
