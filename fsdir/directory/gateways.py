"""A user's gateways (the contract of spec/API.md, Gateways); their params and variables are in entries.py."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, NoData, Role, registry
from fsdir.db.schema import domains, gateway_params, gateway_variables, gateways, users
from fsdir.directory import queries
from fsdir.directory.users import users_query
from fsdir.directory.views import domains_map, entries_map, user_view

TOPIC = "[Gateways] Get_users_gateways"
# mod_sofia refuses any other gateway name (parse_gateways). A $${global} reference is allowed too:
# FreeSWITCH expands it when it reads the document, as in its own files (vanilla: $${default_provider}).
GATEWAY_NAME = re.compile(r"(?:[A-Za-z0-9_.-]|\$\$\{[A-Za-z0-9_.-]+\})+")


class IdData(Data):
    id: int = ID_FIELD


class NameData(Data):
    id: int = ID_FIELD
    name: str = Field(default="", max_length=255)


def gateway_view(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "enabled": row.enabled, "name": row.name}


def _valid_name(raw: str) -> str:
    name = queries.clean_name(raw)
    if not name:
        raise ApiError("empty data")
    if not GATEWAY_NAME.fullmatch(name):
        raise ApiError("wrong data")
    return name


async def _name_taken(conn: AsyncConnection, name: str, except_id: int = 0) -> bool:
    query = select(gateways.c.id).where(func.lower(gateways.c.name) == name.lower(), gateways.c.id != except_id)
    return (await conn.execute(query)).first() is not None


async def _gateway(conn: AsyncConnection, gateway_id: int, missing: str) -> Row[Any]:
    query = (
        select(gateways, users.c.domain_id, domains.c.name.label("domain_name"))
        .join(users, users.c.id == gateways.c.user_id)
        .join(domains, domains.c.id == users.c.domain_id)
        .where(gateways.c.id == gateway_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise ApiError(missing)
    return row


@registry.event(TOPIC, NoData)
async def get_users_gateways(ctx: EventContext, data: NoData) -> dict[str, Any]:
    live = ctx.runtime.live
    domain_rows = list(await ctx.conn.execute(select(domains).order_by(domains.c.id)))
    directory_users: dict[str, dict[str, Any]] = {}
    for row in await ctx.conn.execute(users_query()):
        directory_users.setdefault(str(row.domain_id), {})[str(row.id)] = user_view(row, row.domain_name, live)
    user_gateways: dict[str, dict[str, dict[str, Any]]] = {}
    query = (
        select(gateways, users.c.domain_id)
        .join(users, users.c.id == gateways.c.user_id)
        .order_by(users.c.domain_id, gateways.c.user_id, gateways.c.id)
    )
    for row in await ctx.conn.execute(query):
        owner = user_gateways.setdefault(str(row.domain_id), {}).setdefault(str(row.user_id), {})
        owner[str(row.id)] = gateway_view(row)
    return {
        "domains": domains_map(domain_rows, live),
        "directory_users": directory_users,
        "user_gateways": user_gateways,
    }


@registry.event("[Gateways] Add_new_user_gateway", NameData, role=Role.operator, writes=True, topic=TOPIC)
async def add_gateway(ctx: EventContext, data: NameData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    name = _valid_name(data.name)
    user = await queries.user_row(ctx.conn, data.id)
    if user is None:
        raise ApiError("user not found")
    if await _name_taken(ctx.conn, name):
        raise ApiError("gateway name already exists")
    try:
        row = (
            await ctx.conn.execute(
                gateways.insert().values(user_id=user.id, name=name, enabled=True).returning(gateways)
            )
        ).one()
    except IntegrityError:
        raise ApiError("gateway name already exists") from None
    ctx.changes.domains.add(user.domain_name)
    ctx.changes.gateways.add(name)
    return {"item": {"id": row.id, "name": row.name}, "id": user.domain_id, "affected_id": user.id}


@registry.event("[Gateways] Update_user_gateway_name", NameData, role=Role.operator, writes=True, topic=TOPIC)
async def rename_gateway(ctx: EventContext, data: NameData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    name = _valid_name(data.name)
    current = await _gateway(ctx.conn, data.id, "gateway not found")
    if await _name_taken(ctx.conn, name, except_id=current.id):
        raise ApiError("gateway name already exists")
    try:
        await ctx.conn.execute(update(gateways).where(gateways.c.id == current.id).values(name=name))
    except IntegrityError:
        raise ApiError("gateway name already exists") from None
    ctx.changes.domains.add(current.domain_name)
    ctx.changes.gateways.update((current.name, name))
    return {"item": {"id": current.id, "name": name}, "id": current.domain_id, "affected_id": current.user_id}


@registry.event("[Gateways] Del_user_gateway", IdData, role=Role.operator, writes=True, topic=TOPIC)
async def delete_gateway(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    current = await _gateway(ctx.conn, data.id, "gateway not found")
    result = await ctx.conn.execute(delete(gateways).where(gateways.c.id == current.id))
    if not result.rowcount:
        raise ApiError("can't delete gateway")
    ctx.changes.domains.add(current.domain_name)
    ctx.changes.gateways.add(current.name)
    return {"item": {"id": current.id}, "id": current.domain_id, "affected_id": current.user_id}


@registry.event("[Gateways] Get_user_gateways_details", IdData)
async def gateway_details(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    current = await _gateway(ctx.conn, data.id, "user gateway not found")
    params = await ctx.conn.execute(
        select(gateway_params).where(gateway_params.c.gateway_id == current.id).order_by(gateway_params.c.id)
    )
    variables = await ctx.conn.execute(
        select(gateway_variables).where(gateway_variables.c.gateway_id == current.id).order_by(gateway_variables.c.id)
    )
    return {
        "gateway_details": {str(current.id): {"parameters": entries_map(params), "variables": entries_map(variables)}}
    }
