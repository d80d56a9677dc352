"""Importing this module registers every event of the API."""

from __future__ import annotations

from fsdir.api import auth, subscriptions
from fsdir.directory import domains, entries, gateways, groups, transfer, users

__all__ = ["auth", "domains", "entries", "gateways", "groups", "subscriptions", "transfer", "users"]
