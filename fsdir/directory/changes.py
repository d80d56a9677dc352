"""What a committed write changed, for the caches, FreeSWITCH and subscribers to act on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChangeNotice:
    """Collected by a handler inside its transaction, acted on only after commit.

    Names are as stored (FreeSWITCH compares them case-insensitively; consumers lower them).
    """

    # Domains whose rendered documents are stale (old and new names on a rename).
    domains: set[str] = field(default_factory=set)
    # (user, domain) pairs FreeSWITCH may hold in its user cache.
    users: set[tuple[str, str]] = field(default_factory=set)
    # Gateways to kill and rescan on the sofia profiles.
    gateways: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.domains or self.users or self.gateways)

    def merge(self, other: ChangeNotice) -> None:
        self.domains |= other.domains
        self.users |= other.users
        self.gateways |= other.gateways
