"""Figure pages: the year's assessment (考核), the grants audit and the compliance dashboard,
each with its export.

Each calls the API's own endpoint function, so the figures, the permission, the jurisdiction
and the xlsx are those of GET /assessments/{year}, GET /audit/grants[...] and
GET /dashboards/compliance[.xlsx].
"""

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from domain.errors import InvalidFact
from domain.values import utcnow
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import CST, PageActor, lang_of, problems_of, render
from infra.web.routers import assessments, dashboards, grants
from projections.compliance import FIGURES, LACKING

router = APIRouter(prefix="/ui")
Place = Annotated[str, Query(max_length=100)]
# As the API's Month: a bad value is named on the page rather than answered in JSON.
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def this_school_year() -> int:
    """A school year starts in September: until August it is last year's."""
    today = utcnow().astimezone(CST)
    return today.year if today.month >= 9 else today.year - 1


@router.get("/assessments", response_class=HTMLResponse)
def assessment_page(request: Request, s: ServicesDep, actor: PageActor,
                    year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> HTMLResponse:
    year = year or this_school_year()
    found = assessments.year_in_reach(s, actor, year)
    names = assessments.names_shown(s, actor, request, found)
    return render(request, "assessments.html", year=year, found=found, names=names)


@router.get("/assessments/{school_year}/export.xlsx")
def assessment_export(school_year: assessments.Year, request: Request, s: ServicesDep,
                      actor: PageActor) -> Response:
    return assessments.export(school_year, request, s, actor)


@router.get("/audit/grants", response_class=HTMLResponse)
def grants_page(request: Request, s: ServicesDep, actor: PageActor) -> HTMLResponse:
    totals = grants.grant_totals(s, actor)["items"]
    anomalies = grants.grant_anomalies(s, actor)["items"]
    return render(request, "grants.html", totals=totals, anomalies=anomalies)


@router.get("/audit/grants/export.xlsx")
def grants_export(s: ServicesDep, actor: PageActor) -> Response:
    return grants.grants_export(s, actor)


@router.get("/dashboards/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, s: ServicesDep, actor: PageActor,
                    month: Annotated[str, Query(max_length=20)] = "", township: Place = "",
                    village: Place = "", school: Place = "") -> HTMLResponse:
    places = {"township": township, "village": village, "school": school}
    if month and not MONTH.match(month):
        problems = problems_of(InvalidFact("month", "must be YYYY-MM"), lang_of(request))
        return render(request, "compliance.html", status=422, found=None, month=month,
                      places=places, problems=problems, figures=FIGURES, lacking=LACKING)
    found = dashboards.compliance(s, actor, request, township or None, village or None,
                                  school or None, month or None)
    return render(request, "compliance.html", found=found, month=found["month"],
                  places=places, problems={}, figures=FIGURES, lacking=LACKING,
                  export=urlencode({k: v for k, v in {**places, "month": found["month"]}.items()
                                    if v}))


@router.get("/dashboards/compliance.xlsx")
def compliance_export(request: Request, s: ServicesDep, actor: PageActor,
                      month: dashboards.Month = None, township: dashboards.Place = None,
                      village: dashboards.Place = None,
                      school: dashboards.Place = None) -> Response:
    return dashboards.compliance_export(request, s, actor, township, village, school, month)
