"""Live pushes: which WebSocket subscribes to which topic, and fan-out that never blocks."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol


class Subscriber(Protocol):
    def offer(self, frame: dict[str, Any]) -> None:
        """Queue a frame without waiting; a subscriber that can't keep up disconnects itself."""


class Hub:
    def __init__(self) -> None:
        self._topics: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            self._topics[topic].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            self._topics[topic].discard(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        for members in self._topics.values():
            members.discard(subscriber)

    def topics_of(self, subscriber: Subscriber) -> list[str]:
        return sorted(topic for topic, members in self._topics.items() if subscriber in members)

    def publish(self, topics: list[str], frame: dict[str, Any], exclude: object = None) -> None:
        receivers: set[Subscriber] = set()
        for topic in topics:
            receivers |= self._topics.get(topic, set())
        for subscriber in receivers:
            if subscriber is not exclude:
                subscriber.offer(frame)
