"""Write parsed directory trees into the database: all or nothing, in bulk statements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.db.schema import (
    domain_params,
    domain_variables,
    domains,
    gateway_params,
    gateway_variables,
    gateways,
    group_members,
    groups,
    user_params,
    user_variables,
    users,
)
from fsdir.directory import tree
from fsdir.directory.changes import ChangeNotice
from fsdir.directory.entries import DIRECTIONS
from fsdir.directory.gateways import GATEWAY_NAME
from fsdir.directory.users import normalize_cidr

# Rows per executemany batch: bounded memory, few round trips.
BATCH = 5000
Progress = Callable[[str, int], None]


@dataclass
class Counts:
    domains: int = 0
    users: int = 0
    groups: int = 0
    gateways: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"domains": self.domains, "users": self.users, "groups": self.groups, "gateways": self.gateways}


async def _insert_many(conn: AsyncConnection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await conn.execute(insert(table), batch)
            batch = []
    if batch:
        await conn.execute(insert(table), batch)


async def _insert_returning_ids(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], key: Callable[[Any], Any]
) -> dict[Any, int]:
    """Insert rows and map ``key(row)`` of each inserted row to its new id."""
    ids: dict[Any, int] = {}
    for start in range(0, len(rows), BATCH):
        result = await conn.execute(insert(table).returning(table), list(rows[start : start + BATCH]))
        for row in result:
            ids[key(row)] = row.id
    return ids


def _entry_rows(owner_column: str, owner_id: int, entries: list[tree.Entry], direction: bool = False) -> Any:
    for entry in entries:
        row = {owner_column: owner_id, "name": entry.name, "value": entry.value, "enabled": entry.enabled}
        if direction:
            row["direction"] = entry.direction
        yield row


def _check_unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise ApiError(f"{what} {name} appears twice")
        seen.add(name.lower())


def _check_entries(owner: str, entries: list[tree.Entry]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if not entry.name or len(entry.name) > 255:
            raise ApiError(f"invalid name in {owner}")
        if entry.name.lower() in seen:
            raise ApiError(f"{owner}: {entry.name} appears twice")
        seen.add(entry.name.lower())


def _check_users(domain_name: str, members: list[tree.User]) -> None:
    _check_unique((user.name for user in members), f"{domain_name}: user")
    for user in members:
        if not user.name or len(user.name) > 255:
            raise ApiError(f"invalid user name in {domain_name}")
        _check_entries(f"user {user.name}", user.params)
        _check_entries(f"user {user.name}", user.variables)
        # The same rules as the API's own events: what one can't set, the other can't bring in.
        try:
            normalize_cidr(user.cidr)
        except ApiError:
            raise ApiError(f"invalid cidr in user {user.name}") from None
        for gateway in user.gateways:
            if not GATEWAY_NAME.fullmatch(gateway.name):
                raise ApiError(f"invalid gateway name {gateway.name}")
            _check_entries(f"gateway {gateway.name}", gateway.params)
            _check_entries(f"gateway {gateway.name}", gateway.variables)
            # sofia skips a variable whose direction is neither inbound nor outbound (nor empty: both).
            if any(variable.direction not in DIRECTIONS for variable in gateway.variables):
                raise ApiError(f"invalid direction in gateway {gateway.name}")


async def _check_gateways(conn: AsyncConnection, names: list[str]) -> None:
    _check_unique(names, "gateway")
    lowered = [name.lower() for name in names]
    for start in range(0, len(lowered), 500):
        query = select(gateways.c.name).where(func.lower(gateways.c.name).in_(lowered[start : start + 500]))
        existing = (await conn.execute(query)).scalars().first()
        if existing is not None:
            raise ApiError(f"gateway {existing} already exists")


async def import_domains(
    conn: AsyncConnection,
    trees: list[tree.Domain],
    changes: ChangeNotice,
    progress: Progress | None = None,
    *,
    reserved_group: str = "all",
) -> Counts:
    """Create every domain of ``trees``; any conflict raises before anything is written.

    ``reserved_group`` is the name of the all-users group rendered for FreeSWITCH; a group of that
    name would be shadowed by it, so it is refused like in the API.
    """
    if not trees:
        raise ApiError("no domain found")
    _check_unique((domain.name for domain in trees), "domain")
    for domain in trees:
        if not domain.name or len(domain.name) > 255:
            raise ApiError("invalid domain name")
        _check_entries(f"domain {domain.name}", domain.params)
        _check_entries(f"domain {domain.name}", domain.variables)
        _check_users(domain.name, domain.users)
        _check_unique((group.name for group in domain.groups), f"{domain.name}: group")
        for group in domain.groups:
            if group.name.lower() == reserved_group.lower():
                raise ApiError(f"{domain.name}: group name {group.name} is reserved")
    lowered = [domain.name.lower() for domain in trees]
    for start in range(0, len(lowered), 500):
        query = select(domains.c.name).where(func.lower(domains.c.name).in_(lowered[start : start + 500]))
        existing = (await conn.execute(query)).scalars().first()
        if existing is not None:
            raise ApiError(f"domain {existing} already exists")
    await _check_gateways(conn, [gw.name for domain in trees for user in domain.users for gw in user.gateways])

    domain_ids = await _insert_returning_ids(
        conn, domains, [{"name": d.name, "enabled": d.enabled} for d in trees], key=lambda row: row.name
    )
    counts = Counts(domains=len(trees))
    await _insert_many(
        conn, domain_params, (r for d in trees for r in _entry_rows("domain_id", domain_ids[d.name], d.params))
    )
    await _insert_many(
        conn,
        domain_variables,
        (r for d in trees for r in _entry_rows("domain_id", domain_ids[d.name], d.variables)),
    )
    for done, domain in enumerate(trees, start=1):
        added = await insert_users(conn, domain_ids[domain.name], domain.name, domain.users, changes)
        counts.users += added.users
        counts.gateways += added.gateways
        counts.groups += await _insert_groups(conn, domain_ids[domain.name], domain)
        changes.domains.add(domain.name)
        if progress is not None:
            progress("domains", done)
    return counts


async def insert_users(
    conn: AsyncConnection, domain_id: int, domain_name: str, members: list[tree.User], changes: ChangeNotice
) -> Counts:
    """Create users (with params, variables and gateways) in an existing domain."""
    _check_users(domain_name, members)
    # FreeSWITCH finds a user by id or number-alias: no name may stand for two users.
    aliases = [u.number_alias.lower() for u in members if u.number_alias and u.number_alias.lower() != u.name.lower()]
    keys = [user.name.lower() for user in members] + aliases
    _check_unique(keys, f"{domain_name}: user or number-alias")
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        query = select(users.c.name).where(
            users.c.domain_id == domain_id,
            or_(func.lower(users.c.name).in_(chunk), func.lower(users.c.number_alias).in_(chunk)),
        )
        existing = (await conn.execute(query)).scalars().first()
        if existing is not None:
            raise ApiError(f"user {existing} already exists")
    await _check_gateways(conn, [gw.name for user in members for gw in user.gateways])
    user_rows = [
        {
            "domain_id": domain_id,
            "name": user.name,
            "enabled": user.enabled,
            "cache": user.cache,
            "cidr": normalize_cidr(user.cidr),
            "number_alias": user.number_alias,
        }
        for user in members
    ]
    user_ids = await _insert_returning_ids(conn, users, user_rows, key=lambda row: row.name)
    await _insert_many(
        conn, user_params, (r for u in members for r in _entry_rows("user_id", user_ids[u.name], u.params))
    )
    await _insert_many(
        conn, user_variables, (r for u in members for r in _entry_rows("user_id", user_ids[u.name], u.variables))
    )
    gateway_rows = [
        {"user_id": user_ids[user.name], "name": gw.name, "enabled": gw.enabled}
        for user in members
        for gw in user.gateways
    ]
    gateway_ids = await _insert_returning_ids(conn, gateways, gateway_rows, key=lambda row: row.name)
    all_gateways = [gw for user in members for gw in user.gateways]
    await _insert_many(
        conn,
        gateway_params,
        (r for gw in all_gateways for r in _entry_rows("gateway_id", gateway_ids[gw.name], gw.params)),
    )
    await _insert_many(
        conn,
        gateway_variables,
        (
            r
            for gw in all_gateways
            for r in _entry_rows("gateway_id", gateway_ids[gw.name], gw.variables, direction=True)
        ),
    )
    changes.domains.add(domain_name)
    changes.users.update((user.name, domain_name) for user in members)
    changes.gateways.update(gw.name for gw in all_gateways)
    return Counts(users=len(members), gateways=len(all_gateways))


async def _insert_groups(conn: AsyncConnection, domain_id: int, domain: tree.Domain) -> int:
    if not domain.groups:
        return 0
    user_ids = {
        name.lower(): user_id
        for user_id, name in await conn.execute(select(users.c.id, users.c.name).where(users.c.domain_id == domain_id))
    }
    group_ids = await _insert_returning_ids(
        conn,
        groups,
        [{"domain_id": domain_id, "name": group.name} for group in domain.groups],
        key=lambda row: row.name,
    )
    member_rows = []
    for group in domain.groups:
        seen: set[int] = set()
        for member in group.members:
            user_id = user_ids.get(member.user.lower())
            if user_id is None:
                raise ApiError(f"group {group.name}: user {member.user} not found")
            if user_id in seen:
                continue
            seen.add(user_id)
            member_rows.append({"group_id": group_ids[group.name], "user_id": user_id, "enabled": member.enabled})
    await _insert_many(conn, group_members, member_rows)
    return len(domain.groups)
