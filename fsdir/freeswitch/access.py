"""Who may ask for the directory: a client address allow-list, then HTTP basic auth when configured."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Addresses seen so far (FreeSWITCH servers are few); cleared when full, so it stays bounded.
_KNOWN_HOSTS_MAX = 1024


class AccessPolicy:
    def __init__(self, allow: Iterable[Network], user: str = "", password: str = "") -> None:
        self._allow = tuple(allow)
        self._credentials = f"{user}:{password}".encode() if user else None
        self._hosts: dict[str, bool] = {}

    def check(self, host: str | None, authorization: bytes | None) -> int:
        """0 when allowed; else the HTTP status to refuse with: 403 for the address, 401 for credentials."""
        if host is None:
            return 403
        allowed = self._hosts.get(host)
        if allowed is None:
            if len(self._hosts) >= _KNOWN_HOSTS_MAX:
                self._hosts.clear()
            allowed = self._hosts[host] = self._host_allowed(host)
        if not allowed:
            return 403
        if self._credentials is not None and not _authorized(authorization, self._credentials):
            return 401
        return 0

    def _host_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._allow)


def _authorized(header: bytes | None, credentials: bytes) -> bool:
    scheme, _, token = (header or b"").strip().partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    # Constant time: the time taken says nothing about how much of the secret matched.
    return hmac.compare_digest(given, credentials)
