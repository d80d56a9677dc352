"""Params and variables of domains, users and gateways: one table-driven implementation.

The original API repeats add/update/switch/delete of "named entries" for three owners and two
kinds. Each event below is one row: its name, the entry kind, the operation, its request form,
its reply form and its error texts (verbatim from the original document where it lists them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import Field
from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.api.registry import ID_FIELD, Data, EventContext, EventSpec, Role, registry
from fsdir.db.schema import (
    domain_params,
    domain_variables,
    domains,
    gateway_params,
    gateway_variables,
    gateways,
    user_params,
    user_variables,
    users,
)
from fsdir.directory import queries
from fsdir.directory.changes import ChangeNotice
from fsdir.directory.views import entry_view

DIRECTIONS = ("", "inbound", "outbound")


@dataclass(frozen=True)
class Owner:
    table: Table
    details_key: str
    topic: str
    # Adds what a change to this owner's entries means for caches and FreeSWITCH.
    note: Callable[[AsyncConnection, ChangeNotice, int], Awaitable[None]]
    # Extra keys of the details object (a user's cache and cidr).
    extra: Callable[[AsyncConnection, int], Awaitable[dict[str, Any]]]


async def _note_domain(conn: AsyncConnection, changes: ChangeNotice, domain_id: int) -> None:
    row = await queries.domain_row(conn, domain_id)
    if row is not None:
        await queries.note_domain_change(conn, changes, domain_id, row.name)


async def _note_user(conn: AsyncConnection, changes: ChangeNotice, user_id: int) -> None:
    row = await queries.user_row(conn, user_id)
    if row is not None:
        changes.domains.add(row.domain_name)
        changes.users.add((row.name, row.domain_name))


async def _note_gateway(conn: AsyncConnection, changes: ChangeNotice, gateway_id: int) -> None:
    query = (
        select(gateways.c.name, domains.c.name.label("domain_name"))
        .join(users, users.c.id == gateways.c.user_id)
        .join(domains, domains.c.id == users.c.domain_id)
        .where(gateways.c.id == gateway_id)
    )
    row = (await conn.execute(query)).first()
    if row is not None:
        changes.domains.add(row.domain_name)
        changes.gateways.add(row.name)


async def _no_extra(conn: AsyncConnection, owner_id: int) -> dict[str, Any]:
    return {}


async def _user_extra(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(users.c.cache, users.c.cidr).where(users.c.id == user_id))).one()
    return {"cache": row.cache, "cidr": row.cidr}


DOMAIN = Owner(domains, "domain_details", "[Domains][Get] Domain_details", _note_domain, _no_extra)
USER = Owner(users, "user_details", "[Users] Get_user_details", _note_user, _user_extra)
GATEWAY = Owner(gateways, "gateway_details", "[Gateways] Get_user_gateways_details", _note_gateway, _no_extra)


@dataclass(frozen=True)
class Kind:
    owner: Owner
    table: Table
    owner_column: str
    section: str  # key in the details object: "parameters" or "variables"
    thing: str  # for "<thing> name already exists"

    def owner_id(self, row: Row[Any]) -> int:
        return int(row._mapping[self.owner_column])


DOMAIN_PARAM = Kind(DOMAIN, domain_params, "domain_id", "parameters", "param")
DOMAIN_VAR = Kind(DOMAIN, domain_variables, "domain_id", "variables", "variable")
USER_PARAM = Kind(USER, user_params, "user_id", "parameters", "param")
USER_VAR = Kind(USER, user_variables, "user_id", "variables", "variable")
GATEWAY_PARAM = Kind(GATEWAY, gateway_params, "gateway_id", "parameters", "param")
GATEWAY_VAR = Kind(GATEWAY, gateway_variables, "gateway_id", "variables", "variable")


class Op(Enum):
    ADD = "add"
    UPDATE = "update"
    SWITCH = "switch"
    DELETE = "delete"


class Reply(Enum):
    DETAILS = "details"  # {details_key: {owner id: {section: {entry id: entry}, ...extra}}}
    ITEM = "item"  # {"item": entry}
    ID = "id"  # {"id": entry id}


# --- request forms -------------------------------------------------------------------------------

NAME = Field(default="", max_length=255)


class FlatData(Data):
    """``{id, index?, name?, value?, enabled?}``: id is the owner's for add, the entry's otherwise."""

    id: int = ID_FIELD
    name: str = NAME
    value: str = ""
    enabled: bool | None = None


class VariableData(Data):
    id: int = ID_FIELD
    name: str = NAME
    value: str = ""
    enabled: bool | None = None
    direction: str = ""


class NestedData(Data):
    """Gateway variables: ``{id?: gateway id, variable: {id?, enabled, name, value, direction}}``."""

    id: int = ID_FIELD
    variable: VariableData = Field(default_factory=VariableData)


@dataclass(frozen=True)
class Request:
    target: int  # owner id for ADD, entry id otherwise
    name: str
    value: str
    enabled: bool | None
    direction: str | None


def _flat(data: FlatData) -> Request:
    return Request(data.id, data.name.strip(), data.value, data.enabled, None)


def _nested(data: NestedData, op: Op) -> Request:
    var = data.variable
    target = data.id if op is Op.ADD else var.id
    return Request(target, var.name.strip(), var.value, var.enabled, var.direction)


@dataclass(frozen=True)
class Texts:
    wrong_id: str = "wrong id"
    empty: str = "empty data"
    not_found: str = "not found"
    # A switch without "enabled".
    no_value: str = "can't change"


@dataclass(frozen=True)
class EntryEvent:
    name: str
    kind: Kind
    op: Op
    texts: Texts
    reply: Reply
    nested: bool = False


E = EntryEvent
T = Texts
D, ITEM, X = Reply.DETAILS, Reply.ITEM, Reply.ID

ENTRY_EVENTS: tuple[EntryEvent, ...] = (
    E("[Domains] New_domain_param", DOMAIN_PARAM, Op.ADD, T(not_found="param not found"), D),
    E("[Domains] Update_domain_param", DOMAIN_PARAM, Op.UPDATE, T(not_found="param not found"), D),
    E("[Domains][Switch] Domain parameter", DOMAIN_PARAM, Op.SWITCH, T(not_found="parameter not found"), D),
    E("[Domains] Del_domain_param", DOMAIN_PARAM, Op.DELETE, T(not_found="can't delete"), X),
    E("[Domains] New_domain_var", DOMAIN_VAR, Op.ADD, T(not_found="domain not found"), D),
    E("[Domains] Update_domain_var", DOMAIN_VAR, Op.UPDATE, T(not_found="variable not found"), D),
    E(
        "[Domains][Switch] Domain variable",
        DOMAIN_VAR,
        Op.SWITCH,
        T(not_found="variable not found", no_value="empty data"),
        D,
    ),
    E("[Domains] Del_domain_var", DOMAIN_VAR, Op.DELETE, T(not_found="can't delete"), X),
    E("[Users] Add_user_param", USER_PARAM, Op.ADD, T(not_found="user not found"), D),
    E("[Users] Update_user_param", USER_PARAM, Op.UPDATE, T(not_found="parameter not found"), D),
    E("[Users][Switch] User parameter", USER_PARAM, Op.SWITCH, T(not_found="parameter not found"), D),
    E("[Users] Del_user_param", USER_PARAM, Op.DELETE, T(not_found="parameter not found"), X),
    E("[Users] Add_user_var", USER_VAR, Op.ADD, T(not_found="user not found"), D),
    # The original document lists "parameter not found" for this variable event; kept verbatim.
    E("[Users] Update_user_var", USER_VAR, Op.UPDATE, T(not_found="parameter not found"), D),
    E("[Users][Switch] User variable", USER_VAR, Op.SWITCH, T(not_found="variable not found"), D),
    E("[Users] Del_user_var", USER_VAR, Op.DELETE, T(not_found="variable not found"), X),
    E("[Gateways] Add_user_gateway_param", GATEWAY_PARAM, Op.ADD, T(not_found="gateway not found"), ITEM),
    E("[Gateways] Update_user_gateway_param", GATEWAY_PARAM, Op.UPDATE, T(not_found="param not found"), D),
    E("[Gateways][Switch] Param", GATEWAY_PARAM, Op.SWITCH, T(not_found="parameter not found"), D),
    E("[Gateways] Del_user_gateway_param", GATEWAY_PARAM, Op.DELETE, T(not_found="param not found"), X),
    E("[Gateways] Add_user_gateway_var", GATEWAY_VAR, Op.ADD, T(not_found="gateway not found"), D, True),
    E(
        "[Gateways] Update_user_gateway_var",
        GATEWAY_VAR,
        Op.UPDATE,
        T(not_found="variable not found"),
        D,
        True,
    ),
    E(
        "[Gateways] Switch_user_gateway_var",
        GATEWAY_VAR,
        Op.SWITCH,
        T(not_found="variable not found"),
        D,
        True,
    ),
    E("[Gateways] Del_user_gateway_var", GATEWAY_VAR, Op.DELETE, T(not_found="variable not found"), D, True),
)


# --- the four operations -------------------------------------------------------------------------


async def _one(conn: AsyncConnection, statement: Any) -> Row[Any]:
    row: Row[Any] = (await conn.execute(statement)).one()
    return row


async def _entry(conn: AsyncConnection, kind: Kind, entry_id: int) -> Row[Any] | None:
    return (await conn.execute(select(kind.table).where(kind.table.c.id == entry_id))).first()


async def _name_taken(conn: AsyncConnection, kind: Kind, owner_id: int, name: str, except_id: int = 0) -> bool:
    table = kind.table
    query = select(table.c.id).where(
        table.c[kind.owner_column] == owner_id,
        func.lower(table.c.name) == name.lower(),
        table.c.id != except_id,
    )
    return (await conn.execute(query)).first() is not None


def _check_direction(kind: Kind, request: Request) -> None:
    if kind is GATEWAY_VAR and request.direction is not None and request.direction not in DIRECTIONS:
        raise ApiError("wrong data")


async def _add(conn: AsyncConnection, event: EntryEvent, request: Request) -> Row[Any]:
    kind = event.kind
    if not request.target:
        raise ApiError(event.texts.wrong_id)
    if not request.name:
        raise ApiError(event.texts.empty)
    _check_direction(kind, request)
    owner = kind.owner.table
    if (await conn.execute(select(owner.c.id).where(owner.c.id == request.target))).first() is None:
        raise ApiError(event.texts.not_found)
    if await _name_taken(conn, kind, request.target, request.name):
        raise ApiError(f"{kind.thing} name already exists")
    values: dict[str, Any] = {
        kind.owner_column: request.target,
        "name": request.name,
        "value": request.value,
        "enabled": True if request.enabled is None else request.enabled,
    }
    if kind is GATEWAY_VAR:
        values["direction"] = request.direction or ""
    try:
        return await _one(conn, insert(kind.table).values(**values).returning(kind.table))
    except IntegrityError:
        raise ApiError(f"{kind.thing} name already exists") from None


async def _update(conn: AsyncConnection, event: EntryEvent, request: Request) -> Row[Any]:
    kind = event.kind
    if not request.target:
        raise ApiError(event.texts.wrong_id)
    if not request.name:
        raise ApiError(event.texts.empty)
    _check_direction(kind, request)
    current = await _entry(conn, kind, request.target)
    if current is None:
        raise ApiError(event.texts.not_found)
    if await _name_taken(conn, kind, kind.owner_id(current), request.name, except_id=current.id):
        raise ApiError(f"{kind.thing} name already exists")
    values: dict[str, Any] = {"name": request.name, "value": request.value}
    if request.direction is not None and kind is GATEWAY_VAR:
        values["direction"] = request.direction
    if request.enabled is not None and event.nested:
        values["enabled"] = request.enabled
    try:
        statement = update(kind.table).where(kind.table.c.id == current.id).values(**values)
        return await _one(conn, statement.returning(kind.table))
    except IntegrityError:
        raise ApiError(f"{kind.thing} name already exists") from None


async def _switch(conn: AsyncConnection, event: EntryEvent, request: Request) -> Row[Any]:
    kind = event.kind
    if not request.target:
        raise ApiError(event.texts.wrong_id)
    current = await _entry(conn, kind, request.target)
    if current is None:
        raise ApiError(event.texts.not_found)
    if request.enabled is None:
        raise ApiError(event.texts.no_value)
    statement = update(kind.table).where(kind.table.c.id == current.id).values(enabled=request.enabled)
    return await _one(conn, statement.returning(kind.table))


async def _delete(conn: AsyncConnection, event: EntryEvent, request: Request) -> Row[Any]:
    kind = event.kind
    if not request.target:
        raise ApiError(event.texts.wrong_id)
    current = await _entry(conn, kind, request.target)
    if current is None:
        raise ApiError(event.texts.not_found)
    await conn.execute(delete(kind.table).where(kind.table.c.id == current.id))
    return current


_OPERATIONS = {Op.ADD: _add, Op.UPDATE: _update, Op.SWITCH: _switch, Op.DELETE: _delete}


def _handler(event: EntryEvent) -> Callable[[EventContext, Any], Awaitable[dict[str, Any]]]:
    kind = event.kind

    async def handle(ctx: EventContext, data: Any) -> dict[str, Any]:
        request = _nested(data, event.op) if event.nested else _flat(data)
        row = await _OPERATIONS[event.op](ctx.conn, event, request)
        owner_id = kind.owner_id(row)
        await kind.owner.note(ctx.conn, ctx.changes, owner_id)
        if event.reply is Reply.ID:
            return {"id": row.id}
        if event.reply is Reply.ITEM:
            return {"item": entry_view(row)}
        details = {kind.section: {str(row.id): entry_view(row)}}
        details.update(await kind.owner.extra(ctx.conn, owner_id))
        return {kind.owner.details_key: {str(owner_id): details}}

    return handle


def register() -> None:
    for event in ENTRY_EVENTS:
        registry.add(
            EventSpec(
                name=event.name,
                handler=_handler(event),
                model=NestedData if event.nested else FlatData,
                role=Role.operator,
                writes=True,
                topic=event.kind.owner.topic,
            )
        )


register()
