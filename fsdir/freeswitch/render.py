"""Tree → FreeSWITCH directory XML: the answers to mod_xml_curl, and the API's export.

Plain string building (this is the hot path). No XML declaration at all: FreeSWITCH's pre-processor
drops every line holding ``<?``. One element per line, and no value ever spans lines, so a line
FreeSWITCH drops can take at most one element with it.

Attribute values are escaped so that an XML parser gives back exactly the stored text: ``& < > "``
as entities, tab/newline/CR as character references. ``$`` stays raw, as ``$${global}`` references
are meant for FreeSWITCH to expand. The ``x`` of any ``x-pre-process`` in a value is written
``&#120;``: FreeSWITCH's pre-processor drops a line that mentions X-PRE-PROCESS anywhere. Characters
XML 1.0 can't carry (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE, U+FFFF) become
U+FFFD, so rendering never fails and FreeSWITCH always gets a well-formed document.
"""

from __future__ import annotations

import hashlib
import re

from fsdir.directory.tree import Domain, Entry, Gateway, Group, User
from fsdir.freeswitch.parse import ALL_USERS_ATTRIBUTE, CACHE_FOREVER

NOT_FOUND = b'<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>'

_DOCUMENT_OPEN = '<document type="freeswitch/xml">\n  <section name="directory">'
_DOCUMENT_CLOSE = "  </section>\n</document>\n"
_DISABLED = ' enabled="false"'
_PAD = tuple("  " * depth for depth in range(11))
# Depths: domain 2, its params/variables/groups 3, group 4, group users 5, user 6, user params/
# variables/gateways 7, gateway 8, gateway params and variables 9, gateway variable 10.

_SPECIAL = re.compile(r'[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|(?i:x(?=-pre-process))')
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\t": "&#9;",
    "\n": "&#10;",
    "\r": "&#13;",
    "x": "&#120;",
    "X": "&#88;",
}


def _escape(match: re.Match[str]) -> str:
    return _ESCAPES.get(match[0], "\ufffd")


def _attr(value: str) -> str:
    """``value`` ready to sit between double quotes."""
    return _SPECIAL.sub(_escape, value)


def render_user_document(domain: Domain, user: User | None, *, a1_hash: bool, all_users_group: str = "all") -> bytes:
    """The answer to a user lookup: the domain's params and variables and the one user, if enabled.

    Without the user (unknown or disabled) the domain is answered alone: FreeSWITCH then fails the
    lookup for good instead of falling back to its static files. The user sits in the same leading
    all-users group as in the whole-domain document, where FreeSWITCH searches first (and where its
    group-then-domain inheritance works the same whichever document answered); a user lookup answer
    never holds a pointer, which FreeSWITCH would take for the user itself (403 on REGISTER).
    """
    out = [_DOCUMENT_OPEN]
    _open_domain(out, domain, show_disabled=False, a1_hash=a1_hash)
    if user is not None and user.enabled:
        lines: list[str] = []
        _user(lines, user, domain, show_disabled=False, a1_hash=a1_hash, gateways=False)
        out.append(f"{_PAD[3]}<groups>")
        _group(out, _all_users_attributes(all_users_group), lines)
        out.append(f"{_PAD[3]}</groups>")
    out.append(f"{_PAD[2]}</domain>")
    return _finish(out)


def render_domain_document(domain: Domain, *, a1_hash: bool, all_users_group: str = "all") -> bytes:
    """The whole domain (domain lookups, group calls): every enabled real user in a leading
    ``all_users_group`` group, then the domain's groups with their pointer members."""
    out = [_DOCUMENT_OPEN]
    _domain(out, domain, show_disabled=False, a1_hash=a1_hash, all_users_group=all_users_group)
    return _finish(out)


def render_directory_document(domains: list[Domain], *, a1_hash: bool, all_users_group: str = "all") -> bytes:
    """Every enabled domain, whole; :data:`NOT_FOUND` when there is none, so that an empty
    directory does not hide FreeSWITCH's own files."""
    out = [_DOCUMENT_OPEN]
    for domain in domains:
        if domain.enabled:
            _domain(out, domain, show_disabled=False, a1_hash=a1_hash, all_users_group=all_users_group)
    return NOT_FOUND if len(out) == 1 else _finish(out)


