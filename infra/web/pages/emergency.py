"""Emergency pages: one search box → children and whom to call; break-glass; report.

Lookup reuses the API's own endpoint function (jurisdiction filter, access log, break-glass
and all); a report goes through the same incident handlers as POST /incidents, and then the
incident's own page (pages/incidents.py) takes over.
"""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.contact_chain import CATEGORIES
from domain.errors import DomainError
from domain.values import utcnow
from infra.services import Services
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import (CST, FormFields, PageActor, caught_up, lang_of,
                                     problems_of, render, see_other, status_of)
from infra.web.routers import emergency as api
from services import incident_handlers as ih
from services.jurisdiction import reach_clause
from services.permissions import PERMISSIONS

router = APIRouter(prefix="/ui")
SEVERITIES = ("low", "medium", "high", "critical")
# The open incidents listed under the search: enough for a township's week.
OPEN_INCIDENTS = 50


def now_local() -> str:
    """The value a datetime-local field starts with: now, in China Standard Time."""
    return utcnow().astimezone(CST).strftime("%Y-%m-%dT%H:%M")


def aware(value: Any) -> Any:
    """A datetime-local field has no offset: the caseworker means China Standard Time."""
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value  # pydantic names the field
        return (moment if moment.tzinfo else moment.replace(tzinfo=CST)).isoformat()
    return value


@router.get("/emergency", response_class=HTMLResponse)
def emergency(request: Request, s: ServicesDep, actor: PageActor, q: str = "",
              category: str = "") -> HTMLResponse:
    return _emergency_page(request, s, actor, q, category)


@router.post("/emergency/break-glass", response_class=HTMLResponse)
def break_glass(request: Request, s: ServicesDep, actor: PageActor,
                form: FormFields) -> HTMLResponse:
    """紧急查看: the same search outside one's jurisdiction, with a stated reason.

    A POST with the session's CSRF token, not a link: a flagged read is a deliberate act in
    the reader's name, and the reason stays out of URLs and browser history. The search
    itself is the API's, given the reason as its `break_glass` argument, so
    authorize.checked_reason checks it and the access log flags the read for review.
    """
    q, category = str(form.get("q") or ""), str(form.get("category") or "")
    reason = str(form.get("break_glass") or "")
    return _emergency_page(request, s, actor, q, category, glass_reason=reason)


def _emergency_page(request: Request, s: Services, actor: Any, q: str, category: str,
                    report: dict[str, Any] | None = None, status: int = 200,
                    glass_reason: str | None = None) -> HTMLResponse:
    """The search and its hits; `report` carries a refused report's values and problems;
    `glass_reason` marks a break-glass search (hits beyond the jurisdiction shown)."""
    hits, problems = [], {}
    if q.strip() or glass_reason is not None:
        try:
            hits = api.find_children(s, actor, q=q[:100], category=category or None,
                                     limit=10, purpose=None, break_glass=glass_reason,
                                     request=request)["items"]
        except DomainError as error:
            problems, status = problems_of(error, lang_of(request)), status_of(error)
    open_incidents = _open_incidents(s, actor)
    for hit in hits:
        hit["incidents"] = [i for i in open_incidents if i["child_id"] == hit["child_id"]]
    return render(request, "emergency.html", status=status, q=q, category=category,
                  hits=hits, problems=problems, categories=CATEGORIES, severities=SEVERITIES,
                  now=now_local(), report=report or {}, open_incidents=open_incidents,
                  glass=glass_reason is not None and not problems, glass_reason=glass_reason)


def _open_incidents(s: Services, actor: Any) -> list[dict[str, Any]]:
    """Open incidents in the reader's reach, newest first, overdue reports marked."""
    if actor.role not in PERMISSIONS["incident.read"]:
        return []
    with s.db.reading() as cur:
        return list(s.views["contact_chain"].incident_list(
            cur, "open", None, utcnow(), OPEN_INCIDENTS, reach_clause(actor,
                                                                      s.directory.pairings)))


@router.post("/incidents", response_class=HTMLResponse)
def report(request: Request, s: ServicesDep, actor: PageActor, form: FormFields) -> Response:
    body = {k: form[k] for k in ("child_id", "category", "severity", "location",
                                 "description") if form.get(k) is not None}
    body["occurred_at"] = aware(form.get("occurred_at"))
    try:
        cmd = ih.ReportIncident.model_validate(body)
        result = ih.IncidentHandlers(s.app).report(cmd, actor, None)
    except (ValidationError, DomainError) as error:
        report = {"values": form, "problems": problems_of(error, lang_of(request))}
        return _emergency_page(request, s, actor, str(form.get("q") or ""),
                               str(form.get("lookup_category") or ""), report,
                               status_of(error))
    caught_up(s, result.position)
    return see_other(f"/ui/incidents/{result.body['id']}")
