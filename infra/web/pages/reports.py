"""Figure pages: the year's assessment (考核) and the grants audit, each with its export.

Each calls the API's own endpoint function, so the figures, the permission and the xlsx are
those of GET /assessments/{year} and GET /audit/grants[...].
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from domain.values import utcnow
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import CST, PageActor, render
from infra.web.routers import assessments, grants

router = APIRouter(prefix="/ui")
Year = Annotated[int, Query(ge=2000, le=2100)]


def this_school_year() -> int:
    """A school year starts in September: until August it is last year's."""
    today = utcnow().astimezone(CST)
    return today.year if today.month >= 9 else today.year - 1


@router.get("/assessments", response_class=HTMLResponse)
def assessment_page(request: Request, s: ServicesDep, actor: PageActor,
                    year: Year | None = None) -> HTMLResponse:
    year = year or this_school_year()
    found = assessments.assessment_year(year, s, actor)
    with s.db.reading() as cur:
        names = assessments.view(s).child_names(cur)
    return render(request, "assessments.html", year=year, found=found, names=names)


@router.get("/assessments/{school_year}/export.xlsx")
def assessment_export(school_year: assessments.Year, s: ServicesDep, actor: PageActor) -> Response:
    return assessments.export(school_year, s, actor)


@router.get("/audit/grants", response_class=HTMLResponse)
def grants_page(request: Request, s: ServicesDep, actor: PageActor) -> HTMLResponse:
    totals = grants.grant_totals(s, actor)["items"]
    anomalies = grants.grant_anomalies(s, actor)["items"]
    return render(request, "grants.html", totals=totals, anomalies=anomalies)


@router.get("/audit/grants/export.xlsx")
def grants_export(s: ServicesDep, actor: PageActor) -> Response:
    return grants.grants_export(s, actor)
