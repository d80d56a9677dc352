"""After each kind of write through the event API, the very next lookup reflects it.

Each test first asks for the documents the write changes, so they sit in the cache; the write's
reply must only come once they are stale. Both transports: the WebSocket reply too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api
from tests.xmlcurl.conftest import import_recorded_directory
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
DIRECTORY = "hostname=fs-test&section=directory&tag_name=&key_name=&key_value="
ALL_GATEWAYS = DIRECTORY + "&purpose=gateways&profile=external"
GROUP_CALL = domain_body(DOMAIN, group="sales", action="group_call", group_name="sales", domain=DOMAIN)
WHOLE_DOMAIN = domain_body(DOMAIN)


@pytest.fixture(params=["http", "ws"])
def api(request: pytest.FixtureRequest, fs: TestClient) -> Iterator[Api]:
    handle = Api(fs, request.param)
    handle.login()
    import_recorded_directory(handle)
    yield handle
    handle.close()


def warm(fs: TestClient, *bodies: str) -> None:
    for body in bodies:
        lookup(fs, body)
        lookup(fs, body)


def user_id(api: Api, name: str, domain: str = DOMAIN) -> int:
    reply = api.ok("[Users] Get_users")
    domain_id = next(key for key, value in reply["domains"].items() if value["name"] == domain)
    return next(int(key) for key, user in reply["directory_users"][domain_id].items() if user["name"] == name)


def domain_id(api: Api, name: str = DOMAIN) -> int:
    reply = api.ok("[Domains][Get] Domains")
    return next(int(key) for key, value in reply["domains"].items() if value["name"] == name)


def entry_id(entries: dict[str, Any], name: str) -> int:
    return next(int(key) for key, entry in entries.items() if entry["name"] == name)


def group_id(api: Api, name: str) -> int:
    listing = api.ok("[Groups] Get_groups")["list"][str(domain_id(api))]
    return next(int(key) for key, value in listing.items() if value == name)


def gateway_id(api: Api, name: str) -> int:
    reply = api.ok("[Gateways] Get_users_gateways")["user_gateways"]
    return next(
        int(key) for users in reply.values() for gws in users.values() for key, gw in gws.items() if gw["name"] == name
    )


def password_of(answer: bytes, user: str, domain: str = DOMAIN) -> str:
    return params(users_in(domain_of(answer, domain))[user])["password"]


def test_user_param_update(fs: TestClient, api: Api) -> None:
    warm(fs, sip_auth_body("2000", DOMAIN), WHOLE_DOMAIN, DIRECTORY, GROUP_CALL)
    uid = user_id(api, "2000")
    details = api.ok("[Users] Get_user_details", {"id": uid})["user_details"][str(uid)]["parameters"]
    api.ok("[Users] Update_user_param", {"id": entry_id(details, "password"), "name": "password", "value": "n3w"})
    assert password_of(lookup(fs, sip_auth_body("2000", DOMAIN)), "2000") == "n3w"
    assert password_of(lookup(fs, WHOLE_DOMAIN), "2000") == "n3w"
    assert password_of(lookup(fs, DIRECTORY), "2000") == "n3w"
    assert password_of(lookup(fs, GROUP_CALL), "2000") == "n3w"
    assert password_of(lookup(fs, sip_auth_body("2001", DOMAIN)), "2001") == "s3cret2"


def test_domain_param_update(fs: TestClient, api: Api) -> None:
    warm(fs, sip_auth_body("2000", DOMAIN), sip_auth_body("2001", DOMAIN))
    details = api.ok("[Domains][Get] Domain_details", {"id": domain_id(api)})["domain_details"][str(domain_id(api))]
    param = entry_id(details["parameters"], "jsonrpc-allowed-methods")
    api.ok("[Domains] Update_domain_param", {"id": param, "name": "jsonrpc-allowed-methods", "value": "verto,fsapi"})
    for user in ("2000", "2001"):
        assert (
            params(domain_of(lookup(fs, sip_auth_body(user, DOMAIN)), DOMAIN))["jsonrpc-allowed-methods"]
            == "verto,fsapi"
        )


def test_user_disable_and_enable(fs: TestClient, api: Api) -> None:
    bodies = (sip_auth_body("2000", DOMAIN), GROUP_CALL, WHOLE_DOMAIN, ALL_GATEWAYS, DIRECTORY)
    warm(fs, *bodies)
    uid = user_id(api, "2000")
    api.ok("[Users][Switch] User", {"id": uid, "enabled": False})
    assert users_in(domain_of(lookup(fs, sip_auth_body("2000", DOMAIN)), DOMAIN)) == {}
    assert group_members(domain_of(lookup(fs, GROUP_CALL), DOMAIN), "sales") == ["2001"]
    assert set(users_in(domain_of(lookup(fs, WHOLE_DOMAIN), DOMAIN))) == {"2001"}
    assert gateways(domain_of(lookup(fs, ALL_GATEWAYS), DOMAIN)) == {}
    assert set(users_in(domain_of(lookup(fs, DIRECTORY), DOMAIN))) == {"2001"}
    warm(fs, *bodies)
    api.ok("[Users][Switch] User", {"id": uid, "enabled": True})
    assert password_of(lookup(fs, sip_auth_body("2000", DOMAIN)), "2000") == "s3cret"
    assert group_members(domain_of(lookup(fs, GROUP_CALL), DOMAIN), "sales") == ["2000", "2001"]
    assert "gw-test" in gateways(domain_of(lookup(fs, ALL_GATEWAYS), DOMAIN))


def test_domain_disable(fs: TestClient, api: Api) -> None:
    bodies = (sip_auth_body("2000", DOMAIN), GROUP_CALL, WHOLE_DOMAIN, ALL_GATEWAYS, DIRECTORY)
    warm(fs, *bodies)
    api.ok("[Domains][Switch] Domain", {"id": domain_id(api), "enabled": False})
    for body in bodies:
        assert is_not_found(lookup(fs, body)), body


def test_domain_rename(fs: TestClient, api: Api) -> None:
    renamed = "Renamed.Example"
    warm(fs, sip_auth_body("2000", DOMAIN), sip_auth_body("2000", renamed.lower()), DIRECTORY)
    api.ok("[Domains] Rename_domain", {"id": domain_id(api), "name": renamed})
    assert is_not_found(lookup(fs, sip_auth_body("2000", DOMAIN)))
    assert password_of(lookup(fs, sip_auth_body("2000", renamed.lower())), "2000", renamed) == "s3cret"
    assert domain_of(lookup(fs, DIRECTORY), renamed).get("name") == renamed


def test_user_rename_and_delete(fs: TestClient, api: Api) -> None:
    warm(fs, sip_auth_body("2000", DOMAIN), sip_auth_body("3000", DOMAIN))
    uid = user_id(api, "2000")
    api.ok("[Users] Update_user_name", {"id": uid, "name": "3000"})
    assert users_in(domain_of(lookup(fs, sip_auth_body("2000", DOMAIN)), DOMAIN)) == {}
    assert password_of(lookup(fs, sip_auth_body("3000", DOMAIN)), "3000") == "s3cret"
    api.ok("[Users] Del_user", {"id": uid})
    assert users_in(domain_of(lookup(fs, sip_auth_body("3000", DOMAIN)), DOMAIN)) == {}


def test_user_added(fs: TestClient, api: Api) -> None:
    warm(fs, sip_auth_body("2002", DOMAIN), WHOLE_DOMAIN)
    api.ok("[Users] Add_new_user", {"id": domain_id(api), "name": "2002"})
    assert list(users_in(domain_of(lookup(fs, sip_auth_body("2002", DOMAIN)), DOMAIN))) == ["2002"]
    assert "2002" in users_in(domain_of(lookup(fs, WHOLE_DOMAIN), DOMAIN))


def test_domain_delete(fs: TestClient, api: Api) -> None:
    bodies = (sip_auth_body("2000", DOMAIN), WHOLE_DOMAIN, ALL_GATEWAYS, DIRECTORY)
    warm(fs, *bodies)
    api.ok("[Domains] Del_domain", {"id": domain_id(api)})
    for body in bodies:
        assert is_not_found(lookup(fs, body)), body


def test_import_xml_domain(fs: TestClient, api: Api) -> None:
    bodies = (sip_auth_body("1001", "new.example"), DIRECTORY, ALL_GATEWAYS)
    warm(fs, *bodies)
    api.ok("ImportXMLDomain", {"file": domain_xml("new.example", 3)})
    assert password_of(lookup(fs, sip_auth_body("1001", "new.example")), "1001", "new.example") == "pw1001"
    assert set(users_in(domain_of(lookup(fs, DIRECTORY), "new.example"))) == {"1000", "1001", "1002"}
    assert gateways(domain_of(lookup(fs, ALL_GATEWAYS), "new.example")) == {"gw-new.example-1000": {"realm": "r1000"}}


def test_group_membership(fs: TestClient, api: Api) -> None:
    in_group = domain_body(DOMAIN, user="2000", domain=DOMAIN, group_name="sales")
    warm(fs, GROUP_CALL, in_group, WHOLE_DOMAIN)
    sales = group_id(api, "sales")
    members = api.ok("[Groups] Get_group_users", {"id": sales})["group_users"][str(sales)]
    api.ok("[Groups] Del_group_user", {"id": entry_id(members, "2000")})
    assert group_members(domain_of(lookup(fs, GROUP_CALL), DOMAIN), "sales") == ["2001"]
    assert group_members(domain_of(lookup(fs, in_group), DOMAIN), "sales") == ["2001"]
    assert group_members(domain_of(lookup(fs, WHOLE_DOMAIN), DOMAIN), "sales") == ["2001"]
    api.ok("[Groups] Add_group_user", {"id": sales, "value": str(user_id(api, "2000"))})
    assert group_members(domain_of(lookup(fs, GROUP_CALL), DOMAIN), "sales") == ["2001", "2000"]
    api.ok("[Groups] Add_new_group", {"id": domain_id(api), "name": "support"})
    support = domain_body(DOMAIN, group="support", action="group_call")
    warm(fs, support)
    api.ok("[Groups] Add_group_user", {"id": group_id(api, "support"), "value": str(user_id(api, "2001"))})
    assert group_members(domain_of(lookup(fs, support), DOMAIN), "support") == ["2001"]


def test_gateway_edit(fs: TestClient, api: Api) -> None:
    one_domain = domain_body(DOMAIN, purpose="gateways", profile="external")
    warm(fs, ALL_GATEWAYS, one_domain)
    gid = gateway_id(api, "gw-test")
    details = api.ok("[Gateways] Get_user_gateways_details", {"id": gid})["gateway_details"][str(gid)]
    realm = entry_id(details["parameters"], "realm")
    api.ok("[Gateways] Update_user_gateway_param", {"id": realm, "name": "realm", "value": "192.0.2.1"})
    expected = {"gw-test": {"realm": "192.0.2.1", "register": "false"}}
    assert gateways(domain_of(lookup(fs, ALL_GATEWAYS), DOMAIN)) == expected
    assert gateways(domain_of(lookup(fs, one_domain), DOMAIN)) == expected
    api.ok("[Gateways] Update_user_gateway_name", {"id": gid, "name": "gw-renamed"})
    assert list(gateways(domain_of(lookup(fs, ALL_GATEWAYS), DOMAIN))) == ["gw-renamed"]
    api.ok("[Gateways] Add_user_gateway_param", {"id": gid, "name": "username", "value": "u1"})
    assert gateways(domain_of(lookup(fs, one_domain), DOMAIN))["gw-renamed"]["username"] == "u1"
    api.ok("[Gateways] Del_user_gateway", {"id": gid})
    assert gateways(domain_of(lookup(fs, ALL_GATEWAYS), DOMAIN)) == {}


def test_number_alias_and_cidr(fs: TestClient, api: Api) -> None:
    network_list = domain_body(DOMAIN, domain=DOMAIN, purpose="network-list")
    warm(fs, sip_auth_body("5000", DOMAIN), network_list)
    uid = user_id(api, "2000")
    api.ok("[Users] Update_user_number_alias", {"id": uid, "value": "5000"})
    # FreeSWITCH's key=id matches id or number-alias: user 2000 answers for 5000.
    found = users_in(domain_of(lookup(fs, sip_auth_body("5000", DOMAIN)), DOMAIN))
    assert list(found) == ["2000"] and found["2000"].get("number-alias") == "5000"
    api.ok("[Users] Update_user_cidr", {"id": uid, "value": "192.0.2.0/24"})
    cidrs = {u.get("id"): u.get("cidr") for u in domain_of(lookup(fs, network_list), DOMAIN).iter("user")}
    assert cidrs == {"2000": "192.0.2.0/24"}
