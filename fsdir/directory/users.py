"""Users: the events of the original document's Users section, plus number-alias and switch."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import Field
from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, Role, registry
from fsdir.db.schema import domains, gateways, group_members, user_params, user_variables, users
from fsdir.directory import queries
from fsdir.directory.bulk import bulk_names
from fsdir.directory.views import domains_map, entries_map, user_view

TOPIC = "[Users] Get_users"
MAX_BULK = 100
# The cacheable attribute is milliseconds; FreeSWITCH reads it as a number.
MAX_CACHE = 2**31 - 1


class GetUsersData(Data):
    domain_id: int = ID_FIELD
    search: str = Field(default="", max_length=255)
    offset: int = Field(default=0, ge=0, le=2**31 - 1)
    limit: int | None = Field(default=None, ge=1, le=100_000)


class IdData(Data):
    id: int = ID_FIELD


class ValueData(Data):
    id: int = ID_FIELD
    value: str | None = Field(default=None, max_length=65536)


class SwitchData(Data):
    id: int = ID_FIELD
    enabled: bool | None = None


class NewUserData(Data):
    id: int = ID_FIELD
    name: str = Field(default="", max_length=255)
    bulk: int = Field(default=1, ge=1)


class RenameData(Data):
    id: int = ID_FIELD
    name: str = Field(default="", max_length=255)


def _user_map(rows: list[Row[Any]], live: Any) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for row in rows:
        result.setdefault(str(row.domain_id), {})[str(row.id)] = user_view(row, row.domain_name, live)
    return result


def users_query() -> Any:
    return (
        select(users, domains.c.name.label("domain_name"))
        .join(domains, domains.c.id == users.c.domain_id)
        # Ids grow with insertion, so this is the documented order and pages walk the primary key.
        .order_by(users.c.id)
    )


@registry.event(TOPIC, GetUsersData)
async def get_users(ctx: EventContext, data: GetUsersData) -> dict[str, Any]:
    query = users_query()
    count = select(func.count()).select_from(users)
    if data.domain_id:
        query = query.where(users.c.domain_id == data.domain_id)
        count = count.where(users.c.domain_id == data.domain_id)
    if data.search:
        # autoescape: "%" and "_" in a search are characters to find, not LIKE wildcards.
        search = data.search.lower()
        matches = or_(
            func.lower(users.c.name).contains(search, autoescape=True),
            func.lower(users.c.number_alias).contains(search, autoescape=True),
        )
        query = query.where(matches)
        count = count.where(matches)
    paged = data.limit is not None or data.offset > 0
    if paged:
        query = query.offset(data.offset).limit(data.limit if data.limit is not None else -1)
    live = ctx.runtime.live
    rows = list(await ctx.conn.execute(query))
    domain_query = select(domains).order_by(domains.c.id)
    if data.domain_id:
        domain_query = domain_query.where(domains.c.id == data.domain_id)
    elif paged:
        # A page names only the domains of its users, so its size doesn't grow with the directory.
        domain_query = domain_query.where(domains.c.id.in_({row.domain_id for row in rows}))
    reply: dict[str, Any] = {
        "domains": domains_map(await ctx.conn.execute(domain_query), live),
        "directory_users": _user_map(rows, live),
    }
    if paged:
        reply["total"] = (await ctx.conn.execute(count)).scalar_one()
    return reply


async def _user(conn: AsyncConnection, user_id: int, missing: str = "user not found") -> Row[Any]:
    row = await queries.user_row(conn, user_id)
    if row is None:
        raise ApiError(missing)
    return row


def _note_user(ctx: EventContext, row: Row[Any]) -> None:
    ctx.changes.domains.add(row.domain_name)
    ctx.changes.users.add((row.name, row.domain_name))


@registry.event("[Users] Get_user_details", IdData)
async def user_details(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    row = await _user(ctx.conn, data.id)
    params = await ctx.conn.execute(
        select(user_params).where(user_params.c.user_id == data.id).order_by(user_params.c.id)
    )
    variables = await ctx.conn.execute(
        select(user_variables).where(user_variables.c.user_id == data.id).order_by(user_variables.c.id)
    )
    return {
        "user_details": {
            str(data.id): {
                "parameters": entries_map(params),
                "variables": entries_map(variables),
                "cache": row.cache,
                "cidr": row.cidr,
            }
        }
    }


async def _set_user_field(ctx: EventContext, user_id: int, field: str, value: Any) -> Row[Any]:
    row = await _user(ctx.conn, user_id)
    await ctx.conn.execute(update(users).where(users.c.id == user_id).values({field: value}))
    _note_user(ctx, row)
    return row


@registry.event("[Users] Update_user_cache", ValueData, role=Role.operator, writes=True, topic=TOPIC)
async def update_user_cache(ctx: EventContext, data: ValueData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    value = (data.value or "").strip()
    if not value:
        raise ApiError("empty data")
    if not value.isascii() or not value.isdigit() or int(value) > MAX_CACHE:
        raise ApiError("wrong data")
    await _set_user_field(ctx, data.id, "cache", int(value))
    return {"item": {"id": data.id, "value": str(int(value))}}


def normalize_cidr(value: str) -> str:
    """Each comma-separated entry as a network; leading zeros in IPv4 octets read as decimal.

    FreeSWITCH's ``switch_parse_cidr`` refuses an entry without ``/bits``: a lone address is stored
    as its host network (``/32``, ``/128``). An IPv6 scope (``%eth0``) means nothing there either.
    """
    entries = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        address, slash, prefix = entry.partition("/")
        if "." in address and ":" not in address:
            octets = address.split(".")
            if len(octets) == 4 and all(octet.isascii() and octet.isdigit() and len(octet) <= 3 for octet in octets):
                address = ".".join(str(int(octet)) for octet in octets)
        if "%" in address:
            raise ApiError("wrong data")
        try:
            entries.append(str(ipaddress.ip_network(f"{address}/{prefix}" if slash else address, strict=False)))
        except ValueError:
            raise ApiError("wrong data") from None
    return ",".join(entries)


@registry.event("[Users] Update_user_cidr", ValueData, role=Role.operator, writes=True, topic=TOPIC)
async def update_user_cidr(ctx: EventContext, data: ValueData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    if data.value is None:
        raise ApiError("empty data")
    value = normalize_cidr(data.value)
    await _set_user_field(ctx, data.id, "cidr", value)
    return {"item": {"id": data.id, "value": value}}


async def alias_taken(conn: AsyncConnection, domain_id: int, alias: str, except_id: int) -> bool:
    """FreeSWITCH matches a user by id or number-alias: an alias may not name another user."""
    lowered = alias.lower()
    query = select(users.c.id).where(
        users.c.domain_id == domain_id,
        users.c.id != except_id,
        or_(func.lower(users.c.name) == lowered, func.lower(users.c.number_alias) == lowered),
    )
    return (await conn.execute(query)).first() is not None


async def _alias_of_any(conn: AsyncConnection, domain_id: int, names: list[str]) -> bool:
    """A new user named like another user's number-alias would make FreeSWITCH's lookup ambiguous."""
    lowered = [name.lower() for name in names]
    query = select(users.c.id).where(users.c.domain_id == domain_id, func.lower(users.c.number_alias).in_(lowered))
    return (await conn.execute(query.limit(1))).first() is not None


@registry.event("[Users] Update_user_number_alias", ValueData, role=Role.operator, writes=True, topic=TOPIC)
async def update_user_number_alias(ctx: EventContext, data: ValueData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    if data.value is None:
        raise ApiError("empty data")
    value = data.value.strip()
    if len(value) > 255:
        raise ApiError("wrong data")
    row = await _user(ctx.conn, data.id)
    if value and await alias_taken(ctx.conn, row.domain_id, value, row.id):
        raise ApiError("number alias already exists")
    await _set_user_field(ctx, data.id, "number_alias", value)
    return {"item": {"id": data.id, "value": value}}


@registry.event("[Users][Switch] User", SwitchData, role=Role.operator, writes=True, topic=TOPIC)
async def switch_user(ctx: EventContext, data: SwitchData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    row = await _user(ctx.conn, data.id)
    if data.enabled is None:
        raise ApiError("can't change")
    await ctx.conn.execute(update(users).where(users.c.id == data.id).values(enabled=data.enabled))
    _note_user(ctx, row)
    ctx.changes.gateways.update(await _gateway_names(ctx.conn, row.id))
    fresh = await _user(ctx.conn, data.id)
    return {
        "directory_users": {
            str(fresh.domain_id): {str(fresh.id): user_view(fresh, fresh.domain_name, ctx.runtime.live)}
        }
    }


@registry.event("[Users] Add_new_user", NewUserData, role=Role.operator, writes=True, topic=TOPIC)
async def add_new_user(ctx: EventContext, data: NewUserData) -> dict[str, Any]:
    domain, name = await queries.new_in_domain(ctx.conn, data.id, data.name)
    if data.bulk > MAX_BULK:
        raise ApiError("to many at once")
    names = bulk_names(name, data.bulk)
    if any(len(candidate) > 255 for candidate in names):
        raise ApiError("invalid name")
    if await queries.user_name_taken(ctx.conn, domain.id, names):
        raise ApiError("user name already exists")
    if await _alias_of_any(ctx.conn, domain.id, names):
        raise ApiError("user name already exists")
    try:
        result = await ctx.conn.execute(
            insert(users).returning(users),
            [{"domain_id": domain.id, "name": n, "enabled": True} for n in names],
        )
    except IntegrityError:
        raise ApiError("user name already exists") from None
    rows = sorted(result.all(), key=lambda row: row.id)
    ctx.changes.domains.add(domain.name)
    ctx.changes.users.update((row.name, domain.name) for row in rows)
    live = ctx.runtime.live
    created = {str(row.id): user_view(row, domain.name, live) for row in rows}
    return {"directory_users": {str(domain.id): created}, "total": len(created)}


@registry.event("[Users] Update_user_name", RenameData, role=Role.operator, writes=True, topic=TOPIC)
async def update_user_name(ctx: EventContext, data: RenameData) -> dict[str, Any]:
    row = await _user(ctx.conn, data.id)
    name = queries.clean_name(data.name)
    if not name:
        raise ApiError("empty data")
    if await queries.user_name_taken(ctx.conn, row.domain_id, [name], except_id=row.id):
        raise ApiError("user name already exists")
    if await alias_taken(ctx.conn, row.domain_id, name, row.id):
        raise ApiError("user name already exists")
    try:
        await ctx.conn.execute(update(users).where(users.c.id == row.id).values(name=name))
    except IntegrityError:
        raise ApiError("user name already exists") from None
    _note_user(ctx, row)
    ctx.changes.users.add((name, row.domain_name))
    return {"item": {"id": row.id, "name": name}, "id": row.domain_id}


async def _gateway_names(conn: AsyncConnection, user_id: int) -> list[str]:
    return list((await conn.execute(select(gateways.c.name).where(gateways.c.user_id == user_id))).scalars())


@registry.event("[Users] Del_user", IdData, role=Role.operator, writes=True, topic=TOPIC)
async def delete_user(ctx: EventContext, data: IdData) -> dict[str, Any]:
    row = await _user(ctx.conn, data.id)
    ctx.changes.gateways.update(await _gateway_names(ctx.conn, row.id))
    await ctx.conn.execute(delete(group_members).where(group_members.c.user_id == row.id))
    result = await ctx.conn.execute(delete(users).where(users.c.id == row.id))
    if not result.rowcount:
        raise ApiError("can't delete user")
    _note_user(ctx, row)
    return {"item": {"id": row.id}, "id": row.domain_id}
