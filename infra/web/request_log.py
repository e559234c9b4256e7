"""One log line per request (id, method, route, status, time), as plain ASGI middleware.

Never the body, never names. It was `@app.middleware("http")` (Starlette's
BaseHTTPMiddleware), which runs the rest of the app in a task of its own and passes the
response through memory streams: under 16 clients that machinery held more of the GIL than
the endpoints did (py-spy, bench/RESULTS.md "Commands over HTTP"). Plain ASGI does the same
work inline.
"""

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from prometheus_client import Histogram
from starlette.datastructures import MutableHeaders

from infra.web.limits import body_limit, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("http")
REQUEST_SECONDS = Histogram("qianshou_request_seconds", "Request latency", ["method", "status"])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RequestLog:
    """Binds the request id for every log line of the request; 413 on a declared big body."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started, status = time.perf_counter(), 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                # The server's own time to the answer, for browsers' devtools and the bench
                # (bench/reads.py), which tells it apart from the network and the client.
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
            await send(message)

        try:
            length = _header(scope, b"content-length")
            limit = body_limit(scope["path"], self.max_body)
            if length and length.isdigit() and int(length) > limit:
                await too_large(scope["path"], limit)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            log.info("request", method=scope["method"], route=getattr(route, "path", "?"),
                     status=status, ms=round(elapsed * 1000, 1))
            REQUEST_SECONDS.labels(scope["method"], status).observe(elapsed)
        finally:
            structlog.contextvars.clear_contextvars()
