"""Rows → the JSON objects of the API's replies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row

from fsdir.freeswitch.live import LiveState


def domain_view(row: Row[Any], live: LiveState) -> dict[str, Any]:
    return {
        "id": row.id,
        "enabled": row.enabled,
        "name": row.name,
        "sip_regs_counter": live.regs_counter(row.name),
    }


def domains_map(rows: Iterable[Row[Any]], live: LiveState) -> dict[str, Any]:
    return {str(row.id): domain_view(row, live) for row in rows}


def user_view(row: Row[Any], domain_name: str, live: LiveState) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "enabled": row.enabled,
        "name": row.name,
        "cache": row.cache,
        "cidr": row.cidr,
        **live.user(domain_name, row.name).fields(),
    }
    if row.number_alias:
        view["number_alias"] = row.number_alias
    return view


def entry_view(row: Row[Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": row.id, "enabled": row.enabled, "name": row.name, "value": row.value}
    if "direction" in row._fields:
        view["direction"] = row.direction
    return view


def entries_map(rows: Iterable[Row[Any]]) -> dict[str, Any]:
    return {str(row.id): entry_view(row) for row in rows}
