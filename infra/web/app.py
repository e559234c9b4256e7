"""The FastAPI app: create_app(settings), a lifespan that runs the views, one log line a request."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from infra.logging import configure_logging
from infra.services import build_services
from infra.settings import Settings
from infra.web import edge, errors, openapi
from infra.web.problems import RESPONSES
from infra.web.authorize import authorize_api
from infra.web.limits import LoadLimits
from infra.web.request_log import RequestLog
from infra.web.security_headers import SecurityHeaders
from infra.web.routers import (access, assessments, children, emergency, grants, health,
                               helpers, users)
from infra.web.routers import reviews
from infra.web.routers import dashboards, duplicates
from infra.web import pages  # the server-rendered pages under /ui (issue 9)

# Every router of the API; a new resource adds its router here.
ROUTERS = [users.router, children.router, helpers.router, health.router, emergency.router,
           grants.router, assessments.router, access.router]
ROUTERS += [reviews.router]  # case review (issue 7)
# /children/duplicates must be matched before /children/{child_id}.
ROUTERS.insert(ROUTERS.index(children.router), duplicates.router)
ROUTERS += [dashboards.router]  # compliance (issue 7)


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
    edge.install(app)  # every text of every request checked first (infra/web/edge.py)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(authorize_api)], responses=RESPONSES)
    # The pages read their token from a cookie and pass the same gate in pages/session.py.
    pages.install(app)
    openapi.install(app)  # the document as the service answers (infra/web/openapi.py)
    # Added first so that it runs inside the request log, which then logs its 503s and 413s.
    app.add_middleware(LoadLimits, max_in_flight=settings.max_in_flight,
                       max_body=settings.max_body_bytes)
    app.add_middleware(RequestLog, max_body=settings.max_body_bytes)  # infra/web/request_log.py
    app.add_middleware(SecurityHeaders)  # outermost: on every answer (security_headers.py)
    return app
