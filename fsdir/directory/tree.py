"""The directory as a plain tree: what XML import produces and what export and rendering consume.

It is independent of the database; ``enabled`` mirrors the stored flag (FreeSWITCH XML has none,
so parsed items are enabled unless they carry ``enabled="false"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Entry:
    """A param or a variable. ``direction`` is used only by gateway variables."""

    name: str
    value: str
    enabled: bool = True
    direction: str = ""


@dataclass
class Gateway:
    name: str
    params: list[Entry] = field(default_factory=list)
    variables: list[Entry] = field(default_factory=list)
    enabled: bool = True


@dataclass
class User:
    """A real user. ``cache`` is the ``cacheable`` attribute in ms (0 = absent)."""

    name: str
    params: list[Entry] = field(default_factory=list)
    variables: list[Entry] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)
    cache: int = 0
    cidr: str = ""
    number_alias: str = ""
    enabled: bool = True


@dataclass
class Member:
    """A group member: a pointer to a user of the same domain, by user name."""

    user: str
    enabled: bool = True


@dataclass
class Group:
    name: str
    members: list[Member] = field(default_factory=list)


@dataclass
class Domain:
    name: str
    params: list[Entry] = field(default_factory=list)
    variables: list[Entry] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    enabled: bool = True
