"""The security headers of every answer, in one place (issue 19, finding 10).

- Content-Security-Policy: the pages load their stylesheet and one script (print.js) from
  /static and nothing inline; so nothing but this site's own files may load, no page may be
  framed (clickjacking), and forms post only here. The interactive API documentation
  (/docs, /redoc: FastAPI's Swagger UI and ReDoc, which load from a CDN and start with an
  inline script) gets a policy of its own that lets exactly that through; those pages show
  the OpenAPI document, never anyone's data.
- X-Frame-Options, X-Content-Type-Options, Referrer-Policy: the same intentions for older
  browsers, no MIME sniffing, and no page address (child ids) sent to another site.
- Cache-Control: no-store on every answer except the static files: pages, API answers and
  exports carry children's data, which must stay in no browser or proxy cache.

A plain ASGI middleware (not BaseHTTPMiddleware): it only adds headers to the start of the
answer, so a streamed body passes through untouched.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDN}; "
            f"style-src 'self' 'unsafe-inline' {CDN} https://fonts.googleapis.com; "
            "font-src 'self' https://fonts.gstatic.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
STATIC_PREFIX = "/static/"
STATIC_CACHE = "public, max-age=3600"  # the stylesheet: nobody's data

COMMON = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
          (b"referrer-policy", b"no-referrer")]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The headers an answer on this path carries, whatever its status."""
    policy = DOCS_CSP if path in DOCS_PATHS else CSP
    cache = STATIC_CACHE if path.startswith(STATIC_PREFIX) else "no-store"
    return [(b"content-security-policy", policy.encode()), *COMMON,
            (b"cache-control", cache.encode())]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP answer, replacing any the route set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = headers_for(scope["path"])
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + added
            await send(message)

        await self.app(scope, receive, send_with_headers)
