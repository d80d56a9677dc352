"""Start-up steps shared by the server and the CLI: engine, migrations, first administrator."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from fsdir.api.auth import count_api_users, create_api_user
from fsdir.api.registry import Role
from fsdir.config import Settings
from fsdir.db import migrate
from fsdir.db.engine import WRITE, create_engine

log = logging.getLogger("fsdir")


async def open_database(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    return engine


async def ensure_first_admin(engine: AsyncEngine, settings: Settings) -> None:
    """Create the administrator from FSDIR_ADMIN_PASSWORD when no API user exists yet."""
    if not settings.admin_password:
        return
    async with engine.connect() as conn:
        await conn.execution_options(**WRITE)
        async with conn.begin():
            if await count_api_users(conn):
                return
            await create_api_user(conn, settings.admin_login, settings.admin_password, Role.admin)
    log.info("created administrator %r", settings.admin_login)
