from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsdir.directory.tree import Domain, Entry, Gateway, Group, Member, User
from fsdir.freeswitch.parse import CACHE_FOREVER, XmlImportError, parse_domains, parse_esl_xml_locate
from fsdir.freeswitch.render import (
    NOT_FOUND,
    render_directory_document,
    render_domain_document,
    render_export,
    render_gateways_document,
    render_network_list_document,
    render_user_document,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch"
# What FreeSWITCH's pre-processor does to a line of a mod_xml_curl answer before parsing it.
DROPPED_LINE = re.compile(r"<include>|</include>|<\?|x-pre-process", re.IGNORECASE)


def vanilla() -> Domain:
    raw = (FIXTURES / "esl" / "xml_locate_vanilla.txt").read_text()
    [domain] = parse_esl_xml_locate(raw.partition("\n\n")[2])
    return domain


def xmlcurl() -> Domain:
    [domain] = parse_domains((FIXTURES / "xmlcurl_directory_response.xml").read_text())
    return domain


def check_freeswitch_safe(document: bytes) -> ElementTree.Element:
    """No line FreeSWITCH would drop; no declaration; parses; the directory section is the root's child."""
    text = document.decode("utf-8")
    assert not any(DROPPED_LINE.search(line) for line in text.split("\n"))
    root = ElementTree.fromstring(document)
    assert root.tag == "document" and root.get("type") == "freeswitch/xml"
    [section] = root
    assert section.tag == "section" and section.get("name") == "directory"
    return section


def user_ids(section: ElementTree.Element) -> list[tuple[str, str | None]]:
    """(id, type) of every <user> in document order."""
    return [(u.get("id", ""), u.get("type")) for u in section.iter("user")]


def check_real_users_first(section: ElementTree.Element) -> None:
    """FreeSWITCH takes the first <user> whose id matches: it must never be a pointer."""
    first: dict[str, str | None] = {}
    for name, kind in user_ids(section):
        first.setdefault(name.lower(), kind)
    assert "pointer" not in first.values()


def test_not_found_document() -> None:
    assert NOT_FOUND == (
        b'<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>'
    )


def test_user_document() -> None:
    domain = xmlcurl()
    section = check_freeswitch_safe(render_user_document(domain, domain.users[0], a1_hash=False))
    [element] = section
    assert element.get("name") == "xmlcurl.test"
    assert [p.get("name") for p in element.findall("params/param")] == ["dial-string", "jsonrpc-allowed-methods"]
    assert [v.get("name") for v in element.findall("variables/variable")] == ["user_context", "record_stereo"]
    assert user_ids(section) == [("2000", None)]  # no pointer group
    [user] = element.findall("groups/group/users/user")
    assert user.get("cacheable") == "5000" and user.get("cidr") is None and user.get("number-alias") is None
    assert [(p.get("name"), p.get("value")) for p in user.findall("params/param")] == [
        ("password", "s3cret"),
        ("vm-password", "2000"),
    ]
    assert user.find("gateways") is None


def test_user_document_without_the_user() -> None:
    domain = xmlcurl()
    disabled = replace(domain.users[0], enabled=False)
    for user in (None, disabled):
        section = check_freeswitch_safe(render_user_document(domain, user, a1_hash=False))
        assert user_ids(section) == []
        assert section.find("domain/params") is not None


def test_user_attributes_and_disabled_items() -> None:
    user = User(
        "u",
        params=[Entry("password", "p"), Entry("off", "x", enabled=False)],
        variables=[Entry("v", "1", enabled=False)],
        cache=CACHE_FOREVER,
        cidr="192.0.2.0/24",
        number_alias="42",
    )
    domain = Domain("d", params=[Entry("dp", "1", enabled=False)], variables=[Entry("dv", "2")], users=[user])
    text = render_user_document(domain, user, a1_hash=False).decode()
    assert '<user id="u" cacheable="true" cidr="192.0.2.0/24" number-alias="42">' in text
    assert "off" not in text and "dp" not in text and 'name="v"' not in text
    assert "enabled=" not in text


def test_a1_hash() -> None:
    domain = xmlcurl()
    section = check_freeswitch_safe(render_user_document(domain, domain.users[0], a1_hash=True))
    params = {p.get("name"): p.get("value") for p in section.iter("param")}
    assert "password" not in params
    assert params["a1-hash"] == hashlib.md5(b"2000:xmlcurl.test:s3cret").hexdigest()
    assert params["vm-password"] == "2000"
    # Gateways keep their password: sofia needs it to register upstream.
    user = User("u", params=[Entry("Password", "p")], gateways=[Gateway("gw", [Entry("password", "upstream")])])
    whole = check_freeswitch_safe(render_domain_document(Domain("d", users=[user]), a1_hash=True))
    assert [(p.get("name"), p.get("value")) for p in whole.iter("param")] == [
        ("a1-hash", hashlib.md5(b"u:d:p").hexdigest()),
        ("password", "upstream"),
    ]


def test_domain_document_vanilla() -> None:
    domain = vanilla()
    section = check_freeswitch_safe(render_domain_document(domain, a1_hash=False))
    check_real_users_first(section)
    groups = section.findall("domain/groups/group")
    assert [g.get("name") for g in groups] == ["all", "default", "sales", "billing", "support"]
    assert groups[0].get("fsdir-all-users") == "true"
    assert [u.get("id") for u in groups[0].iter("user")] == [u.name for u in domain.users]
    assert all(u.get("type") == "pointer" for g in groups[1:] for u in g.iter("user"))
    assert [u.get("id") for u in groups[2].iter("user")] == ["1000", "1001", "1002", "1003", "1004"]
    assert len(list(groups[0].iter("gateway"))) == 1
    # It is also what FreeSWITCH hands back over xml_locate: import gives the same tree.
    assert parse_esl_xml_locate(render_domain_document(domain, a1_hash=False).decode()) == [domain]


def test_disabled_items_never_reach_freeswitch() -> None:
    domain = Domain(
        "d",
        params=[Entry("p-off", "1", enabled=False)],
        variables=[Entry("v-off", "1", enabled=False)],
        users=[
            User("u-off", params=[Entry("password", "x")]),
            User(
                "u",
                params=[Entry("up-off", "1", enabled=False)],
                variables=[Entry("uv-off", "1", enabled=False)],
                gateways=[
                    Gateway("gw-off", [Entry("realm", "r")], enabled=False),
                    Gateway(
                        "gw",
                        [Entry("gp-off", "1", enabled=False)],
                        [Entry("gv-off", "1", enabled=False), Entry("gv", "1", direction="outbound")],
                    ),
                ],
            ),
        ],
        groups=[Group("g", [Member("u-off"), Member("u", enabled=False), Member("ghost")])],
    )
    domain.users[0].enabled = False
    for document in (
        render_domain_document(domain, a1_hash=False),
        render_directory_document([domain], a1_hash=False),
        render_gateways_document([domain]),
        render_user_document(domain, domain.users[1], a1_hash=False),
        render_user_document(domain, domain.users[0], a1_hash=False),
        render_export([domain], include_disabled=False).encode(),
    ):
        check_freeswitch_safe(document)
        text = document.decode()
        assert "-off" not in text and "ghost" not in text and 'type="pointer"' not in text
        assert "enabled=" not in text
    group = ElementTree.fromstring(render_domain_document(domain, a1_hash=False)).find(".//group[@name='g']")
    assert group is not None and list(group) == []


def test_directory_document() -> None:
    on, off = Domain("on"), Domain("off", enabled=False)
    section = check_freeswitch_safe(render_directory_document([off, xmlcurl(), on], a1_hash=False))
    assert [d.get("name") for d in section] == ["xmlcurl.test", "on"]
    check_real_users_first(section)
    assert render_directory_document([], a1_hash=False) == NOT_FOUND
    assert render_directory_document([off], a1_hash=False) == NOT_FOUND


def test_gateways_document() -> None:
    gateway = Gateway(
        "gw",
        [Entry("realm", "r")],
        [Entry("both", "1"), Entry("in", "2", direction="inbound"), Entry("out", "3", direction="outbound")],
    )
    domain = Domain(
        "d",
        params=[Entry("dial-string", "x")],
        users=[User("a", params=[Entry("password", "p")], gateways=[gateway]), User("b")],
    )
    section = check_freeswitch_safe(render_gateways_document([Domain("empty"), domain, Domain("off", enabled=False)]))
    assert [d.get("name") for d in section] == ["empty", "d"]
    [users] = section.findall("domain/groups/group/users")  # in a group: sofia reads gateways there
    assert [u.get("id") for u in users] == ["a"]
    [gw] = users.iter("gateway")
    assert [(p.get("name"), p.get("value")) for p in gw.findall("param")] == [("realm", "r")]
    assert [v.get("direction") for v in gw.findall("variables/variable")] == [None, "inbound", "outbound"]
    assert section.find("domain/params") is None
    assert render_gateways_document([]) == NOT_FOUND


def test_network_list_document() -> None:
    domain = Domain(
        "d",
        users=[User("a", cidr="192.0.2.0/24", params=[Entry("password", "p")]), User("b"), User("c", cidr="::1/128")],
    )
    domain.users[2].enabled = False
    section = check_freeswitch_safe(render_network_list_document(domain))
    assert [(u.get("id"), u.get("cidr")) for u in section.iter("user")] == [("a", "192.0.2.0/24")]
    assert list(section.iter("param")) == []
    assert [d.get("name") for d in check_freeswitch_safe(render_network_list_document(Domain("x")))] == ["x"]


def test_export_round_trip_vanilla() -> None:
    domains = [vanilla(), xmlcurl()]
    assert parse_domains(render_export(domains, include_disabled=False)) == domains
    assert parse_domains(render_export(domains, include_disabled=True)) == domains


def test_escaping() -> None:
    value = 'a"b<c>&d\te\r\nf $${g} ${h} <X-PRE-PROCESS cmd="set"/> x-Pre-Process <?xml <include></include>'
    user = User("u", variables=[Entry("v", value)])
    document = render_user_document(Domain("d", users=[user]), user, a1_hash=False)
    section = check_freeswitch_safe(document)
    assert next(section.iter("variable")).get("value") == value
    assert b"$${g} ${h}" in document  # values are served verbatim, for FreeSWITCH to expand


def test_characters_xml_cannot_carry_become_replacement_characters() -> None:
    user = User("u\x00", variables=[Entry("v", "a\x01b\ud800c\uffff")])
    section = check_freeswitch_safe(render_user_document(Domain("d"), user, a1_hash=False))
    assert next(section.iter("user")).get("id") == "u\ufffd"
    assert next(section.iter("variable")).get("value") == "a\ufffdb\ufffdc\ufffd"


# --- Properties -----------------------------------------------------------------------------------

XML_CHARACTERS = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=[chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)] + ["\ufffe", "\uffff"],
)
TRICKY = ['"', "'", "<", ">", "&", "\n", "\r\n", "\t", "$", "${x}", "$${y}", "X-PRE-PROCESS", "<include>", "<?", "]]>"]
values = st.lists(st.sampled_from(TRICKY) | st.text(XML_CHARACTERS, max_size=6), max_size=5).map("".join)
names = values.map(str.strip).filter(bool)
caches = st.sampled_from([0, 5000, CACHE_FOREVER]) | st.integers(0, CACHE_FOREVER)


