"""Small queries shared by the directory's event handlers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError
from fsdir.db.schema import domains, gateways, users
from fsdir.directory.changes import ChangeNotice


async def domain_row(conn: AsyncConnection, domain_id: int) -> Row[Any] | None:
    return (await conn.execute(select(domains).where(domains.c.id == domain_id))).first()


async def domain_name_taken(conn: AsyncConnection, name: str, except_id: int = 0) -> bool:
    query = select(domains.c.id).where(func.lower(domains.c.name) == name.lower(), domains.c.id != except_id)
    return (await conn.execute(query)).first() is not None


async def user_row(conn: AsyncConnection, user_id: int) -> Row[Any] | None:
    """The user with its domain's name as ``domain_name``."""
    query = (
        select(users, domains.c.name.label("domain_name"))
        .join(domains, domains.c.id == users.c.domain_id)
        .where(users.c.id == user_id)
    )
    return (await conn.execute(query)).first()


async def user_name_taken(conn: AsyncConnection, domain_id: int, names: list[str], except_id: int = 0) -> str | None:
    """The first of ``names`` already used in the domain, if any."""
    lowered = [name.lower() for name in names]
    taken: set[str] = set()
    for start in range(0, len(lowered), 500):
        query = select(func.lower(users.c.name)).where(
            users.c.domain_id == domain_id,
            func.lower(users.c.name).in_(lowered[start : start + 500]),
            users.c.id != except_id,
        )
        taken |= set((await conn.execute(query)).scalars())
    return next((name for name in names if name.lower() in taken), None)


async def note_domain_change(conn: AsyncConnection, changes: ChangeNotice, domain_id: int, name: str) -> None:
    """A change that every user of the domain inherits: flush them all in FreeSWITCH."""
    changes.domains.add(name)
    user_names = (await conn.execute(select(users.c.name).where(users.c.domain_id == domain_id))).scalars()
    changes.users.update((user, name) for user in user_names)


async def note_domain_gateways(conn: AsyncConnection, changes: ChangeNotice, domain_id: int) -> None:
    query = select(gateways.c.name).join(users, users.c.id == gateways.c.user_id).where(users.c.domain_id == domain_id)
    changes.gateways.update((await conn.execute(query)).scalars())


def clean_name(name: str) -> str:
    return name.strip()


async def new_in_domain(conn: AsyncConnection, domain_id: int, raw_name: str) -> tuple[Row[Any], str]:
    """The checks, in the original's order, of an event that adds something named to a domain."""
    if not domain_id:
        raise ApiError("wrong id")
    name = clean_name(raw_name)
    if not name:
        raise ApiError("empty data")
    domain = await domain_row(conn, domain_id)
    if domain is None:
        raise ApiError("domain not found")
    return domain, name