def render_gateways_document(domains: list[Domain], *, all_users_group: str = "all") -> bytes:
    """For ``purpose=gateways``: each enabled domain with the enabled users owning enabled gateways.

    The users sit in a group, as sofia reads gateways only from users directly under ``<domain>``
    or inside ``<groups><group><users>``, never from ``<domain><users>``. A domain with no gateway
    still appears. :data:`NOT_FOUND` when there is no enabled domain.
    """
    out = [_DOCUMENT_OPEN]
    for domain in domains:
        if not domain.enabled:
            continue
        out.append(f'{_PAD[2]}<domain name="{_attr(domain.name)}">')
        lines: list[str] = []
        for user in domain.users:
            if user.enabled and any(gateway.enabled for gateway in user.gateways):
                lines.append(f'{_PAD[6]}<user id="{_attr(user.name)}">')
                _gateways(lines, user.gateways, show_disabled=False)
                lines.append(f"{_PAD[6]}</user>")
        if lines:
            out.append(f"{_PAD[3]}<groups>")
            _group(out, _all_users_attributes(all_users_group), lines)
            out.append(f"{_PAD[3]}</groups>")
        out.append(f"{_PAD[2]}</domain>")
    return NOT_FOUND if len(out) == 1 else _finish(out)


def render_network_list_document(domain: Domain, *, all_users_group: str = "all") -> bytes:
    """For ``purpose=network-list``: the domain with every enabled user that has a ``cidr``."""
    out = [_DOCUMENT_OPEN, f'{_PAD[2]}<domain name="{_attr(domain.name)}">']
    lines = [
        f'{_PAD[6]}<user id="{_attr(user.name)}" cidr="{_attr(user.cidr)}"/>'
        for user in domain.users
        if user.enabled and user.cidr
    ]
    if lines:
        out.append(f"{_PAD[3]}<groups>")
        _group(out, _all_users_attributes(all_users_group), lines)
        out.append(f"{_PAD[3]}</groups>")
    out.append(f"{_PAD[2]}</domain>")
    return _finish(out)


def render_export(domains: list[Domain], *, include_disabled: bool, all_users_group: str = "all") -> str:
    """The API's ``[Directory] Export``: a document :func:`~fsdir.freeswitch.parse.parse_domains`
    turns back into the same tree.

    Laid out like the whole-domain document FreeSWITCH gets (so the file also works as a static
    FreeSWITCH directory); the all-users group carries ``fsdir-all-users="true"``, which import reads
    as "plain users, no group". Disabled items appear only with ``include_disabled``, marked
    ``enabled="false"``; without it, memberships of left-out users are left out too.
    """
    out = [_DOCUMENT_OPEN]
    for domain in domains:
        if domain.enabled or include_disabled:
            _domain(out, domain, show_disabled=include_disabled, a1_hash=False, all_users_group=all_users_group)
    out.append(_DOCUMENT_CLOSE)
    return "\n".join(out)


def _finish(out: list[str]) -> bytes:
    out.append(_DOCUMENT_CLOSE)
    return "\n".join(out).encode("utf-8")


def _open_domain(out: list[str], domain: Domain, *, show_disabled: bool, a1_hash: bool = False) -> None:
    out.append(f'{_PAD[2]}<domain name="{_attr(domain.name)}"{"" if domain.enabled else _DISABLED}>')
    # A domain-level password is inherited by every user: in a1-hash mode each user gets its own
    # hash of it instead (see _with_a1_hash), and the plain text never leaves.
    params = [p for p in domain.params if p.name.lower() != "password"] if a1_hash else domain.params
    _entries(out, "params", "param", params, 3, show_disabled)
    _entries(out, "variables", "variable", domain.variables, 3, show_disabled)


def _domain(out: list[str], domain: Domain, *, show_disabled: bool, a1_hash: bool, all_users_group: str) -> None:
    _open_domain(out, domain, show_disabled=show_disabled, a1_hash=a1_hash)
    out.append(f"{_PAD[3]}<groups>")
    lines: list[str] = []
    shown: set[str] = set()
    for user in domain.users:
        if user.enabled or show_disabled:
            _user(lines, user, domain, show_disabled=show_disabled, a1_hash=a1_hash, gateways=True)
            shown.add(user.name.lower())
    # Real users first: FreeSWITCH takes the first <user> whose id matches, a pointer included.
    _group(out, _all_users_attributes(all_users_group), lines)
    for group in domain.groups:
        _group(out, f'name="{_attr(group.name)}"', _pointers(group, shown, show_disabled))
    out.append(f"{_PAD[3]}</groups>")
    out.append(f"{_PAD[2]}</domain>")