def entries(directed: bool = False) -> st.SearchStrategy[list[Entry]]:
    direction = st.sampled_from(["", "inbound", "outbound"]) if directed else st.just("")
    return st.lists(
        st.builds(Entry, names, values, st.booleans(), direction), max_size=3, unique_by=lambda e: e.name.lower()
    )


@st.composite
def trees(draw: st.DrawFn) -> list[Domain]:
    gateway_names: set[str] = set()
    domains = []
    for domain_name in draw(st.lists(names, min_size=1, max_size=3, unique_by=str.lower)):
        users = []
        for user_name in draw(st.lists(names, max_size=4, unique_by=str.lower)):
            gateways = []
            for gateway_name in draw(st.lists(names, max_size=2, unique_by=str.lower)):
                if gateway_name.lower() not in gateway_names:  # gateway names are global
                    gateway_names.add(gateway_name.lower())
                    gateways.append(Gateway(gateway_name, draw(entries()), draw(entries(True)), draw(st.booleans())))
            users.append(
                User(
                    user_name,
                    draw(entries()),
                    draw(entries()),
                    gateways,
                    draw(caches),
                    draw(values),
                    draw(values),
                    draw(st.booleans()),
                )
            )
        groups = []
        for group_name in draw(st.lists(names, max_size=3, unique_by=str.lower)):
            member_names = (
                draw(st.lists(st.sampled_from([u.name for u in users]), unique_by=str.lower)) if users else []
            )
            groups.append(Group(group_name, [Member(name, draw(st.booleans())) for name in member_names]))
        domains.append(Domain(domain_name, draw(entries()), draw(entries()), users, groups, draw(st.booleans())))
    return domains


