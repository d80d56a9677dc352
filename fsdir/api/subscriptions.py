"""``subscribe`` / ``unsubscribe`` (ext): live pushes on a WebSocket."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fsdir.api.errors import ApiError
from fsdir.api.hub import Subscriber
from fsdir.api.registry import Data, EventContext, registry


class TopicsData(Data):
    events: list[str] = Field(default_factory=list, max_length=100)


def _subscriber(ctx: EventContext, data: TopicsData) -> Subscriber:
    if ctx.origin is None:
        raise ApiError("websocket only")
    unknown = [name for name in data.events if registry.get(name) is None]
    if unknown:
        raise ApiError("invalid events")
    return ctx.origin  # type: ignore[return-value]


@registry.event("subscribe", TopicsData)
async def subscribe(ctx: EventContext, data: TopicsData) -> dict[str, Any]:
    subscriber = _subscriber(ctx, data)
    ctx.runtime.hub.subscribe(subscriber, data.events)
    return {"events": ctx.runtime.hub.topics_of(subscriber)}


@registry.event("unsubscribe", TopicsData)
async def unsubscribe(ctx: EventContext, data: TopicsData) -> dict[str, Any]:
    subscriber = _subscriber(ctx, data)
    ctx.runtime.hub.unsubscribe(subscriber, data.events)
    return {"events": ctx.runtime.hub.topics_of(subscriber)}
