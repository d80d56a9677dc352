"""A mod_xml_curl request → what it asks for (its kind, domain, and user or group).

The rules follow spec/FREESWITCH.md ("What each request asks for") and FreeSWITCH's sources:

- ``section`` other than ``directory`` → nothing we serve.
- empty ``key_value``: ``purpose=gateways`` → the gateways of every domain, else the whole directory
  (``xml_locate directory``, ``list_users`` without a domain).
- ``tag_name=domain``, ``key_name=name``, ``key_value=<domain>``, then:
  ``purpose=gateways`` → that domain's gateways; ``purpose=network-list`` → its ACL users;
  ``user`` and ``key`` → one user (``switch_xml_locate_user`` always adds ``key``); ``group`` or
  ``group_name`` → a group (``group_call``, and ``in_group``, which sends ``user`` without ``key``);
  otherwise the whole domain (``domain_exists``, ``xml_locate``, ``list_users``, ``publish-vm``...).
- any other tag or key → nothing we serve (FreeSWITCH looks for that element in our answer).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple
from urllib.parse import unquote_plus


class Kind(IntEnum):
    USER = 0
    GROUP = 1
    DOMAIN = 2
    DIRECTORY = 3
    GATEWAYS = 4
    NETWORK_LIST = 5
    OTHER = 6  # another section, tag or key: not found
    INVALID = 7  # a body we refuse to read (too large): not found
    UNKNOWN = 8  # refused before reading the request (metrics only)

    @property
    def label(self) -> str:
        return self.name.lower()


class Outcome(IntEnum):
    FOUND = 0
    NOT_FOUND = 1
    REFUSED = 2
    TIMEOUT = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()


KIND_LABELS = tuple(kind.label for kind in Kind)
OUTCOME_LABELS = tuple(outcome.label for outcome in Outcome)


class Lookup(NamedTuple):
    """Names are lower-cased (FreeSWITCH compares them case-insensitively): the cache key is made of them."""

    kind: Kind
    domain: str = ""
    name: str = ""  # the user or group asked for


INVALID = Lookup(Kind.INVALID)
_OTHER = Lookup(Kind.OTHER)
_DIRECTORY = Lookup(Kind.DIRECTORY)
_ALL_GATEWAYS = Lookup(Kind.GATEWAYS)


# FreeSWITCH sends field names raw and encodes every value after the first five (``&`` as
# ``%26``), so ``&name=`` only ever starts a field.
def _mark(name: str) -> bytes:
    return b"&" + name.encode() + b"="


_SECTION, _TAG_NAME, _KEY_NAME, _KEY_VALUE = map(_mark, ("section", "tag_name", "key_name", "key_value"))
_PURPOSE, _KEY, _USER, _GROUP, _GROUP_NAME = map(_mark, ("purpose", "key", "user", "group", "group_name"))


def _field(form: bytes, mark: bytes) -> str:
    """The last value of a field (``form`` starts with ``&``), decoded as ``parse_qsl`` decodes
    (``+`` and ``%XX``, UTF-8 with replacement); empty when absent. The last one wins:
    FreeSWITCH sends ``section`` twice on ``xml_locate``, GENERAL events repeat ``key``."""
    start = form.rfind(mark)
    if start < 0:
        return ""
    start += len(mark)
    end = form.find(b"&", start)
    value = (form[start:] if end < 0 else form[start:end]).decode("utf-8", "replace")
    return unquote_plus(value) if "%" in value or "+" in value else value


def form_value(form: bytes, name: str) -> str:
    return _field(b"&" + form, _mark(name))


def parse_lookup(data: bytes) -> Lookup:
    """Only the deciding fields are looked for, each with one ``bytes.rfind``, and only as far as
    the decision needs them: the other 40 or more fields of a request (all the channel's data on
    an IP-auth lookup) are never parsed. Splitting and decoding the whole form was measured at
    half the cost of answering from the cache."""
    form = b"&" + data
    if _field(form, _SECTION).lower() != "directory":
        return _OTHER
    purpose = _field(form, _PURPOSE).lower()
    domain = _field(form, _KEY_VALUE)
    if not domain:
        return _ALL_GATEWAYS if purpose == "gateways" else _DIRECTORY
    if _field(form, _TAG_NAME).lower() != "domain" or _field(form, _KEY_NAME).lower() != "name":
        return _OTHER
    domain = domain.lower()
    if purpose == "gateways":
        return Lookup(Kind.GATEWAYS, domain)
    if purpose == "network-list":
        return Lookup(Kind.NETWORK_LIST, domain)
    user = _field(form, _USER)
    if user and _field(form, _KEY).lower() in ("id", "number-alias"):
        return Lookup(Kind.USER, domain, user.lower())
    group = _field(form, _GROUP_NAME) or _field(form, _GROUP)
    if group:
        return Lookup(Kind.GROUP, domain, group.lower())
    # A user by another key (user_exists <key> ...) is matched on that attribute: the whole domain.
    return Lookup(Kind.DOMAIN, domain)
