"""Errors an event handler may raise; the text is what the client reads."""

from __future__ import annotations


class ApiError(Exception):
    """A failed event: ``{"MessageType": <event>, "error": text}``, HTTP 200."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Unauthorized(ApiError):
    """Missing, unknown, expired or revoked token (HTTP 401)."""

    def __init__(self) -> None:
        super().__init__("unauthorized")


class Forbidden(ApiError):
    def __init__(self) -> None:
        super().__init__("forbidden")


class InvalidMessage(Exception):
    """The body or frame is not ``{"event": str, "data": {...}}`` (HTTP 400)."""
