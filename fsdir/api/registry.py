"""The event registry: event name → handler, request model, role and subscription topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from fsdir.directory.changes import ChangeNotice

if TYPE_CHECKING:
    from fsdir.runtime import Runtime


class Role(IntEnum):
    """Roles are ordered: a role may do what every lower role may."""

    viewer = 1
    operator = 2
    admin = 3


class Data(BaseModel):
    """Base of every request model: strict types, unknown keys ignored (``token``, ``index``...)."""

    model_config = ConfigDict(strict=True, extra="ignore", str_strip_whitespace=False)


# Ids are positive and must fit the database's integer; 0 (or absent) is the original's "wrong id".
Id = int
ID_FIELD = Field(default=0, ge=0, le=2**31 - 1)


class NoData(Data):
    pass


@dataclass(frozen=True)
class Caller:
    id: int
    login: str
    role: Role


@dataclass
class EventContext:
    conn: AsyncConnection
    runtime: Runtime
    caller: Caller | None
    # The token this request was authenticated with ("" for login).
    token: str = ""
    # The WebSocket client that sent the request (None over HTTP).
    origin: object = None
    changes: ChangeNotice = field(default_factory=ChangeNotice)
    # Set by login/logout so a WebSocket can remember or forget its session token.
    session_token: str | None = None
    session_ended: bool = False


ModelT = TypeVar("ModelT", bound=Data)
Handler = Callable[[EventContext, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class EventSpec:
    name: str
    handler: Handler
    model: type[Data]
    role: Role
    writes: bool
    # Subscribers of this topic receive the reply of a successful write made by someone else.
    topic: str | None
    needs_token: bool = True
    # The handler manages its own transaction (imports, live FreeSWITCH calls).
    own_transaction: bool = False


class Registry:
    def __init__(self) -> None:
        self._events: dict[str, EventSpec] = {}

    def add(self, spec: EventSpec) -> None:
        if spec.name in self._events:
            raise ValueError(f"event {spec.name!r} registered twice")
        self._events[spec.name] = spec

    def event(
        self,
        name: str,
        model: type[ModelT],
        *,
        role: Role = Role.viewer,
        writes: bool = False,
        topic: str | None = None,
        needs_token: bool = True,
        own_transaction: bool = False,
    ) -> Callable[
        [Callable[[EventContext, ModelT], Awaitable[dict[str, Any]]]],
        Callable[[EventContext, ModelT], Awaitable[dict[str, Any]]],
    ]:
        def register(
            handler: Callable[[EventContext, ModelT], Awaitable[dict[str, Any]]],
        ) -> Callable[[EventContext, ModelT], Awaitable[dict[str, Any]]]:
            self.add(
                EventSpec(
                    name=name,
                    handler=handler,
                    model=model,
                    role=role,
                    writes=writes,
                    topic=topic,
                    needs_token=needs_token,
                    own_transaction=own_transaction,
                )
            )
            return handler

        return register

    def get(self, name: str) -> EventSpec | None:
        return self._events.get(name)

    def names(self) -> list[str]:
        return sorted(self._events)


registry = Registry()
