"""Load limits at the door: requests in flight, and the size of a body however it is sent.

A flood must degrade to quick 503s, never to a queue that grows until every client times
out (and retries, making it worse) nor to 500s. The body limit in app.py trusts the
Content-Length header; a chunked body has none, so the bytes are also counted here.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Probes must answer during a flood: an orchestrator that sees /healthz time out restarts a
# service that is merely busy.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class _Disconnected(Exception):
    """The client went away before its body was complete."""


class LoadLimits:
    """ASGI middleware: 503 + Retry-After beyond max_in_flight; 413 beyond max_body bytes."""

    def __init__(self, app: ASGIApp, max_in_flight: int, max_body: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_body = max_body
        # One event loop serves every request of this process, so a plain counter is safe.
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = JSONResponse({"detail": "too many requests in flight; retry shortly"},
                                status_code=503, headers={"Retry-After": "1"})
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            try:
                body = await self._read_body(receive)
            except _Disconnected:
                return  # never hand the app a body cut short: it could parse as a command
            if body is None:
                too_large = JSONResponse({"detail": f"body larger than {self.max_body} bytes"},
                                         status_code=413)
                await too_large(scope, receive, send)
                return
            await self.app(scope, _replaying(body, receive), send)
        finally:
            self.in_flight -= 1

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
