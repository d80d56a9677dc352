"""Directory XML in and out: ImportXMLDomain, ImportXMLDomainUser, [Directory][Import], Export, Status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, NoData, Role, registry
from fsdir.db.schema import domains, users
from fsdir.directory import queries
from fsdir.directory.importer import import_domains, insert_users
from fsdir.directory.loader import load_domains
from fsdir.directory.views import domains_map, user_view
from fsdir.freeswitch.parse import XmlImportError, parse_domains, parse_esl_xml_locate, parse_users
from fsdir.freeswitch.render import render_export

DOMAINS_TOPIC = "[Domains][Get] Domains"
USERS_TOPIC = "[Users] Get_users"


class FileData(Data):
    file: str = ""


class DomainFileData(Data):
    id: int = ID_FIELD
    file: str = ""


class ExportData(Data):
    id: int = ID_FIELD
    include_disabled: bool = False


async def _all_domains(ctx: EventContext) -> dict[str, Any]:
    rows = await ctx.conn.execute(select(domains).order_by(domains.c.id))
    return domains_map(rows, ctx.runtime.live)


@registry.event("ImportXMLDomain", FileData, role=Role.operator, writes=True, topic=DOMAINS_TOPIC)
async def import_xml_domain(ctx: EventContext, data: FileData) -> dict[str, Any]:
    if not data.file.strip():
        raise ApiError("empty data")
    try:
        # Parsing a large document would stall every other request: do it off the event loop.
        trees = await asyncio.to_thread(parse_domains, data.file)
    except XmlImportError as exc:
        raise ApiError(exc.message) from None
    await import_domains(ctx.conn, trees, ctx.changes, reserved_group=ctx.runtime.settings.all_users_group)
    return {"domains": await _all_domains(ctx)}


@registry.event("ImportXMLDomainUser", DomainFileData, role=Role.operator, writes=True, topic=USERS_TOPIC)
async def import_xml_domain_user(ctx: EventContext, data: DomainFileData) -> dict[str, Any]:
    if not data.id:
        raise ApiError("wrong id")
    if not data.file.strip():
        raise ApiError("empty data")
    domain = await queries.domain_row(ctx.conn, data.id)
    if domain is None:
        raise ApiError("domain not found")
    try:
        members = await asyncio.to_thread(parse_users, data.file)
    except XmlImportError as exc:
        raise ApiError(exc.message) from None
    await insert_users(ctx.conn, domain.id, domain.name, members, ctx.changes)
    rows = await ctx.conn.execute(select(users).where(users.c.domain_id == domain.id).order_by(users.c.id))
    live = ctx.runtime.live
    return {"directory_users": {str(domain.id): {str(row.id): user_view(row, domain.name, live) for row in rows}}}


# Own transaction: the write lock is taken only once FreeSWITCH has answered.
@registry.event(
    "[Directory][Import]", NoData, role=Role.operator, writes=True, topic=DOMAINS_TOPIC, own_transaction=True
)
async def import_from_freeswitch(ctx: EventContext, data: NoData) -> dict[str, Any]:
    freeswitch = ctx.runtime.freeswitch
    if freeswitch is None or not freeswitch.connected:
        raise ApiError("freeswitch not connected")
    try:
        body = await freeswitch.api("xml_locate directory")
    except TimeoutError:
        raise ApiError("freeswitch did not answer") from None
    except Exception:
        raise ApiError("freeswitch not connected") from None
    try:
        trees = await asyncio.to_thread(parse_esl_xml_locate, body)
    except XmlImportError as exc:
        raise ApiError(exc.message) from None
    async with ctx.conn.begin():
        counts = await import_domains(ctx.conn, trees, ctx.changes, reserved_group=ctx.runtime.settings.all_users_group)
    return {"imported": counts.as_dict()}


@registry.event("[Directory] Export", ExportData)
async def export_directory(ctx: EventContext, data: ExportData) -> dict[str, Any]:
    if data.id and await queries.domain_row(ctx.conn, data.id) is None:
        raise ApiError("domain not found")
    trees = await load_domains(
        ctx.conn, domain_ids=[data.id] if data.id else None, include_disabled=data.include_disabled
    )
    text = render_export(
        trees, include_disabled=data.include_disabled, all_users_group=ctx.runtime.settings.all_users_group
    )
    return {"file": text}


@registry.event("[Directory] Status", NoData)
async def status(ctx: EventContext, data: NoData) -> dict[str, Any]:
    freeswitch = ctx.runtime.freeswitch
    connected = bool(freeswitch is not None and freeswitch.connected)
    last_event = getattr(freeswitch, "last_event_at", None) if freeswitch is not None else None
    return {
        "freeswitch": "connected" if connected else "disconnected",
        "version": (getattr(freeswitch, "version", None) or "") if connected else "",
        "last_event": int(last_event) if last_event else 0,
        "time": int(time.time()),
    }
