"""The ``fsdir`` command: serve, migrate, admin, import, export."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from fsdir.api.auth import create_api_user, issue_token, now
from fsdir.api.errors import ApiError
from fsdir.api.registry import Role
from fsdir.bootstrap import open_database
from fsdir.config import Settings, SettingsError, load_settings
from fsdir.db.engine import WRITE
from fsdir.db.schema import api_users
from fsdir.directory.changes import ChangeNotice
from fsdir.directory.importer import import_domains
from fsdir.directory.loader import load_domains
from fsdir.directory.tree import Domain
from fsdir.freeswitch.parse import XmlImportError, load_config_tree, parse_domains
from fsdir.freeswitch.render import render_export

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The FreeSWITCH directory server.")
admin = typer.Typer(no_args_is_help=True, help="Manage API users and tokens.")
app.add_typer(admin, name="admin")

T = TypeVar("T")
CLI_IMPORT_MAX_BYTES = 2 * 1024**3


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
    # Database layers log statements (drivers with their parameters) below WARNING: passwords must
    # never reach a log, and one line per event is what operators read.
    for noisy in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
                    await conn.execute(select(api_users.c.id).where(func.lower(api_users.c.login) == login.lower()))
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


@app.command("import")
def import_directory(
    path: Annotated[Path, typer.Argument(help="A directory XML file, or a FreeSWITCH directory/ folder.")],
    vars_file: Annotated[
        Path | None, typer.Option("--vars", help="vars.xml whose X-PRE-PROCESS set lines define $${globals}.")
    ] = None,
    expand: Annotated[
        bool | None,
        typer.Option(
            "--expand/--keep-vars",
            help="Replace $${var} by its value, or keep the text for FreeSWITCH [default: expand with --vars].",
        ),
    ] = None,
    define: Annotated[
        list[str] | None, typer.Option("--set", help="name=value, a global FreeSWITCH computes (local_ip_v4...).")
    ] = None,
) -> None:
    """Import domains from directory XML, following X-PRE-PROCESS includes (all or nothing)."""
    settings = settings_or_exit()
    extra: dict[str, str] = {}
    for item in define or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"fsdir: --set expects name=value, got {item!r}", err=True)
            raise typer.Exit(2)
        extra[name] = value
    if not path.exists():
        typer.echo(f"fsdir: no such file or folder: {path}", err=True)
        raise typer.Exit(2)
    if expand is None:
        expand = vars_file is not None
    warnings: list[str] = []
    try:
        # A local file chosen by the operator: allow large directories (the API keeps its own cap).
        text = load_config_tree(
            path, vars_file, expand, extra_vars=extra, warnings=warnings, max_bytes=CLI_IMPORT_MAX_BYTES
        )
        trees = parse_domains(text, max_bytes=CLI_IMPORT_MAX_BYTES)
    except (XmlImportError, OSError) as exc:
        typer.echo(f"fsdir: can't import {path}: {exc}", err=True)
        raise typer.Exit(1) from None
    for warning in warnings:
        typer.echo(f"fsdir: warning: {warning}", err=True)
    total = len(trees)

    def progress(what: str, done: int) -> None:
        if done == total or done % 50 == 0:
            typer.echo(f"  {done}/{total} {what}", err=True)

    async def job(engine: AsyncEngine) -> dict[str, int]:
        async with engine.connect() as conn:
            await conn.execution_options(**WRITE)
            async with conn.begin():
                counts = await import_domains(
                    conn, trees, ChangeNotice(), progress, reserved_group=settings.all_users_group
                )
        return counts.as_dict()

    try:
        counts = run_with_database(settings, job)
    except ApiError as exc:
        typer.echo(f"fsdir: nothing imported: {exc.text}", err=True)
        raise typer.Exit(1) from None
    summary = ", ".join(f"{value} {name}" for name, value in counts.items())
    typer.echo(f"imported {summary}")


@app.command("export")
def export_directory(
    domain: Annotated[str | None, typer.Option(help="Export only this domain.")] = None,
    include_disabled: Annotated[bool, typer.Option(help='Also write disabled items (enabled="false").')] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Write the directory as FreeSWITCH directory XML (imports back unchanged)."""
    settings = settings_or_exit()

    async def job(engine: AsyncEngine) -> list[Domain]:
        async with engine.connect() as conn, conn.begin():
            return await load_domains(conn, names=[domain] if domain else None, include_disabled=include_disabled)

    trees = run_with_database(settings, job)
    if domain and not trees:
        typer.echo(f"fsdir: no domain {domain!r}", err=True)
        raise typer.Exit(1)
    text = render_export(trees, include_disabled=include_disabled, all_users_group=settings.all_users_group)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
