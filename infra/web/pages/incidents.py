"""One incident's page (突发事件): whom to call, the calls made, escalations, the resolution.

Every form goes through the same incident handlers as the API routes under /incidents
(services/incident_handlers), so permission, jurisdiction and the "resolved takes no further
step" rule are theirs; the page only shows a refusal beside the form it came from.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.child import Child
from domain.errors import DomainError, NotFound
from domain.incident import MANDATORY_REPORT, REPORT_WITHIN_HOURS, Incident, is_overdue
from domain.values import utcnow
from infra.services import Services
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import (FormFields, PageActor, PageError, caught_up, lang_of,
                                     problems_of, render, see_other, status_of)
from infra.web.reach import record_shown
from services import incident_handlers as ih
from services.commands import Command
from services.jurisdiction import require_reach
from services.permissions import require

router = APIRouter(prefix="/ui")
ESCALATE_TO = ("police", "township", "school", "hospital", "civil_affairs")


def _incident(s: Services, incident_id: UUID, actor: Any) -> tuple[Incident, list[Any]]:
    """The incident's events, read from the store: the page shows every step at once."""
    events = list(s.app.events.get(incident_id))
    if not events or not isinstance(events[0], Incident.Reported):
        raise PageError(404, "not_found")
    child = s.app.load(UUID(events[0].child_id), Child, "child")
    try:
        require_reach(actor, child.place)
    except DomainError:
        raise PageError(404, "not_found") from None  # as the file: not known to exist
    return s.app.repository.get(incident_id), events


def police_deadline(reported: Any, escalations: list[Any]) -> dict[str, Any] | None:
    """For a mandatory report (强制报告): when police must be told, whether and when they were,
    and whether the report is overdue (domain.incident.is_overdue, as GET /incidents)."""
    if reported.category not in MANDATORY_REPORT:
        return None
    police = next((e.recorded_at for e in escalations if e.to == "police"), None)
    return {"hours": REPORT_WITHIN_HOURS, "police_at": police,
            "overdue": is_overdue(reported.category, reported.recorded_at, police, utcnow())}


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(request: Request, incident_id: UUID, s: ServicesDep,
             actor: PageActor) -> HTMLResponse:
    return _incident_page(request, s, actor, incident_id)


def _incident_page(request: Request, s: Services, actor: Any, incident_id: UUID,
                   problems: dict[str, str] | None = None, form_name: str = "",
                   values: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """The page; after a refused form, that form open with its values and what was wrong."""
    require(actor, "incident.report")
    found, events = _incident(s, incident_id, actor)
    with s.db.reading() as cur:
        chains = s.views["contact_chain"].chains(cur, [found.child_id], found.category,
                                                 utcnow())
    if found.child_id not in chains:
        raise PageError(404, "not_found")
    # The child's name, family phones and the incident: a read of the file, logged as one.
    record_shown(s, actor, request, [found.child_id], ("name", "contact_chain", "incident"))
    attempts = [e for e in events if isinstance(e, Incident.ContactAttempted)]
    escalations = [e for e in events if isinstance(e, Incident.Escalated)]
    resolution = next((e for e in events if isinstance(e, Incident.Resolved)), None)
    return render(request, "incident.html", status=status, incident=found,
                  reported=events[0], file=chains[found.child_id]["file"],
                  chain=chains[found.child_id]["chain"], attempts=attempts,
                  tried={(a.contact_role, a.phone): a.reached for a in attempts},
                  escalations=escalations, resolution=resolution,
                  police=police_deadline(events[0], escalations), escalate_to=ESCALATE_TO,
                  problems=problems or {}, form_name=form_name, values=values or {})


def _step(request: Request, s: Services, actor: Any, incident_id: UUID, form: dict[str, Any],
          name: str, model: type[Command],
          handle: Callable[[ih.IncidentHandlers, Any], Any]) -> Response:
    """Validate the form as the API's command, apply it through the handler, show the page."""
    try:
        result = handle(ih.IncidentHandlers(s.app), model.model_validate(form))
    except NotFound:
        raise PageError(404, "not_found") from None
    except (ValidationError, DomainError) as error:
        return _incident_page(request, s, actor, incident_id,
                              problems_of(error, lang_of(request)), name, form,
                              status_of(error))
    caught_up(s, result.position)  # the child's timeline and the lists, a link away
    return see_other(f"/ui/incidents/{incident_id}#{name}")


@router.post("/incidents/{incident_id}/contact-attempts", response_class=HTMLResponse)
def attempt(request: Request, incident_id: UUID, s: ServicesDep, actor: PageActor,
            form: FormFields) -> Response:
    body = {k: form.get(k) or None for k in ("contact_role", "name", "phone", "channel")}
    body = {k: v for k, v in body.items() if v is not None}
    body.update(reached=form.get("reached") == "true", note=form.get("note") or "")
    return _step(request, s, actor, incident_id, body, "attempts", ih.RecordContactAttempt,
                 lambda h, cmd: h.attempt_contact(incident_id, cmd, actor, None))


@router.post("/incidents/{incident_id}/escalations", response_class=HTMLResponse)
def escalate(request: Request, incident_id: UUID, s: ServicesDep, actor: PageActor,
             form: FormFields) -> Response:
    body = {"to": form.get("to") or None, "note": form.get("note") or ""}
    return _step(request, s, actor, incident_id, body, "escalations", ih.Escalate,
                 lambda h, cmd: h.escalate(incident_id, cmd, actor, None))


@router.post("/incidents/{incident_id}/resolution", response_class=HTMLResponse)
def resolve(request: Request, incident_id: UUID, s: ServicesDep, actor: PageActor,
            form: FormFields) -> Response:
    body = {"outcome": form.get("outcome") or "", "note": form.get("note") or ""}
    return _step(request, s, actor, incident_id, body, "resolution", ih.Resolve,
                 lambda h, cmd: h.resolve(incident_id, cmd, actor, None))
