"""API users, their passwords (argon2id) and tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.api.errors import ApiError, Unauthorized
from fsdir.api.registry import Caller, Data, EventContext, Role, registry
from fsdir.db.schema import api_tokens, api_users

_hasher = PasswordHasher()
# Verifying against this keeps "unknown login" as slow as "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
# last_used_at is refreshed at most this often, so reads don't all become writes.
_TOUCH_INTERVAL = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def create_api_user(conn: AsyncConnection, login: str, password: str, role: Role) -> int:
    login = login.strip()
    if not login:
        raise ValueError("empty login")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    try:
        result = await conn.execute(
            insert(api_users).values(login=login, password_hash=_hasher.hash(password), role=role.name)
        )
    except IntegrityError:
        raise ValueError(f"login {login!r} already exists") from None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def count_api_users(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(api_users))).scalar_one())


async def issue_token(conn: AsyncConnection, api_user_id: int, kind: str, expires_at: datetime | None = None) -> str:
    token = secrets.token_hex(32)
    moment = now()
    await conn.execute(
        insert(api_tokens).values(
            api_user_id=api_user_id,
            token_hash=hash_token(token),
            kind=kind,
            created_at=moment,
            last_used_at=moment,
            expires_at=expires_at,
        )
    )
    return token


async def check_password(conn: AsyncConnection, login: str, password: str) -> Caller:
    row = (await conn.execute(select(api_users).where(func.lower(api_users.c.login) == login.strip().lower()))).first()
    try:
        if row is None:
            _hasher.verify(_DUMMY_HASH, password)
            raise ApiError("wrong login or password")
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise ApiError("wrong login or password") from None
    if not row.enabled:
        raise ApiError("wrong login or password")
    return Caller(id=row.id, login=row.login, role=Role[row.role])


async def resolve_token(conn: AsyncConnection, token: str, ttl: timedelta) -> tuple[Caller, bool]:
    """The caller a token belongs to, and whether its last use should be refreshed."""
    if not token or len(token) > 256:
        raise Unauthorized()
    row = (
        await conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.kind,
                api_tokens.c.last_used_at,
                api_tokens.c.expires_at,
                api_users.c.id.label("user_id"),
                api_users.c.login,
                api_users.c.role,
                api_users.c.enabled,
            )
            .join(api_users, api_users.c.id == api_tokens.c.api_user_id)
            .where(api_tokens.c.token_hash == hash_token(token))
        )
    ).first()
    if row is None or not row.enabled:
        raise Unauthorized()
    moment = now()
    if row.expires_at is not None and _aware(row.expires_at) <= moment:
        raise Unauthorized()
    last_used = _aware(row.last_used_at)
    if row.kind == "session" and last_used + ttl <= moment:
        raise Unauthorized()
    caller = Caller(id=row.user_id, login=row.login, role=Role[row.role])
    return caller, moment - last_used >= _TOUCH_INTERVAL


async def touch_token(conn: AsyncConnection, token: str) -> None:
    await conn.execute(
        update(api_tokens).where(api_tokens.c.token_hash == hash_token(token)).values(last_used_at=now())
    )


async def revoke_token(conn: AsyncConnection, token: str) -> bool:
    result = await conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == hash_token(token)))
    return bool(result.rowcount)


class LoginData(Data):
    login: str = ""
    password: str = ""


class LogoutData(Data):
    token: str = ""


@registry.event("login", LoginData, writes=True, needs_token=False)
async def login(ctx: EventContext, data: LoginData) -> dict[str, Any]:
    caller = await check_password(ctx.conn, data.login, data.password)
    token = await issue_token(ctx.conn, caller.id, "session")
    ctx.session_token = token
    return {"token": token, "user": {"id": caller.id, "login": caller.login, "role": caller.role.name}}


@registry.event("logout", LogoutData, writes=True)
async def logout(ctx: EventContext, data: LogoutData) -> dict[str, Any]:
    token = data.token or ctx.token
    await revoke_token(ctx.conn, token)
    ctx.session_ended = True
    return {}
