"""Errors of the client library (kept apart so the CLI can catch them without loading HTTP code)."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """A request the server refused: `status` and the server's `message`."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body


class Unreachable(ClientError):
    """No server answered at the endpoint."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(0, f"can't reach a digpy server at {endpoint} ({reason})")
        self.endpoint = endpoint
