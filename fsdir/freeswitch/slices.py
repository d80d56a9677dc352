"""The parts of the directory that mod_xml_curl answers need, each in a fixed number of statements.

Whole domains come from ``loader.load_domains``. The answers below need less: one user without its
domain's header (cached apart, see ``documents``), a group call the group's members, a gateway load
the users owning gateways, an ACL load the users with a ``cidr``. Reading only that keeps their cost
proportional to the answer, not to the domain (a 10,000-user domain would otherwise be read whole at
every sofia rescan). Names come lower-cased; comparisons are case-insensitive, as in FreeSWITCH.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.db.schema import (
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
from fsdir.directory.loader import load_domain_header


async def _entries(conn: AsyncConnection, table: Table, owner_column: str, owners: Any) -> dict[int, list[tree.Entry]]:
    """Enabled params or variables of the owners (a subquery of ids), in their order."""
    column = table.c[owner_column]
    query = select(table).where(column.in_(owners), table.c.enabled.is_(True)).order_by(column, table.c.id)
    result: defaultdict[int, list[tree.Entry]] = defaultdict(list)
    for row in await conn.execute(query):
        direction = getattr(row, "direction", "") or ""
        result[row._mapping[owner_column]].append(tree.Entry(row.name, row.value, True, direction))
    return result


# Built once: a cache miss is the hot path's slow path, and building a statement costs as much as
# sending it. FreeSWITCH's key=id matches the id or the number-alias, first in document order.
_USER = (
    select(users.c.id, users.c.name, users.c.cache, users.c.cidr, users.c.number_alias)
    .join(domains, domains.c.id == users.c.domain_id)
    .where(
        func.lower(domains.c.name) == bindparam("domain"),
        domains.c.enabled.is_(True),
        users.c.enabled.is_(True),
        or_(func.lower(users.c.name) == bindparam("user"), func.lower(users.c.number_alias) == bindparam("user")),
    )
    .order_by(users.c.id)
    .limit(1)
)
_USER_ENTRIES = union_all(
    *(
        select(literal_column(f"'{kind}'").label("kind"), table.c.id, table.c.name, table.c.value).where(
            table.c.user_id == bindparam("user_id"), table.c.enabled.is_(True)
        )
        for kind, table in (("p", user_params), ("v", user_variables))
    )
)


async def load_user_alone(conn: AsyncConnection, domain_name: str, user_name: str) -> tree.User | None:
    """An enabled user of an enabled domain, by id or number-alias, with its enabled params and
    variables (not the domain's: the caller has them). Two statements."""
    row = (await conn.execute(_USER, {"domain": domain_name, "user": user_name})).first()
    if row is None:
        return None
    user = tree.User(row.name, cache=row.cache, cidr=row.cidr, number_alias=row.number_alias)
    for entry in sorted(await conn.execute(_USER_ENTRIES, {"user_id": row.id}), key=lambda e: (e.kind, e.id)):
        (user.params if entry.kind == "p" else user.variables).append(tree.Entry(entry.name, entry.value))
    return user


def _enabled_domain(name: str | None) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = domains.c.enabled.is_(True)
    if name is not None:
        condition = condition & (func.lower(domains.c.name) == name)
    return condition


async def load_group(conn: AsyncConnection, domain_name: str, group_name: str) -> tuple[tree.Domain, bool] | None:
    """The domain (params, variables) holding only the group and its enabled members, whose users
    come with their params and variables. None for an unknown or disabled domain; the flag says
    whether the group exists. Seven statements."""
    domain = await load_domain_header(conn, domain_name)
    if domain is None:
        return None
    group_query = (
        select(groups.c.id, groups.c.name)
        .join(domains, domains.c.id == groups.c.domain_id)
        .where(_enabled_domain(domain_name), func.lower(groups.c.name) == group_name)
    )
    group_row = (await conn.execute(group_query)).first()
    if group_row is None:
        return domain, False
    member_ids = (
        select(group_members.c.user_id)
        .join(users, users.c.id == group_members.c.user_id)
        .where(group_members.c.group_id == group_row.id, group_members.c.enabled, users.c.enabled)
    )
    member_query = (
        select(users.c.id, users.c.name, users.c.cache, users.c.cidr, users.c.number_alias)
        .join(group_members, group_members.c.user_id == users.c.id)
        .where(group_members.c.group_id == group_row.id, group_members.c.enabled, users.c.enabled)
        .order_by(group_members.c.id)
    )
    rows = list(await conn.execute(member_query))
    params = await _entries(conn, user_params, "user_id", member_ids.scalar_subquery())
    variables = await _entries(conn, user_variables, "user_id", member_ids.scalar_subquery())
    group = tree.Group(group_row.name, [tree.Member(row.name) for row in rows])
    # Real users in id order, as in the whole-domain document; pointers in membership order.
    domain.users = [
        tree.User(
            row.name,
            params.get(row.id, []),
            variables.get(row.id, []),
            cache=row.cache,
            cidr=row.cidr,
            number_alias=row.number_alias,
        )
        for row in sorted(rows, key=lambda row: int(row.id))
    ]
    domain.groups = [group]
    return domain, True


async def load_gateway_owners(conn: AsyncConnection, domain_name: str | None) -> list[tree.Domain]:
    """Every enabled domain (or the one named), each with only its enabled users that own enabled
    gateways, those gateways and their enabled params and variables. Four statements."""
    domain_rows = list(
        await conn.execute(
            select(domains.c.id, domains.c.name).where(_enabled_domain(domain_name)).order_by(domains.c.id)
        )
    )
    if not domain_rows:
        return []
    owned = (
        select(gateways.c.id)
        .join(users, users.c.id == gateways.c.user_id)
        .join(domains, domains.c.id == users.c.domain_id)
        .where(_enabled_domain(domain_name), users.c.enabled, gateways.c.enabled)
    )
    gateway_query = (
        select(gateways.c.id, gateways.c.name, gateways.c.user_id, users.c.name.label("user_name"), users.c.domain_id)
        .join(users, users.c.id == gateways.c.user_id)
        .where(gateways.c.id.in_(owned.scalar_subquery()))
        .order_by(users.c.id, gateways.c.id)
    )
    gateway_rows = list(await conn.execute(gateway_query))
    params = await _entries(conn, gateway_params, "gateway_id", owned.scalar_subquery())
    variables = await _entries(conn, gateway_variables, "gateway_id", owned.scalar_subquery())
    owners: dict[int, tree.User] = {}
    domain_users: defaultdict[int, list[tree.User]] = defaultdict(list)
    for row in gateway_rows:
        owner = owners.get(row.user_id)
        if owner is None:
            owner = owners[row.user_id] = tree.User(row.user_name)
            domain_users[row.domain_id].append(owner)
        owner.gateways.append(tree.Gateway(row.name, params.get(row.id, []), variables.get(row.id, [])))
    return [tree.Domain(row.name, users=domain_users.get(row.id, [])) for row in domain_rows]


async def load_network_list(conn: AsyncConnection, domain_name: str) -> tree.Domain | None:
    """An enabled domain with only its enabled users that have a ``cidr``. Two statements."""
    domain_row = (await conn.execute(select(domains.c.id, domains.c.name).where(_enabled_domain(domain_name)))).first()
    if domain_row is None:
        return None
    user_query = (
        select(users.c.name, users.c.cidr)
        .where(users.c.domain_id == domain_row.id, users.c.enabled, users.c.cidr != "")
        .order_by(users.c.id)
    )
    members = [tree.User(row.name, cidr=row.cidr) for row in await conn.execute(user_query)]
    return tree.Domain(domain_row.name, users=members)
