"""Load limits at the door: requests in flight, and the size of a body however it is sent.

A flood must degrade to quick 503s, never to a queue that grows until every client times
out (and retries, making it worse) nor to 500s. The body limit in app.py trusts the
Content-Length header; a chunked body has none, so the bytes are also counted here.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from infra.xlsx_guard import MAX_FILE_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Probes must answer during a flood: an orchestrator that sees /healthz time out restarts a
# service that is merely busy.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


# The one upload, a registry spreadsheet, may be as large as infra/xlsx_guard lets a file be
# (a styled 5,000-row workbook passes the JSON bodies' limit); the form around it is small.
UPLOAD_LIMITS = {"/ui/import": MAX_FILE_BYTES + 64 * 1024}
TOO_LARGE_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
    'content="width=device-width, initial-scale=1"><title>文件太大</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main><h1>文件太大</h1>'
    '<p>上传的内容超过了 {mb} MB，没有保存任何数据。请删去多余的行、或拆成几个文件后再上传。</p>'
    '<p><a href="{back}">返回</a></p></main></body></html>')


def body_limit(path: str, default: int) -> int:
    """The most bytes a request to this path may send."""
    return max(default, UPLOAD_LIMITS.get(path, 0))


def too_large(path: str, limit: int) -> Response:
    """413: a page in Chinese for the pages (a person chose the file), JSON for the API."""
    if path.startswith("/ui/"):
        back = path if path in UPLOAD_LIMITS else "/ui"
        return HTMLResponse(TOO_LARGE_PAGE.format(mb=max(1, limit // 2**20), back=back),
                            status_code=413)
    return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)


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
            limit = body_limit(scope["path"], self.max_body)
            try:
                body = await self._read_body(receive, limit)
            except _Disconnected:
                return  # never hand the app a body cut short: it could parse as a command
            if body is None:
                await too_large(scope["path"], limit)(scope, receive, send)
                return
            await self.app(scope, _replaying(body, receive), send)
        finally:
            self.in_flight -= 1

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
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
