"""Domains: the eight events of the original document's Domains section (entries live in entries.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, NoData, Role, registry
from fsdir.db.schema import domain_params, domain_variables, domains
from fsdir.directory import queries
from fsdir.directory.views import domain_view, domains_map, entries_map

TOPIC = "[Domains][Get] Domains"
NAME_FIELD = Field(default="", max_length=255)


class NameData(Data):
    name: str = NAME_FIELD


class RenameData(Data):
    id: int = ID_FIELD
    name: str = NAME_FIELD


class SwitchData(Data):
    id: int = ID_FIELD
    enabled: bool | None = None


class IdData(Data):
    id: int = ID_FIELD


@registry.event(TOPIC, NoData)
async def get_domains(ctx: EventContext, data: NoData) -> dict[str, Any]:
    rows = await ctx.conn.execute(select(domains).order_by(domains.c.id))
    return {"domains": domains_map(rows, ctx.runtime.live)}


@registry.event("[Domains][Add] Domain", NameData, role=Role.operator, writes=True, topic=TOPIC)
async def add_domain(ctx: EventContext, data: NameData) -> dict[str, Any]:
    name = queries.clean_name(data.name)
    if not name:
        raise ApiError("empty domain name")
    if await queries.domain_name_taken(ctx.conn, name):
        raise ApiError("domain name already exists")
    try:
        result = await ctx.conn.execute(insert(domains).values(name=name, enabled=True).returning(domains))
    except IntegrityError:
        raise ApiError("domain name already exists") from None
    row = result.one()
    ctx.changes.domains.add(name)
    return {"domains": {str(row.id): domain_view(row, ctx.runtime.live)}}


@registry.event("[Domains] Rename_domain", RenameData, role=Role.operator, writes=True, topic=TOPIC)
async def rename_domain(ctx: EventContext, data: RenameData) -> dict[str, Any]:
    name = queries.clean_name(data.name)
    if not name:
        raise ApiError("empty domain name")
    current = await queries.domain_row(ctx.conn, data.id)
    if current is None:
        raise ApiError("domain not found")
    if await queries.domain_name_taken(ctx.conn, name, except_id=data.id):
        raise ApiError("domain name already exists")
    await queries.note_domain_change(ctx.conn, ctx.changes, current.id, current.name)
    try:
        result = await ctx.conn.execute(
            update(domains).where(domains.c.id == data.id).values(name=name).returning(domains)
        )
    except IntegrityError:
        raise ApiError("domain name already exists") from None
    row = result.one()
    ctx.changes.domains.add(name)
    return {"domains": {str(row.id): domain_view(row, ctx.runtime.live)}}


@registry.event("[Domains][Switch] Domain", SwitchData, role=Role.operator, writes=True, topic=TOPIC)
async def switch_domain(ctx: EventContext, data: SwitchData) -> dict[str, Any]:
    current = await queries.domain_row(ctx.conn, data.id)
    if current is None:
        raise ApiError("domain not found")
    if data.enabled is None:
        raise ApiError("can't change")
    result = await ctx.conn.execute(
        update(domains).where(domains.c.id == data.id).values(enabled=data.enabled).returning(domains)
    )
    row = result.one()
    await queries.note_domain_change(ctx.conn, ctx.changes, row.id, row.name)
    # Sofia loaded this domain's gateways at its last rescan: a disabled domain must lose them.
    await queries.note_domain_gateways(ctx.conn, ctx.changes, row.id)
    return {"domains": {str(row.id): domain_view(row, ctx.runtime.live)}}


@registry.event("[Domains] Del_domain", IdData, role=Role.operator, writes=True, topic=TOPIC)
async def delete_domain(ctx: EventContext, data: IdData) -> dict[str, Any]:
    current = await queries.domain_row(ctx.conn, data.id)
    if current is None:
        raise ApiError("domain not found")
    await queries.note_domain_change(ctx.conn, ctx.changes, current.id, current.name)
    await queries.note_domain_gateways(ctx.conn, ctx.changes, current.id)
    result = await ctx.conn.execute(delete(domains).where(domains.c.id == data.id))
    if not result.rowcount:
        raise ApiError("can't delete domain")
    return {"id": data.id}


@registry.event("[Domains][Get] Domain_details", IdData)
async def domain_details(ctx: EventContext, data: IdData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    if await queries.domain_row(ctx.conn, data.id) is None:
        raise ApiError("domain not found")
    params = await ctx.conn.execute(
        select(domain_params).where(domain_params.c.domain_id == data.id).order_by(domain_params.c.id)
    )
    variables = await ctx.conn.execute(
        select(domain_variables).where(domain_variables.c.domain_id == data.id).order_by(domain_variables.c.id)
    )
    return {"domain_details": {str(data.id): {"parameters": entries_map(params), "variables": entries_map(variables)}}}
