"""FreeSWITCH directory XML → tree: API uploads, ``api xml_locate directory`` and configuration files.

Everything here treats its input as hostile: defusedxml with DTDs, entities and external resources
forbidden, and a size cap. Each failure is an :class:`XmlImportError` whose message is the API's
error text.

What is kept is what FreeSWITCH itself would use: a user's first ``<params>``/``<variables>``, a
gateway's ``<params>`` or else its direct ``<param>`` children. Free elements (``<vcard>``,
``<skinny>``, …), comments and attributes the tree has no field for are dropped.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from fsdir.directory.tree import Domain, Entry, Gateway, Group, Member, User

MAX_BYTES = 16 * 1024 * 1024
"""Default size cap of an uploaded document (UTF-8 bytes)."""

ESL_MAX_BYTES = 64 * 1024 * 1024
"""Default size cap of an ``xml_locate`` reply: it comes from our own FreeSWITCH and may be large."""

CACHE_FOREVER = 2_147_483_647
"""``User.cache`` for a non-numeric ``cacheable`` (``"true"``…), which FreeSWITCH caches forever.

It is the largest value the database's integer column holds; render writes it back as
``cacheable="true"``. (FreeSWITCH multiplies ``cacheable`` by 1000 in a C ``int``, so numbers
above about 2147483 ms overflow there anyway.)"""

ALL_USERS_ATTRIBUTE = "fsdir-all-users"
"""Marks the group our documents put every real user in (``fsdir-all-users="true"``).

Import reads that group's users as plain users, not as members of a group: so export → import and
``xml_locate`` of a FreeSWITCH fed by us give back the same tree. FreeSWITCH ignores the attribute."""

_MAX_NESTED_INCLUDES = 16
"""``<include>`` elements inside one another in an uploaded document."""

_MAX_INCLUDE_DEPTH = 32
"""``X-PRE-PROCESS include`` levels in a configuration tree (FreeSWITCH stops at 100)."""

_DECLARATION = re.compile(r"<\?xml\s[^>]*\?>")
_FALSE = frozenset({"false", "0", "no", "off"})
_NUMBER = re.compile(r"([+-]?)([0-9]*)[0-9.]*")
_VARIABLE = re.compile(r"\$\$\{([^}]*)\}")
_PREPROCESSOR = re.compile(r"x-pre-process", re.IGNORECASE)
_DIRECTIVE = re.compile(r'cmd\s*=\s*"([^"]*)"[^>]*?\bdata\s*=\s*"([^"]*)"', re.IGNORECASE)


class XmlImportError(ValueError):
    """The document can't be imported; ``message`` (also ``str(exc)``) is the API error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_domains(text: str, *, max_bytes: int = MAX_BYTES) -> list[Domain]:
    """Domains of a ``<document>``, ``<section name="directory">``, ``<include>`` or bare ``<domain>``s."""
    domains = _parse_domain_elements(_parse_top(text, max_bytes))
    if not domains:
        raise XmlImportError("empty data")
    return domains


def parse_users(text: str, *, max_bytes: int = MAX_BYTES) -> list[User]:
    """Real users of a ``<user>``, ``<users>``, ``<include>`` of users, or of a ``<domain>`` (pointers skipped)."""
    collector = _Users()
    for element in _parse_top(text, max_bytes):
        _collect_users(element, collector, 0)
    if not collector.users:
        raise XmlImportError("empty data")
    return collector.users


def parse_esl_xml_locate(body: str, *, max_bytes: int = ESL_MAX_BYTES) -> list[Domain]:
    """Domains of an ``api xml_locate directory`` reply body; ``[]`` when FreeSWITCH has none."""
    if body.strip() == "can't find anything":
        return []
    return _parse_domain_elements(_parse_top(body, max_bytes))


