"""The server-rendered pages caseworkers use, under /ui (issue 9).

Included by create_app beside the API routers but not behind the API's bearer gate: pages
read the token from a cookie and pass the same gate themselves (pages/session.page_actor).
"""

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from infra.web.pages import (auth, children, emergency, importing, incidents, reports,
                             session)

STATIC = Path(__file__).parent.parent / "static"

router = APIRouter(include_in_schema=False)
for part in (auth.router, emergency.router, incidents.router, importing.router,
             children.router, reports.router):
    router.include_router(part)


def install(app: Any) -> None:
    """Mount the pages, their static files and their error pages on the app."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    session.install(app)
