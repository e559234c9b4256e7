"""The FastAPI app: create_app(settings), a lifespan that runs the views, one log line a request."""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Histogram

from infra.logging import configure_logging
from infra.services import build_services
from infra.settings import Settings
from infra.web import errors
from infra.web.problems import RESPONSES
from infra.web.authorize import authorize
from infra.web.limits import LoadLimits
from infra.web.routers import (access, assessments, children, emergency, grants, health,
                               helpers, users)
from infra.web.routers import reviews
from infra.web.routers import dashboards, duplicates
from infra.web import pages  # the server-rendered pages under /ui (issue 9)

log = structlog.get_logger("http")
# Every router of the API; a new resource adds its router here.
ROUTERS = [users.router, children.router, helpers.router, health.router, emergency.router,
           grants.router, assessments.router, access.router]
ROUTERS += [reviews.router]  # case review (issue 7)
# /children/duplicates must be matched before /children/{child_id}.
ROUTERS.insert(ROUTERS.index(children.router), duplicates.router)
ROUTERS += [dashboards.router]  # compliance (issue 7)
REQUEST_SECONDS = Histogram("qianshou_request_seconds", "Request latency", ["method", "status"])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_json, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        if settings.projections == "inline":
            services.runner.start()
        yield
        services.close()

    app = FastAPI(title="Qianshou 牵手", version="0.1.0", lifespan=lifespan)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(authorize)], responses=RESPONSES)
    # The pages read their token from a cookie and pass the same gate in pages/session.py.
    pages.install(app)
    # Added first so that it runs inside the request log, which then logs its 503s and 413s.
    app.add_middleware(LoadLimits, max_in_flight=settings.max_in_flight,
                       max_body=settings.max_body_bytes)
    app.middleware("http")(_request_log(settings.max_body_bytes))
    return app


def _request_log(max_body: int) -> Callable[..., Awaitable[Response]]:
    """One line per request: id, method, route, status, time. Never the body, never names."""

    async def middleware(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            response: Response = JSONResponse({"detail": f"body larger than {max_body} bytes"},
                                              status_code=413)
        else:
            response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        log.info("request", method=request.method, route=getattr(route, "path", "?"),
                 status=response.status_code, ms=round(elapsed * 1000, 1))
        REQUEST_SECONDS.labels(request.method, response.status_code).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        structlog.contextvars.clear_contextvars()
        return response

    return middleware