def _pointers(group: Group, shown: set[str], show_disabled: bool) -> list[str]:
    return [
        f'{_PAD[6]}<user id="{_attr(member.user)}" type="pointer"{"" if member.enabled else _DISABLED}/>'
        for member in group.members
        if (member.enabled or show_disabled) and member.user.lower() in shown
    ]


def _all_users_attributes(name: str) -> str:
    return f'name="{_attr(name)}" {ALL_USERS_ATTRIBUTE}="true"'


def _group(out: list[str], attributes: str, users: list[str]) -> None:
    if not users:
        out.append(f"{_PAD[4]}<group {attributes}/>")
        return
    out.append(f"{_PAD[4]}<group {attributes}>")
    out.append(f"{_PAD[5]}<users>")
    out.extend(users)
    out.append(f"{_PAD[5]}</users>")
    out.append(f"{_PAD[4]}</group>")


def _user(out: list[str], user: User, domain: Domain, *, show_disabled: bool, a1_hash: bool, gateways: bool) -> None:
    attributes = f'id="{_attr(user.name)}"'
    if user.cache > 0:
        # FreeSWITCH caches forever on any non-numeric value.
        attributes += f' cacheable="{"true" if user.cache >= CACHE_FOREVER else user.cache}"'
    if user.cidr:
        attributes += f' cidr="{_attr(user.cidr)}"'
    if user.number_alias:
        attributes += f' number-alias="{_attr(user.number_alias)}"'
    if not user.enabled:
        attributes += _DISABLED
    body: list[str] = []
    params = _with_a1_hash(user, domain) if a1_hash else user.params
    _entries(body, "params", "param", params, 7, show_disabled)
    _entries(body, "variables", "variable", user.variables, 7, show_disabled)
    if gateways:
        _gateways(body, user.gateways, show_disabled=show_disabled)
    if not body:
        out.append(f"{_PAD[6]}<user {attributes}/>")
        return
    out.append(f"{_PAD[6]}<user {attributes}>")
    out.extend(body)
    out.append(f"{_PAD[6]}</user>")


def _password(entries: list[Entry]) -> Entry | None:
    return next((e for e in entries if e.enabled and e.name.lower() == "password"), None)


def _with_a1_hash(user: User, domain: Domain) -> list[Entry]:
    """``password`` replaced by ``a1-hash`` = md5(user:domain:password): no plain SIP password leaves.

    A user without a password of its own inherits the domain's, as FreeSWITCH would.
    """
    own = _password(user.params)
    if own is None:
        inherited = _password(domain.params)
        if inherited is None:
            return user.params
        return [*user.params, Entry(name="a1-hash", value=_a1(user.name, domain.name, inherited.value))]
    return [
        Entry(name="a1-hash", value=_a1(user.name, domain.name, param.value)) if param is own else param
        for param in user.params
    ]


def _a1(user: str, domain: str, password: str) -> str:
    text = f"{user}:{domain}:{password}".encode("utf-8", "surrogatepass")
    return hashlib.md5(text, usedforsecurity=False).hexdigest()


def _gateways(out: list[str], gateways: list[Gateway], *, show_disabled: bool) -> None:
    shown = [gateway for gateway in gateways if gateway.enabled or show_disabled]
    if not shown:
        return
    out.append(f"{_PAD[7]}<gateways>")
    for gateway in shown:
        out.append(f'{_PAD[8]}<gateway name="{_attr(gateway.name)}"{"" if gateway.enabled else _DISABLED}>')
        # Direct <param> children, as in FreeSWITCH's own files.
        out.extend(_entry(9, "param", param) for param in gateway.params if param.enabled or show_disabled)
        _entries(out, "variables", "variable", gateway.variables, 9, show_disabled, directed=True)
        out.append(f"{_PAD[8]}</gateway>")
    out.append(f"{_PAD[7]}</gateways>")


def _entries(
    out: list[str],
    container: str,
    tag: str,
    entries: list[Entry],
    depth: int,
    show_disabled: bool,
    *,
    directed: bool = False,
) -> None:
    lines = [_entry(depth + 1, tag, entry, directed) for entry in entries if entry.enabled or show_disabled]
    if lines:
        out.append(f"{_PAD[depth]}<{container}>")
        out.extend(lines)
        out.append(f"{_PAD[depth]}</{container}>")


def _entry(depth: int, tag: str, entry: Entry, directed: bool = False) -> str:
    direction = f' direction="{_attr(entry.direction)}"' if directed and entry.direction else ""
    disabled = "" if entry.enabled else _DISABLED
    return f'{_PAD[depth]}<{tag} name="{_attr(entry.name)}" value="{_attr(entry.value)}"{direction}{disabled}/>'