def enabled_only(domains: list[Domain]) -> list[Domain]:
    def keep(items: list[Entry]) -> list[Entry]:
        return [item for item in items if item.enabled]

    result = []
    for domain in domains:
        if not domain.enabled:
            continue
        users = [
            replace(
                user,
                params=keep(user.params),
                variables=keep(user.variables),
                gateways=[
                    replace(g, params=keep(g.params), variables=keep(g.variables)) for g in user.gateways if g.enabled
                ],
            )
            for user in domain.users
            if user.enabled
        ]
        shown = {user.name.lower() for user in users}
        groups = [Group(g.name, [m for m in g.members if m.enabled and m.user.lower() in shown]) for g in domain.groups]
        result.append(
            replace(domain, params=keep(domain.params), variables=keep(domain.variables), users=users, groups=groups)
        )
    return result


@settings(deadline=None)
@given(names, entries(), entries(), names, entries(), entries(), caches, values, values)
def test_user_document_carries_values_exactly(
    domain_name: str,
    domain_params: list[Entry],
    domain_variables: list[Entry],
    user_name: str,
    params: list[Entry],
    variables: list[Entry],
    cache: int,
    cidr: str,
    number_alias: str,
) -> None:
    user = User(user_name, params, variables, cache=cache, cidr=cidr, number_alias=number_alias)
    domain = Domain(domain_name, domain_params, domain_variables, [user])
    section = check_freeswitch_safe(render_user_document(domain, user, a1_hash=False))
    [element] = section
    assert element.get("name") == domain_name

    def shown(owner: ElementTree.Element, path: str) -> list[tuple[str | None, str | None]]:
        return [(e.get("name"), e.get("value")) for e in owner.findall(path)]

    assert shown(element, "params/param") == [(e.name, e.value) for e in domain_params if e.enabled]
    assert shown(element, "variables/variable") == [(e.name, e.value) for e in domain_variables if e.enabled]
    [rendered] = element.iter("user")
    assert rendered.get("id") == user_name
    assert rendered.get("cidr", "") == cidr
    assert rendered.get("number-alias", "") == number_alias
    assert rendered.get("cacheable") == (None if cache == 0 else "true" if cache == CACHE_FOREVER else str(cache))
    assert shown(rendered, "params/param") == [(e.name, e.value) for e in params if e.enabled]
    assert shown(rendered, "variables/variable") == [(e.name, e.value) for e in variables if e.enabled]


