"""The ``fsdir`` command: serve, migrate, admin, import, export."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from fsdir.api.auth import create_api_user, issue_token, now
from fsdir.api.registry import Role
from fsdir.bootstrap import open_database
from fsdir.config import Settings, SettingsError, load_settings
from fsdir.db.engine import WRITE
from fsdir.db.schema import api_users

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The FreeSWITCH directory server.")
admin = typer.Typer(no_args_is_help=True, help="Manage API users and tokens.")
app.add_typer(admin, name="admin")

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"fsdir: bad setting: {exc}", err=True)
        raise typer.Exit(2) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def run_with_database(settings: Settings, job: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = await open_database(settings)
        try:
            return await job(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@app.command()
def serve() -> None:
    """Run the server (API, WebSocket, mod_xml_curl endpoint)."""
    import uvicorn

    from fsdir.app import create_app

    settings = settings_or_exit()
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        ws_max_size=settings.max_body_bytes,
        # Access lines would carry mod_xml_curl query strings (sip_auth_* fields): never log them.
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = settings_or_exit()

    async def job(engine: AsyncEngine) -> None:
        return None

    run_with_database(settings, job)
    typer.echo("database is up to date")


def _read_password(password_stdin: bool) -> str:
    if password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@admin.command("create")
def admin_create(
    login: Annotated[str, typer.Option(help="Login of the new API user.")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "admin",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create an API user (asks for the password, or reads it from standard input)."""
    settings = settings_or_exit()
    if role not in Role.__members__:
        typer.echo("fsdir: --role must be admin, operator or viewer", err=True)
        raise typer.Exit(2)
    password = _read_password(password_stdin)

    async def job(engine: AsyncEngine) -> int:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                return await create_api_user(conn, login, password, Role[role])

    try:
        user_id = run_with_database(settings, job)
    except ValueError as exc:
        typer.echo(f"fsdir: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {role} {login!r} (id {user_id})")


@admin.command("token")
def admin_token(
    login: Annotated[str, typer.Option(help="The API user the token acts as.")] = "admin",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days until the token expires.")] = 365,
) -> None:
    """Print a new API token for a user (valid for --days, revocable with logout)."""
    settings = settings_or_exit()

    async def job(engine: AsyncEngine) -> str | None:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                user_id = (
                    await conn.execute(
                        select(api_users.c.id).where(func.lower(api_users.c.login) == login.lower())
                    )
                ).scalar()
                if user_id is None:
                    return None
                return await issue_token(conn, int(user_id), "api", now() + timedelta(days=days))

    token = run_with_database(settings, job)
    if token is None:
        typer.echo(f"fsdir: no API user {login!r}", err=True)
        raise typer.Exit(1)
    typer.echo(token)


def main() -> None:
    app()
