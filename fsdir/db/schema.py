"""The tables. Names are unique case-insensitively where FreeSWITCH compares them that way."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _enabled() -> Column[bool]:
    return Column("enabled", Boolean, nullable=False, default=True, server_default="1")


def _owner(column: str, target: str) -> Column[int]:
    return Column(column, Integer, ForeignKey(target, ondelete="CASCADE"), nullable=False)


domains = Table(
    "domains",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    _enabled(),
)
Index("uq_domains_name", func.lower(domains.c.name), unique=True)

users = Table(
    "users",
    metadata,
    _id(),
    _owner("domain_id", "domains.id"),
    Column("name", String(255), nullable=False),
    _enabled(),
    Column("cache", Integer, nullable=False, default=0, server_default="0"),
    Column("cidr", Text, nullable=False, default="", server_default=""),
    Column("number_alias", String(255), nullable=False, default="", server_default=""),
)
Index("uq_users_domain_name", users.c.domain_id, func.lower(users.c.name), unique=True)

groups = Table(
    "groups",
    metadata,
    _id(),
    _owner("domain_id", "domains.id"),
    Column("name", String(255), nullable=False),
)
Index("uq_groups_domain_name", groups.c.domain_id, func.lower(groups.c.name), unique=True)

group_members = Table(
    "group_members",
    metadata,
    _id(),
    _owner("group_id", "groups.id"),
    _owner("user_id", "users.id"),
    _enabled(),
)
Index("uq_group_members_group_user", group_members.c.group_id, group_members.c.user_id, unique=True)
Index("ix_group_members_user", group_members.c.user_id)

gateways = Table(
    "gateways",
    metadata,
    _id(),
    _owner("user_id", "users.id"),
    Column("name", String(255), nullable=False),
    _enabled(),
)
Index("uq_gateways_name", func.lower(gateways.c.name), unique=True)
Index("ix_gateways_user", gateways.c.user_id)


def _entry_table(name: str, owner_column: str, owner_target: str, *, direction: bool = False) -> Table:
    columns: list[Column[object]] = [
        _id(),  # type: ignore[list-item]
        _owner(owner_column, owner_target),  # type: ignore[list-item]
        Column("name", String(255), nullable=False),
        Column("value", Text, nullable=False, default="", server_default=""),
        _enabled(),  # type: ignore[list-item]
    ]
    if direction:
        columns.append(Column("direction", String(16), nullable=False, default="", server_default=""))
    table = Table(name, metadata, *columns)
    Index(f"uq_{name}_owner_name", table.c[owner_column], func.lower(table.c.name), unique=True)
    return table


domain_params = _entry_table("domain_params", "domain_id", "domains.id")
domain_variables = _entry_table("domain_variables", "domain_id", "domains.id")
user_params = _entry_table("user_params", "user_id", "users.id")
user_variables = _entry_table("user_variables", "user_id", "users.id")
gateway_params = _entry_table("gateway_params", "gateway_id", "gateways.id")
gateway_variables = _entry_table("gateway_variables", "gateway_id", "gateways.id", direction=True)

api_users = Table(
    "api_users",
    metadata,
    _id(),
    Column("login", String(255), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    _enabled(),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_api_users_login", func.lower(api_users.c.login), unique=True)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    _owner("api_user_id", "api_users.id"),
    Column("token_hash", String(64), nullable=False, unique=True),
    # "session" tokens (login) expire after inactivity; "api" tokens (CLI) at expires_at.
    Column("kind", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)
