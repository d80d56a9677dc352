from __future__ import annotations

from pathlib import Path

import pytest

from fsdir.directory.tree import Domain, Entry, Gateway, Group, Member, User
from fsdir.freeswitch.parse import (
    CACHE_FOREVER,
    XmlImportError,
    load_config_tree,
    parse_domains,
    parse_esl_xml_locate,
    parse_users,
)
from tests.hostile_xml import BILLION_LAUGHS_PROLOG

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch"
VANILLA_USERS = [str(n) for n in range(1000, 1020)] + ["brian", "default", "example.com", "SEP001120AABBCC"]


def esl_body(name: str) -> str:
    """The body of a recorded ESL frame: after the headers' blank line, Content-Length bytes."""
    raw = (FIXTURES / "esl" / name).read_bytes()
    head, _, rest = raw.partition(b"\n\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\n"))
    return rest[: int(headers["Content-Length"])].decode("utf-8")


def vanilla_tree(**kwargs: object) -> list[Domain]:
    text = load_config_tree(
        FIXTURES / "vanilla-directory",
        FIXTURES / "vanilla-vars.xml",
        True,
        extra_vars={"local_ip_v4": "127.0.0.1"},
        **kwargs,  # type: ignore[arg-type]
    )
    return parse_domains(text)


def members(domain: Domain, group: str) -> list[str]:
    return [member.user for member in next(g for g in domain.groups if g.name == group).members]


def user(domain: Domain, name: str) -> User:
    return next(u for u in domain.users if u.name == name)


def error_of(call: object, *args: object) -> str:
    with pytest.raises(XmlImportError) as info:
        call(*args)  # type: ignore[operator]
    return info.value.message


# --- FreeSWITCH's own renderings ------------------------------------------------------------------


def test_xml_locate_vanilla_body() -> None:
    [domain] = parse_esl_xml_locate(esl_body("xml_locate_vanilla.txt"))
    assert domain.name == "127.0.0.1"
    assert [u.name for u in domain.users] == VANILLA_USERS
    assert [g.name for g in domain.groups] == ["default", "sales", "billing", "support"]
    # The default group holds the real users (default/*.xml): they become its members, in file order.
    assert members(domain, "default") == VANILLA_USERS
    assert members(domain, "sales") == ["1000", "1001", "1002", "1003", "1004"]
    assert members(domain, "billing") == ["1005", "1006", "1007", "1008", "1009"]
    assert members(domain, "support") == ["1010", "1011", "1012", "1013", "1014"]
    assert [p.name for p in domain.params] == ["dial-string", "jsonrpc-allowed-methods"]
    assert [(v.name, v.value) for v in domain.variables] == [
        ("record_stereo", "true"),
        ("default_gateway", "example.com"),
        ("default_areacode", "918"),
        ("transfer_fallback_extension", "operator"),
    ]
    u1000 = user(domain, "1000")
    assert u1000.params == [Entry("password", "1234"), Entry("vm-password", "1000")]
    assert len(u1000.variables) == 8 and u1000.variables[-1] == Entry("callgroup", "techsupport")
    assert user(domain, "brian").cidr == "192.0.2.0/24"
    assert user(domain, "brian").gateways == []
    assert user(domain, "default").params == []
    assert user(domain, "SEP001120AABBCC").params == [Entry("foo", "bar")]  # <skinny> ignored
    [gateway] = user(domain, "example.com").gateways
    assert gateway.name == "example.com"
    assert [(p.name, p.value) for p in gateway.params] == [
        ("username", "joeuser"),
        ("password", "password"),
        ("from-user", "joeuser"),
        ("from-domain", "example.com"),
        ("expire-seconds", "600"),
        ("register", "false"),
        ("retry-seconds", "30"),
        ("extension", "5000"),
        ("context", "public"),
    ]


def test_xml_locate_of_a_served_document_and_nothing() -> None:
    [domain] = parse_esl_xml_locate(esl_body("api_xml_locate_directory.txt"))
    assert domain.name == "xmlcurl.test"
    assert parse_esl_xml_locate("can't find anything\n") == []
    assert parse_esl_xml_locate('<section name="directory" description="User Directory">\n</section>') == []
    assert error_of(parse_esl_xml_locate, "-ERR bad args\n") == "can't parse"


