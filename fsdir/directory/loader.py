"""Read domains (or one user) from the database as trees, in a fixed number of statements.

The number of statements never depends on how many users, params or gateways there are: each
table is read once, filtered by the owning domains, and the rows are stitched together here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

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


def _entry(row: Row[Any]) -> tree.Entry:
    return tree.Entry(
        name=row.name, value=row.value, enabled=row.enabled, direction=getattr(row, "direction", "") or ""
    )


def _enabled(table: Table, include_disabled: bool) -> ColumnElement[bool]:
    return true() if include_disabled else table.c.enabled.is_(True)


async def _entries(
    conn: AsyncConnection, table: Table, owner_column: str, owners: Any, include_disabled: bool
) -> dict[int, list[tree.Entry]]:
    result: defaultdict[int, list[tree.Entry]] = defaultdict(list)
    query = (
        select(table)
        .where(table.c[owner_column].in_(owners), _enabled(table, include_disabled))
        .order_by(table.c[owner_column], table.c.id)
    )
    for row in await conn.execute(query):
        result[row._mapping[owner_column]].append(_entry(row))
    return result


async def load_domains(
    conn: AsyncConnection,
    *,
    domain_ids: list[int] | None = None,
    names: list[str] | None = None,
    include_disabled: bool = False,
) -> list[tree.Domain]:
    """Whole domains (all of them when neither ids nor names are given), in id order."""
    domain_filter: ColumnElement[bool] = _enabled(domains, include_disabled)
    if domain_ids is not None:
        domain_filter = domain_filter & domains.c.id.in_(domain_ids)
    if names is not None:
        domain_filter = domain_filter & func.lower(domains.c.name).in_([name.lower() for name in names])
    domain_rows = list(await conn.execute(select(domains).where(domain_filter).order_by(domains.c.id)))
    if not domain_rows:
        return []
    domain_ids_sq = select(domains.c.id).where(domain_filter).scalar_subquery()
    user_ids_sq = (
        select(users.c.id)
        .where(users.c.domain_id.in_(domain_ids_sq), _enabled(users, include_disabled))
        .scalar_subquery()
    )
    gateway_ids_sq = (
        select(gateways.c.id)
        .where(gateways.c.user_id.in_(user_ids_sq), _enabled(gateways, include_disabled))
        .scalar_subquery()
    )
    d_params = await _entries(conn, domain_params, "domain_id", domain_ids_sq, include_disabled)
    d_vars = await _entries(conn, domain_variables, "domain_id", domain_ids_sq, include_disabled)
    u_params = await _entries(conn, user_params, "user_id", user_ids_sq, include_disabled)
    u_vars = await _entries(conn, user_variables, "user_id", user_ids_sq, include_disabled)
    g_params = await _entries(conn, gateway_params, "gateway_id", gateway_ids_sq, include_disabled)
    g_vars = await _entries(conn, gateway_variables, "gateway_id", gateway_ids_sq, include_disabled)

    user_gateways: defaultdict[int, list[tree.Gateway]] = defaultdict(list)
    gateway_query = select(gateways).where(gateways.c.id.in_(gateway_ids_sq)).order_by(gateways.c.id)
    for row in await conn.execute(gateway_query):
        user_gateways[row.user_id].append(
            tree.Gateway(row.name, g_params.get(row.id, []), g_vars.get(row.id, []), enabled=row.enabled)
        )

    domain_users: defaultdict[int, list[tree.User]] = defaultdict(list)
    user_names: dict[int, str] = {}
    user_query = select(users).where(users.c.id.in_(user_ids_sq)).order_by(users.c.id)
    for row in await conn.execute(user_query):
        user_names[row.id] = row.name
        domain_users[row.domain_id].append(_user(row, u_params, u_vars, user_gateways))

    domain_groups: defaultdict[int, list[tree.Group]] = defaultdict(list)
    group_index: dict[int, tree.Group] = {}
    for row in await conn.execute(select(groups).where(groups.c.domain_id.in_(domain_ids_sq)).order_by(groups.c.id)):
        group = tree.Group(row.name)
        group_index[row.id] = group
        domain_groups[row.domain_id].append(group)
    member_query = (
        select(group_members)
        .where(
            group_members.c.group_id.in_(select(groups.c.id).where(groups.c.domain_id.in_(domain_ids_sq))),
            group_members.c.user_id.in_(user_ids_sq),
            _enabled(group_members, include_disabled),
        )
        .order_by(group_members.c.group_id, group_members.c.id)
    )
    for row in await conn.execute(member_query):
        group_index[row.group_id].members.append(tree.Member(user_names[row.user_id], enabled=row.enabled))

    return [
        tree.Domain(
            name=row.name,
            params=d_params.get(row.id, []),
            variables=d_vars.get(row.id, []),
            users=domain_users.get(row.id, []),
            groups=domain_groups.get(row.id, []),
            enabled=row.enabled,
        )
        for row in domain_rows
    ]


def _user(
    row: Row[Any],
    params: dict[int, list[tree.Entry]],
    variables: dict[int, list[tree.Entry]],
    user_gateways: dict[int, list[tree.Gateway]],
) -> tree.User:
    return tree.User(
        name=row.name,
        params=params.get(row.id, []),
        variables=variables.get(row.id, []),
        gateways=user_gateways.get(row.id, []),
        cache=row.cache,
        cidr=row.cidr,
        number_alias=row.number_alias,
        enabled=row.enabled,
    )


async def load_domain_header(conn: AsyncConnection, name: str) -> tree.Domain | None:
    """An enabled domain with its enabled params and variables, without users or groups (3 statements)."""
    row = (
        await conn.execute(select(domains).where(func.lower(domains.c.name) == name.lower(), domains.c.enabled))
    ).first()
    if row is None:
        return None
    params = await _entries(conn, domain_params, "domain_id", [row.id], False)
    variables = await _entries(conn, domain_variables, "domain_id", [row.id], False)
    return tree.Domain(name=row.name, params=params.get(row.id, []), variables=variables.get(row.id, []))


async def load_user(
    conn: AsyncConnection, domain_name: str, user_name: str, *, by_alias: bool = False
) -> tuple[tree.Domain, tree.User | None] | None:
    """An enabled domain and one of its enabled users (matched by id, or by number-alias).

    Seven statements at most, whatever the size of the domain. None when the domain is unknown.
    """
    domain = await load_domain_header(conn, domain_name)
    if domain is None:
        return None
    lowered = user_name.lower()
    match = func.lower(users.c.name) == lowered
    if by_alias:
        match = or_(func.lower(users.c.number_alias) == lowered, match)
    query = (
        select(users)
        .join(domains, domains.c.id == users.c.domain_id)
        .where(func.lower(domains.c.name) == domain_name.lower(), match, users.c.enabled)
        .order_by(users.c.id)
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return domain, None
    u_params = await _entries(conn, user_params, "user_id", [row.id], False)
    u_vars = await _entries(conn, user_variables, "user_id", [row.id], False)
    return domain, _user(row, u_params, u_vars, {})