def _parse_top(text: str, max_bytes: int) -> list[Element]:
    """The top-level elements of ``text``, which may hold several sibling elements."""
    if len(text) > max_bytes:
        raise XmlImportError("file too large")
    body = text.lstrip("\ufeff").strip()
    if not body:
        raise XmlImportError("empty data")
    if body.startswith("<?xml"):
        # The declaration would land inside the wrapper below; the text is already decoded.
        body = _DECLARATION.sub("", body, count=1)
    try:
        data = body.encode("utf-8")
    except UnicodeEncodeError:
        raise XmlImportError("can't parse") from None
    if len(data) > max_bytes:
        raise XmlImportError("file too large")
    try:
        # A synthetic root accepts several sibling <domain>s; a DOCTYPE inside it is a syntax error,
        # and defusedxml forbids DTDs, entities and external resources anyway.
        root: Element = safe_et.fromstring(
            b"<fsdir>" + data + b"</fsdir>", forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (ParseError, DefusedXmlException):
        raise XmlImportError("can't parse") from None
    elements = list(root)
    if (root.text or "").strip() or any((element.tail or "").strip() for element in elements):
        raise XmlImportError("can't parse")
    return elements


def _parse_domain_elements(elements: list[Element]) -> list[Domain]:
    domains: list[Domain] = []
    seen: set[str] = set()
    gateways: set[str] = set()
    for top in elements:
        for element in _domain_elements(top, 0):
            domain = _domain(element, gateways)
            key = domain.name.lower()
            if key in seen:
                raise XmlImportError(f"domain name already exists: {domain.name}")
            seen.add(key)
            domains.append(domain)
    return domains


def _domain_elements(element: Element, depth: int) -> Iterator[Element]:
    """``<domain>`` elements of a top-level element; any other root is not a directory document."""
    tag = element.tag
    if tag == "domain":
        yield element
    elif tag == "include":
        if depth >= _MAX_NESTED_INCLUDES:
            raise XmlImportError("can't parse")
        for child in element:
            yield from _domain_elements(child, depth + 1)
    elif tag == "document":
        for section in element.iterfind("section"):
            yield from _domain_elements(section, depth + 1)
    elif tag == "section":
        if element.get("name", "").strip().lower() == "directory":
            yield from element.iterfind("domain")
    else:
        raise XmlImportError("can't parse")


@dataclass
class _Users:
    """Real users met so far in document order, keyed case-insensitively as the database does."""

    users: list[User] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)

    def add(self, element: Element) -> str:
        user = _user(element, self.gateways)
        key = user.name.lower()
        if key in self.names:
            raise XmlImportError(f"user name already exists: {user.name}")
        self.names.add(key)
        self.users.append(user)
        return user.name


def _collect_users(element: Element, collector: _Users, depth: int) -> None:
    tag = element.tag
    if tag == "user":
        if not _is_pointer(element):
            collector.add(element)
    elif tag in ("users", "include"):
        if depth >= _MAX_NESTED_INCLUDES:
            raise XmlImportError("can't parse")
        for child in element:
            _collect_users(child, collector, depth + 1)
    else:
        for domain in _domain_elements(element, depth):
            _domain_users(domain, collector, [])


def _domain(element: Element, gateways: set[str]) -> Domain:
    domain = Domain(
        name=_name(element, "name", "empty domain name"),
        params=_entries(element.find("params"), "param"),
        variables=_entries(element.find("variables"), "variable"),
        enabled=_enabled(element),
    )
    collector = _Users(gateways=gateways)
    _domain_users(element, collector, domain.groups)
    domain.users = collector.users
    return domain


def _domain_users(domain: Element, collector: _Users, groups: list[Group]) -> None:
    """Collect real users (direct, under ``<users>``, in groups) and, into ``groups``, the groups."""
    group_names: set[str] = set()
    for child in domain:
        if child.tag == "user":
            if not _is_pointer(child):
                collector.add(child)
        elif child.tag == "users":
            for user in child.iterfind("user"):
                if not _is_pointer(user):
                    collector.add(user)
        elif child.tag == "groups":
            for group_element in child.iterfind("group"):
                group = None
                if group_element.get(ALL_USERS_ATTRIBUTE, "").strip().lower() != "true":
                    group = Group(name=_name(group_element, "name", "empty data"))
                    if group.name.lower() in group_names:
                        raise XmlImportError(f"group name already exists: {group.name}")
                    group_names.add(group.name.lower())
                    groups.append(group)
                _group_users(group_element, group, collector)