def test_xmlcurl_directory_response() -> None:
    [domain] = parse_domains((FIXTURES / "xmlcurl_directory_response.xml").read_text())
    assert domain.name == "xmlcurl.test"
    assert [u.name for u in domain.users] == ["2000", "2001"]
    u2000 = user(domain, "2000")
    assert u2000.cache == 5000
    assert u2000.gateways == [Gateway("gw-test", [Entry("realm", "127.0.0.1:5999"), Entry("register", "false")])]
    assert domain.groups == [
        Group("default", [Member("2000"), Member("2001")]),
        Group("sales", [Member("2000"), Member("2001")]),
    ]


# --- The configuration-tree pre-processor ---------------------------------------------------------


def test_vanilla_tree_gives_what_freeswitch_gives() -> None:
    warnings: list[str] = []
    assert vanilla_tree(warnings=warnings) == parse_esl_xml_locate(esl_body("xml_locate_vanilla.txt"))
    assert any("cmd='stun-set' not run" in w for w in warnings)
    assert any("$${sounds_dir} is not defined" in w for w in warnings)


def test_vanilla_tree_unexpanded_keeps_references() -> None:
    warnings: list[str] = []
    text = load_config_tree(FIXTURES / "vanilla-directory", FIXTURES / "vanilla-vars.xml", False, warnings=warnings)
    [domain] = parse_domains(text)
    assert domain.name == "$${domain}"
    assert user(domain, "1000").params[0] == Entry("password", "$${default_password}")
    assert [g.name for g in user(domain, "$${default_provider}").gateways] == ["$${default_provider}"]
    assert len(domain.users) == 24
    assert not any("not defined" in w for w in warnings)


def test_undefined_variable_is_kept_and_reported_once() -> None:
    warnings: list[str] = []
    text = load_config_tree(FIXTURES / "vanilla-directory", FIXTURES / "vanilla-vars.xml", True, warnings=warnings)
    [domain] = parse_domains(text)
    # domain=$${local_ip_v4} in vars.xml: left for FreeSWITCH to expand when served.
    assert domain.name == "$${local_ip_v4}"
    assert sum("$${local_ip_v4}" in w for w in warnings) == 1


def test_preprocessor_rules(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "b.xml").write_text('<include>\n<user id="$${second}"/>\n</include>\n')
    (tmp_path / "users" / "a.xml").write_text('<include>\n<user id="first"/>\n</include>\n')
    (tmp_path / "d.xml").write_text(
        "<include>\n"
        '<X-PRE-PROCESS cmd="set" data="second = two"/>\n'
        '<XX-PRE-PROCESS cmd="set" data="second=never"/>\n'
        '<X-PRE-PROCESS cmd="exec" data="touch ' + str(tmp_path / "ran") + '"/>\n'
        '<domain name="d"><users>\n'
        '<X-PRE-PROCESS cmd="include" data="users/*.xml"/>\n'
        '<X-PRE-PROCESS cmd="include" data="missing/*.xml"/>\n'
        "</users></domain>\n"
        "</include>\n"
    )
    (tmp_path / "notes.txt").write_text("not xml")
    warnings: list[str] = []
    [domain] = parse_domains(load_config_tree(tmp_path, None, True, warnings=warnings))
    assert [u.name for u in domain.users] == ["first", "two"]  # sorted glob, set trims spaces
    assert not (tmp_path / "ran").exists()
    assert any("cmd='exec' not run" in w for w in warnings)
    assert any("'missing/*.xml' matched nothing" in w for w in warnings)
    # A single file works too.
    [again] = parse_domains(load_config_tree(tmp_path / "d.xml", None, True))
    assert again == domain


def test_include_loops_and_size_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text('<X-PRE-PROCESS cmd="include" data="*.xml"/>\n')
    (tmp_path / "b.xml").write_text('<X-PRE-PROCESS cmd="include" data="a.xml"/>\n')
    assert error_of(load_config_tree, tmp_path, None, True).startswith("include loop")
    big = tmp_path / "big"
    big.mkdir()
    (big / "d.xml").write_text('<domain name="d">\n' + "<!-- padding -->\n" * 100 + "</domain>\n")
    with pytest.raises(XmlImportError, match="file too large"):
        load_config_tree(big, None, True, max_bytes=1000)


# --- Accepted shapes ------------------------------------------------------------------------------