@settings(deadline=None)
@given(trees())
def test_export_round_trip(domains: list[Domain]) -> None:
    assert parse_domains(render_export(domains, include_disabled=True)) == domains
    expected = enabled_only(domains)
    if expected:
        assert parse_domains(render_export(domains, include_disabled=False)) == expected
    else:
        with pytest.raises(XmlImportError, match="empty data"):
            parse_domains(render_export(domains, include_disabled=False))


@settings(deadline=None)
@given(trees())
def test_served_documents_are_safe_and_put_real_users_first(domains: list[Domain]) -> None:
    for domain in domains:
        check_real_users_first(check_freeswitch_safe(render_domain_document(domain, a1_hash=True)))
        check_freeswitch_safe(render_network_list_document(domain))
        for user in domain.users:
            section = check_freeswitch_safe(render_user_document(domain, user, a1_hash=True))
            assert not any(kind == "pointer" for _, kind in user_ids(section))
            assert "password" not in {p.get("name", "").lower() for p in section.iter("param")}
    for document in (render_directory_document(domains, a1_hash=False), render_gateways_document(domains)):
        if document != NOT_FOUND:
            check_real_users_first(check_freeswitch_safe(document))


def test_a1_hash_covers_a_password_inherited_from_the_domain() -> None:
    domain = Domain("corp.example", params=[Entry("password", "domain-secret"), Entry("dial-string", "x")])
    own = User("1000", params=[Entry("password", "own-secret")])
    inheriting = User("1001")
    for user, secret in ((own, "own-secret"), (inheriting, "domain-secret")):
        text = render_user_document(domain, user, a1_hash=True)
        assert b"secret" not in text
        section = ElementTree.fromstring(text).find("section")
        assert section is not None
        dom = section.find("domain")
        assert dom is not None
        assert [p.get("name") for p in dom.findall("params/param")] == ["dial-string"]
        expected = hashlib.md5(f"{user.name}:corp.example:{secret}".encode()).hexdigest()
        assert [p.get("value") for p in dom.iter("param") if p.get("name") == "a1-hash"] == [expected]
    assert b"domain-secret" not in render_domain_document(
        Domain("d", [Entry("password", "domain-secret")], users=[inheriting]), a1_hash=True
    )