def _group_users(element: Element, group: Group | None, collector: _Users) -> None:
    """A group's real users are created and, like its pointers, become its members (once each)."""
    members: set[str] = set()
    for users in element.iterfind("users"):
        for user in users.iterfind("user"):
            if _is_pointer(user):
                name = _name(user, "id", "empty data")
                enabled = _enabled(user)
            else:
                name = collector.add(user)
                enabled = True  # the element's enabled flag belongs to the user
            if group is not None and name.lower() not in members:
                members.add(name.lower())
                group.members.append(Member(user=name, enabled=enabled))


def _user(element: Element, gateways: set[str]) -> User:
    return User(
        name=_name(element, "id", "empty data"),
        params=_entries(element.find("params"), "param"),
        variables=_entries(element.find("variables"), "variable"),
        gateways=_gateways(element.find("gateways"), gateways),
        cache=_cache(element.get("cacheable", "")),
        cidr=element.get("cidr", ""),
        number_alias=element.get("number-alias", ""),
        enabled=_enabled(element),
    )


def _gateways(element: Element | None, seen: set[str]) -> list[Gateway]:
    if element is None:
        return []
    gateways = []
    for gateway_element in element.iterfind("gateway"):
        params = gateway_element.find("params")
        variables = gateway_element.find("variables")
        gateway = Gateway(
            name=_name(gateway_element, "name", "empty data"),
            # sofia reads <params> when there is one, else the gateway's direct <param>s; same for variables.
            params=_entries(gateway_element if params is None else params, "param"),
            variables=_entries(gateway_element if variables is None else variables, "variable", True),
            enabled=_enabled(gateway_element),
        )
        if gateway.name.lower() in seen:  # gateway names are global in FreeSWITCH
            raise XmlImportError(f"gateway name already exists: {gateway.name}")
        seen.add(gateway.name.lower())
        gateways.append(gateway)
    return gateways


def _entries(element: Element | None, tag: str, directed: bool = False) -> list[Entry]:
    if element is None:
        return []
    entries = []
    names: set[str] = set()
    for item in element.iterfind(tag):
        entry = Entry(
            name=_name(item, "name", "empty data"),
            value=item.get("value", ""),
            enabled=_enabled(item),
            direction=_direction(item.get("direction", "")) if directed else "",
        )
        if entry.name.lower() in names:
            raise XmlImportError(f"{tag} name already exists: {entry.name}")
        names.add(entry.name.lower())
        entries.append(entry)
    return entries


def _name(element: Element, attribute: str, empty_error: str) -> str:
    name = element.get(attribute, "").strip()
    if not name:
        raise XmlImportError(empty_error)
    return name


def _enabled(element: Element) -> bool:
    return element.get("enabled", "").strip().lower() not in _FALSE


def _is_pointer(element: Element) -> bool:
    return element.get("type", "").strip().lower() == "pointer"


def _direction(value: str) -> str:
    """sofia compares directions case-insensitively; other values are left for the API's validator."""
    lowered = value.strip().lower()
    return lowered if lowered in ("inbound", "outbound") else value


def _cache(value: str) -> int:
    """``cacheable`` as FreeSWITCH reads it: empty → not cached, a number → ms, anything else → forever."""
    number = _NUMBER.fullmatch(value)
    if number is None:
        return CACHE_FOREVER
    sign, digits = number.groups()
    if sign == "-" or not digits:
        return 0
    return CACHE_FOREVER if len(digits) > 10 else min(int(digits), CACHE_FOREVER)