def test_api_document_example() -> None:
    text = (
        '\r\n  <domain name="newDomain">\r\n    <params>\r\n      <param name="jsonrpc-allowed-methods"'
        ' value="verto"/>\r\n    </params>\r\n    <variables>\r\n      <variable name="record_stereo"'
        ' value="true"/>\r\n    </variables>\r\n    <groups>\r\n    </groups>\r\n  </domain>'
    )
    assert parse_domains(text) == [
        Domain(
            "newDomain", params=[Entry("jsonrpc-allowed-methods", "verto")], variables=[Entry("record_stereo", "true")]
        )
    ]


@pytest.mark.parametrize(
    "text",
    [
        '<domain name="a"/><domain name="b"/>',
        '\ufeff<?xml version="1.0" encoding="ISO-8859-1"?>\n<domain name="a"/>\n<domain name="b"/>\n',
        '<include><!-- two --><domain name="a"/><domain name="b"/></include>',
        '<section name="Directory"><domain name="a"/><domain name="b"/></section>',
        '<document type="freeswitch/xml"><section name="configuration"/>'
        '<section name="directory"><domain name="a"/><domain name="b"/></section></document>',
    ],
)
def test_domain_containers(text: str) -> None:
    assert [d.name for d in parse_domains(text)] == ["a", "b"]


def test_users_everywhere_in_a_domain() -> None:
    [domain] = parse_domains(
        """<domain name=" d ">
          <user id="direct"/>
          <users><user id=" listed "/><user id="x" type="pointer"/></users>
          <groups>
            <group name="g">
              <users>
                <user id="direct" type="Pointer" enabled="false"/>
                <user id="grouped"/>
                <user id="GROUPED" type="pointer"/>
              </users>
            </group>
            <group name="empty"/>
          </groups>
        </domain>"""
    )
    assert domain.name == "d"
    assert [u.name for u in domain.users] == ["direct", "listed", "grouped"]
    # One membership per user, the real user's own one included; pointer flags kept.
    assert domain.groups == [Group("g", [Member("direct", enabled=False), Member("grouped")]), Group("empty")]


def test_user_fields() -> None:
    [domain] = parse_domains(
        """<domain name="d"><users>
          <user id="u" cacheable="true" cidr="10.0.0.0/8, 192.0.2.1/32" number-alias="42" enabled="false">
            <vcard><param name="ignored" value=""/></vcard>
            <params><param name=" password " value=" s e c r e t "/><param name="off" enabled="false"/></params>
            <variables><variable name="v" value="$${x} ${y}" direction="inbound"/></variables>
            <gateways>
              <gateway name="direct"><param name="realm" value="r"/>
                <variables><variable name="a" value="1" direction="Inbound"/>
                  <variable name="b" value="2" direction="outbound" enabled="false"/><variable name="c" value="3"/>
                </variables></gateway>
              <gateway name="wrapped" enabled="false"><params><param name="p" value="1"/></params>
                <param name="ignored" value="sofia reads params only"/>
                <variable name="v" value="direct variable"/></gateway>
            </gateways>
          </user></users></domain>"""
    )
    assert domain.users == [
        User(
            "u",
            params=[Entry("password", " s e c r e t "), Entry("off", "", enabled=False)],
            variables=[Entry("v", "$${x} ${y}")],  # direction is for gateway variables only
            gateways=[
                Gateway(
                    "direct",
                    [Entry("realm", "r")],
                    [Entry("a", "1", direction="inbound"), Entry("b", "2", False, "outbound"), Entry("c", "3")],
                ),
                Gateway("wrapped", [Entry("p", "1")], [Entry("v", "direct variable")], enabled=False),
            ],
            cache=CACHE_FOREVER,
            cidr="10.0.0.0/8, 192.0.2.1/32",
            number_alias="42",
            enabled=False,
        )
    ]


@pytest.mark.parametrize(
    ("cacheable", "cache"),
    [
        ("5000", 5000),
        ("", 0),
        ("0", 0),
        ("-1", 0),
        ("1.5", 1),
        ("+7", 7),
        ("yes", CACHE_FOREVER),
        ("9" * 40, CACHE_FOREVER),
    ],
)
def test_cacheable(cacheable: str, cache: int) -> None:
    assert parse_users(f'<user id="u" cacheable="{cacheable}"/>')[0].cache == cache


def test_disabled_flags() -> None:
    [domain] = parse_domains(
        '<domain name="d" enabled="FALSE"><params><param name="p" value="1" enabled="0"/></params>'
        '<variables><variable name="v" value="1" enabled="false"/></variables></domain>'
    )
    assert domain == Domain("d", [Entry("p", "1", False)], [Entry("v", "1", False)], enabled=False)


