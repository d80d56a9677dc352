"""Groups of a domain and their pointer members (the contract of spec/API.md, Groups)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, NoData, Role, registry
from fsdir.db.schema import domains, group_members, groups, users
from fsdir.directory import queries
from fsdir.directory.views import domains_map

TOPIC = "[Groups] Get_groups"


class IdData(Data):
    id: int = ID_FIELD


class NameData(Data):
    id: int = ID_FIELD
    name: str = Field(default="", max_length=255)


class MemberData(Data):
    id: int = ID_FIELD
    value: str = Field(default="", max_length=32)


def member_view(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "enabled": row.enabled, "user_id": row.user_id, "name": row.name, "type": "pointer"}


async def _group(conn: AsyncConnection, group_id: int) -> Row[Any]:
    query = (
        select(groups, domains.c.name.label("domain_name"))
        .join(domains, domains.c.id == groups.c.domain_id)
        .where(groups.c.id == group_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise ApiError("group not found")
    return row


async def _group_name_check(ctx: EventContext, domain_id: int, name: str, except_id: int = 0) -> None:
    if name.lower() == ctx.runtime.settings.all_users_group.lower():
        # The rendered directory already holds a group of this name with every user in it.
        raise ApiError("group name is reserved")
    query = select(groups.c.id).where(
        groups.c.domain_id == domain_id, func.lower(groups.c.name) == name.lower(), groups.c.id != except_id
    )
    if (await ctx.conn.execute(query)).first() is not None:
        raise ApiError("group name already exists")


@registry.event(TOPIC, NoData)
async def get_groups(ctx: EventContext, data: NoData) -> dict[str, Any]:
    domain_rows = list(await ctx.conn.execute(select(domains).order_by(domains.c.id)))
    listing: dict[str, dict[str, str]] = {}
    for row in await ctx.conn.execute(select(groups).order_by(groups.c.domain_id, groups.c.id)):
        listing.setdefault(str(row.domain_id), {})[str(row.id)] = row.name
    return {"domains": domains_map(domain_rows, ctx.runtime.live), "list": listing}


@registry.event("[Groups] Get_group_users", IdData)
async def get_group_users(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    group = await _group(ctx.conn, data.id)
    candidates = await ctx.conn.execute(
        select(users.c.id, users.c.name).where(users.c.domain_id == group.domain_id).order_by(users.c.id)
    )
    members = await ctx.conn.execute(
        select(group_members, users.c.name)
        .join(users, users.c.id == group_members.c.user_id)
        .where(group_members.c.group_id == group.id)
        .order_by(group_members.c.id)
    )
    return {
        "list": {str(group.domain_id): {str(row.id): row.name for row in candidates}},
        "group_users": {str(group.id): {str(row.id): member_view(row) for row in members}},
    }


@registry.event("[Groups] Add_new_group", NameData, role=Role.operator, writes=True, topic=TOPIC)
async def add_group(ctx: EventContext, data: NameData) -> dict[str, Any]:
    domain, name = await queries.new_in_domain(ctx.conn, data.id, data.name)
    await _group_name_check(ctx, domain.id, name)
    try:
        row = (await ctx.conn.execute(insert(groups).values(domain_id=domain.id, name=name).returning(groups))).one()
    except IntegrityError:
        raise ApiError("group name already exists") from None
    ctx.changes.domains.add(domain.name)
    return {"items": {str(row.id): row.name}, "id": domain.id}


@registry.event("[Groups] Update_group_name", NameData, role=Role.operator, writes=True, topic=TOPIC)
async def rename_group(ctx: EventContext, data: NameData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    name = queries.clean_name(data.name)
    if not name:
        raise ApiError("empty data")
    group = await _group(ctx.conn, data.id)
    await _group_name_check(ctx, group.domain_id, name, except_id=group.id)
    try:
        await ctx.conn.execute(update(groups).where(groups.c.id == group.id).values(name=name))
    except IntegrityError:
        raise ApiError("group name already exists") from None
    ctx.changes.domains.add(group.domain_name)
    return {"item": {"id": group.id, "name": name}, "id": group.domain_id}


@registry.event("[Groups] Del_group", IdData, role=Role.operator, writes=True, topic=TOPIC)
async def delete_group(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    group = await _group(ctx.conn, data.id)
    result = await ctx.conn.execute(delete(groups).where(groups.c.id == group.id))
    if not result.rowcount:
        raise ApiError("can't delete group")
    ctx.changes.domains.add(group.domain_name)
    return {"item": {"id": group.id}, "id": group.domain_id}


@registry.event("[Groups] Add_group_user", MemberData, role=Role.operator, writes=True, topic=TOPIC)
async def add_group_user(ctx: EventContext, data: MemberData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong group id")
    value = data.value.strip()
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 2**31:
        raise ApiError("wrong user id")
    group = await _group(ctx.conn, data.id)
    user = (await ctx.conn.execute(select(users).where(users.c.id == int(value)))).first()
    if user is None:
        raise ApiError("user not found")
    if user.domain_id != group.domain_id:
        raise ApiError("user not in group domain")
    exists = select(group_members.c.id).where(group_members.c.group_id == group.id, group_members.c.user_id == user.id)
    if (await ctx.conn.execute(exists)).first() is not None:
        raise ApiError("user already in group")
    try:
        member = (
            await ctx.conn.execute(
                insert(group_members).values(group_id=group.id, user_id=user.id, enabled=True).returning(group_members)
            )
        ).one()
    except IntegrityError:
        raise ApiError("user already in group") from None
    ctx.changes.domains.add(group.domain_name)
    view = {
        "id": member.id,
        "enabled": member.enabled,
        "user_id": user.id,
        "name": user.name,
        "type": "pointer",
    }
    return {"group_users": {str(group.id): {str(member.id): view}}, "id": group.id}


@registry.event("[Groups] Del_group_user", IdData, role=Role.operator, writes=True, topic=TOPIC)
async def delete_group_user(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    member = (await ctx.conn.execute(select(group_members).where(group_members.c.id == data.id))).first()
    if member is None:
        raise ApiError("user not found")
    group = await _group(ctx.conn, member.group_id)
    await ctx.conn.execute(delete(group_members).where(group_members.c.id == member.id))
    ctx.changes.domains.add(group.domain_name)
    return {"id": group.id, "affected_id": member.id}
