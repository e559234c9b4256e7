"""Emergency pages: one search box → children and whom to call; report; tick off the calls.

Lookup reuses the API's own endpoint function (jurisdiction filter, access log and all);
reports and contact attempts go through the same incident handlers as POST /incidents.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.child import Child
from domain.contact_chain import CATEGORIES
from domain.errors import DomainError, NotFound
from domain.incident import Incident
from domain.values import utcnow
from infra.services import Services
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import (CST, FormFields, PageActor, PageError, caught_up,
                                     lang_of, problems_of, render, see_other, status_of)
from infra.web.routers import emergency as api
from services import incident_handlers as ih
from services.jurisdiction import require_reach
from services.permissions import require

router = APIRouter(prefix="/ui")
SEVERITIES = ("low", "medium", "high", "critical")


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


def _emergency_page(request: Request, s: Services, actor: Any, q: str, category: str,
                    report: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """The search and its hits; `report` carries a refused report's values and problems."""
    hits, problems = [], {}
    if q.strip():
        try:
            hits = api.lookup(request, s, actor, q=q[:100], category=category or None,
                              limit=10, purpose=None, break_glass=None)["items"]
        except DomainError as error:
            problems, status = problems_of(error, lang_of(request)), 422
    return render(request, "emergency.html", status=status, q=q, category=category,
                  hits=hits, problems=problems, categories=CATEGORIES, severities=SEVERITIES,
                  now=now_local(), report=report or {})


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


def _incident(s: Services, incident_id: UUID, actor: Any) -> tuple[Incident, list[Any]]:
    """The incident's events, read from the store: the page shows every step at once."""
    events = list(s.app.events.get(incident_id))
    if not events or not isinstance(events[0], Incident.Reported):
        raise PageError(404, "not_found")
    child = s.app.load(UUID(events[0].child_id), Child, "child")
    try:
        require_reach(actor, child.place)
    except DomainError:
        raise PageError(404, "not_found") from None
    return s.app.repository.get(incident_id), events


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(request: Request, incident_id: UUID, s: ServicesDep,
             actor: PageActor) -> HTMLResponse:
    return _incident_page(request, s, actor, incident_id)


def _incident_page(request: Request, s: Services, actor: Any, incident_id: UUID,
                   problems: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    require(actor, "incident.report")
    found, events = _incident(s, incident_id, actor)
    with s.db.reading() as cur:
        chains = s.views["contact_chain"].chains(cur, [found.child_id], found.category,
                                                 utcnow())
    if found.child_id not in chains:
        raise PageError(404, "not_found")
    attempts = [e for e in events if isinstance(e, Incident.ContactAttempted)]
    tried = {(a.contact_role, a.phone): a.reached for a in attempts}
    return render(request, "incident.html", status=status, incident=found,
                  reported=events[0], file=chains[found.child_id]["file"],
                  chain=chains[found.child_id]["chain"], attempts=attempts, tried=tried,
                  problems=problems or {})


@router.post("/incidents/{incident_id}/contact-attempts", response_class=HTMLResponse)
def attempt(request: Request, incident_id: UUID, s: ServicesDep, actor: PageActor,
            form: FormFields) -> Response:
    body = {k: form.get(k) or None for k in ("contact_role", "name", "phone", "channel")}
    body = {k: v for k, v in body.items() if v is not None}
    body.update(reached=form.get("reached") == "true", note=form.get("note") or "")
    try:
        cmd = ih.RecordContactAttempt.model_validate(body)
        result = ih.IncidentHandlers(s.app).attempt_contact(incident_id, cmd, actor, None)
    except NotFound:
        raise PageError(404, "not_found") from None
    except (ValidationError, DomainError) as error:
        return _incident_page(request, s, actor, incident_id,
                              problems_of(error, lang_of(request)), status_of(error))
    caught_up(s, result.position)  # the child's timeline, one link away, shows the call
    return see_other(f"/ui/incidents/{incident_id}#attempts")