@pytest.mark.parametrize(
    "text",
    [
        '<user id="a"><params><param name="password" value="x"/></params></user>',
        '<users><user id="a"/><user id="p" type="pointer"/></users>',
        '<include><user id="a"/></include>',
        '<domain name="d"><groups><group name="g"><users><user id="a"/><user id="a" type="pointer"/></users>'
        "</group></groups></domain>",
    ],
)
def test_parse_users_shapes(text: str) -> None:
    assert [u.name for u in parse_users(text)] == ["a"]


def test_parse_users_api_example() -> None:
    text = (
        '<user id="1400">\r\n    <params>\r\n      <param name="password" value="$${default_password}"/>\r\n'
        '      <param name="vm-password" value="1000"/>\r\n    </params>\r\n  </user>'
    )
    [parsed] = parse_users(text)
    assert parsed.params == [Entry("password", "$${default_password}"), Entry("vm-password", "1000")]


# --- Refused input --------------------------------------------------------------------------------

BILLION_LAUGHS = BILLION_LAUGHS_PROLOG + '<domain name="&lol9;"/>'
XXE = """<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<domain name="d"><variables><variable name="v" value="x"/></variables>&xxe;</domain>"""
PARAMETER_ENTITY = """<!DOCTYPE domain [<!ENTITY % remote SYSTEM "http://example.invalid/evil.dtd"> %remote;]>
<domain name="d"/>"""
EXTERNAL_DTD = '<?xml version="1.0"?>\n<!DOCTYPE domain SYSTEM "http://example.invalid/d.dtd">\n<domain name="d"/>'


@pytest.mark.parametrize(
    "text",
    [
        BILLION_LAUGHS,
        XXE,
        PARAMETER_ENTITY,
        EXTERNAL_DTD,
        '<domain name="d">',
        '<domain name="d"/> trailing text',
        "<user id='u'/>",  # not a directory document for parse_domains
        "not xml at all",
        '<domain name="a\ud800"/>',
    ],
)
def test_hostile_or_malformed_input(text: str) -> None:
    assert error_of(parse_domains, text) == "can't parse"


@pytest.mark.parametrize("parse", [parse_users, parse_esl_xml_locate])
def test_hostile_input_everywhere(parse: object) -> None:
    assert error_of(parse, BILLION_LAUGHS) == "can't parse"
    assert error_of(parse, XXE) == "can't parse"


def test_size_cap() -> None:
    assert error_of(parse_domains, "<domain name='d'/>" + " " * (16 * 1024 * 1024)) == "file too large"
    # The cap counts UTF-8 bytes, not characters.
    text = '<domain name="' + "é" * 60 + '"/>'
    assert len(text) < 100
    with pytest.raises(XmlImportError, match="file too large"):
        parse_domains(text, max_bytes=100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty data"),
        (" \r\n\t", "empty data"),
        ('<document type="freeswitch/xml"><section name="directory"/></document>', "empty data"),
        ("<domain/>", "empty domain name"),
        ('<domain name="d"><params><param value="1"/></params></domain>', "empty data"),
        ('<domain name="d"/><domain name="D"/>', "domain name already exists: D"),
        ('<domain name="d"><user id="u"/><users><user id="U"/></users></domain>', "user name already exists: U"),
        (
            '<domain name="d"><groups><group name="g"><users><user id="u"/></users></group>'
            '<group name="h"><users><user id="u"/></users></group></groups></domain>',
            "user name already exists: u",
        ),
        (
            '<domain name="d"><groups><group name="g"/><group name="G"/></groups></domain>',
            "group name already exists: G",
        ),
        (
            '<domain name="a"><user id="u"><gateways><gateway name="gw"/></gateways></user></domain>'
            '<domain name="b"><user id="u"><gateways><gateway name="GW"/></gateways></user></domain>',
            "gateway name already exists: GW",
        ),
        (
            '<domain name="d"><variables><variable name="v"/><variable name="v "/></variables></domain>',
            "variable name already exists: v",
        ),
    ],
)
def test_errors(text: str, message: str) -> None:
    assert error_of(parse_domains, text) == message


def test_parse_users_errors() -> None:
    assert error_of(parse_users, "<users/>") == "empty data"
    assert error_of(parse_users, '<users><user id="u"/><user id="u"/></users>') == "user name already exists: u"
    assert error_of(parse_users, "<groups/>") == "can't parse"