def load_config_tree(
    path: Path,
    vars_file: Path | None,
    expand: bool,
    *,
    extra_vars: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
    max_bytes: int = MAX_BYTES,
) -> str:
    """Run FreeSWITCH's configuration pre-processor over a ``directory/`` folder or one file.

    A folder stands for freeswitch.xml's ``directory/*.xml``: its ``*.xml`` files, sorted. Like
    FreeSWITCH, line by line: lines holding ``<include>``, ``</include>`` or ``<?`` are dropped;
    ``<X-PRE-PROCESS cmd="include" data="glob"/>`` inserts the sorted matches of the glob (relative to
    the including file's folder); ``cmd="set" data="name=value"`` defines a variable; other commands
    (``exec``, ``env-set``, ``stun-set``…) are never run. ``extra_vars`` stand for the globals
    FreeSWITCH computes at start (``local_ip_v4``…): they are defined before ``vars_file`` is read,
    which may redefine them.

    ``$${name}`` is replaced only when ``expand`` is true (set values included), else the text
    stays for FreeSWITCH to expand when it is served; include paths are always expanded, as they are
    needed now. An undefined variable is left as ``$${name}`` (FreeSWITCH would make it empty) and
    reported once in ``warnings``, as are includes that match nothing and ignored commands.
    Include loops and over-deep nesting raise :class:`XmlImportError`. The result is text that
    :func:`parse_domains` accepts.
    """
    preprocessor = _Preprocessor(expand, dict(extra_vars or {}), [] if warnings is None else warnings, max_bytes)
    if vars_file is not None:
        preprocessor.keep = False  # only its directives matter
        preprocessor.run(vars_file, 0, ())
        preprocessor.keep = True
    if path.is_dir():
        files = sorted(candidate for candidate in path.glob("*.xml") if candidate.is_file())
    else:
        files = [path]
    for file in files:
        preprocessor.run(file, 0, ())
    return "\n".join(preprocessor.lines)


@dataclass
class _Preprocessor:
    expand: bool
    variables: dict[str, str]
    warnings: list[str]
    max_bytes: int
    keep: bool = True
    lines: list[str] = field(default_factory=list)
    size: int = 0
    undefined: set[str] = field(default_factory=set)

    def run(self, file: Path, depth: int, chain: tuple[Path, ...]) -> None:
        resolved = file.resolve()
        if resolved in chain:
            raise XmlImportError(f"include loop: {file}")
        if depth > _MAX_INCLUDE_DEPTH:
            raise XmlImportError(f"includes nested too deep: {file}")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise XmlImportError(f"can't read {file}: {exc}") from None
        for number, raw in enumerate(text.split("\n"), start=1):
            directive = _PREPROCESSOR.search(raw)
            if directive is None and not self.keep:
                continue
            where = f"{file}:{number}"
            line = self._expand(raw, where) if self.expand and directive is None else raw
            if "<include>" in line or "</include>" in line or "<?" in line:
                continue
            if directive is None:
                self.size += len(line.encode()) + 1
                if self.size > self.max_bytes:
                    raise XmlImportError("file too large")
                self.lines.append(line)
            elif directive.start() > 0 and raw[directive.start() - 1] == "<":
                self._directive(raw, file, where, depth, (*chain, resolved))
            # else: FreeSWITCH drops a line that mentions X-PRE-PROCESS without being one.

    def _directive(self, line: str, file: Path, where: str, depth: int, chain: tuple[Path, ...]) -> None:
        match = _DIRECTIVE.search(line)
        if match is None:
            self.warnings.append(f"{where}: unreadable X-PRE-PROCESS line skipped")
            return
        command, data = match[1].lower(), match[2]
        if command == "set":
            name, equals, value = data.partition("=")
            if equals:
                # Unexpanded, a value keeps its references for FreeSWITCH, like every other text.
                value = self._expand(value, where) if self.expand else value
                self.variables[name.rstrip(" ")] = value.lstrip(" ")
        elif command == "include":
            pattern = self._expand(data, where)  # a path is needed now, whatever ``expand`` says
            # root_dir: the including folder's own name is not a pattern; an absolute glob ignores it.
            matches = sorted(glob.glob(pattern, root_dir=file.parent))
            if not matches:
                self.warnings.append(f"{where}: include {pattern!r} matched nothing")
            for included in matches:
                self.run(file.parent / included, depth + 1, chain)
        else:
            self.warnings.append(f"{where}: X-PRE-PROCESS cmd={command!r} not run")

    def _expand(self, line: str, where: str) -> str:
        if "$${" not in line:
            return line
        return _VARIABLE.sub(lambda match: self._value(match, where), line)

    def _value(self, match: re.Match[str], where: str) -> str:
        name = match[1]
        value = self.variables.get(name)
        if value is not None:
            return value
        if name not in self.undefined:
            self.undefined.add(name)
            self.warnings.append(f"{where}: $${{{name}}} is not defined, kept as is")
        return match[0]
