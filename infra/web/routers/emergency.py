"""Emergencies over HTTP: docs/DOMAIN.md §4 (contact chain, incidents, lookup)."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from domain.actor import Actor
from domain.contact_chain import CATEGORIES
from domain.errors import InvalidFact, NotFound
from domain.values import utcnow
from infra.services import Services
from infra.web.authorize import BreakGlass, Purpose, checked_reason
from infra.web.read_answer import read_answer
from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.reach import record_shown
from infra.web.routers.children import answer
from services import incident_handlers as ih
from services.jurisdiction import place_of, reach_clause, reaches
from services.permissions import require

router = APIRouter(tags=["emergencies"])
Category = Annotated[str | None, Query(max_length=40)]
# The chain in a report's answer should include the report; it never waits long for it.
REPORT_WAIT_SECONDS = 1.0


def _view(s: Services) -> Any:
    return s.views["contact_chain"]


def _category(category: str | None) -> str | None:
    if category is not None and category not in CATEGORIES:
        raise InvalidFact("category", f"must be one of {', '.join(CATEGORIES)}")
    return category


@router.get("/children/{child_id}/contact-chain", dependencies=[CaughtUp])
def contact_chain(child_id: UUID, s: ServicesDep, actor: ActorDep,
                  category: Category = None, purpose: Purpose = None,
                  break_glass: BreakGlass = None) -> Response:
    """The chain; outside one's jurisdiction only with `break_glass` (infra/web/authorize)."""
    require(actor, "emergency.lookup")
    with s.db.reading() as cur:
        found = _view(s).chains(cur, [str(child_id)], _category(category), utcnow())
    if str(child_id) not in found:
        raise NotFound("child not found")
    return read_answer({"child_id": str(child_id), "category": category,
                        "chain": found[str(child_id)]["chain"]})


@router.get("/emergency/lookup", dependencies=[CaughtUp])
def lookup(request: Request, s: ServicesDep, actor: ActorDep,
           q: Annotated[str, Query(max_length=100)] = "",
           category: Category = None,
           limit: Annotated[int, Query(ge=1, le=50)] = 10,
           purpose: Purpose = None, break_glass: BreakGlass = None) -> Response:
    """A name (characters, pinyin, initials), phone or ID digits, school and class, village.

    Hits outside the caller's jurisdiction are left out, unless `break_glass` gives the
    reason: then every hit is shown and each read is flagged for review.
    """
    return read_answer(find_children(s, actor, q, category, limit, purpose, break_glass,
                                     request))


def find_children(s: Services, actor: Actor, q: str, category: str | None, limit: int,
                  purpose: str | None, break_glass: str | None,
                  request: Request) -> dict[str, Any]:
    """The lookup's hits with their chains; the emergency page uses it too (its reads are
    logged under the page's route)."""
    require(actor, "emergency.lookup")
    if len("".join(q.split())) < 2:
        raise InvalidFact("q", "give at least 2 characters: a name, pinyin, phone or ID "
                               "digits, school and class, or village")
    glass = checked_reason("break_glass", break_glass)
    category = _category(category)
    # The jurisdiction is applied by the search itself (the places its keys carry), so
    # the best hits the caller may see come back, however many others rank above them.
    within = None
    if not glass:
        clause, params = reach_clause(actor, s.directory.pairings, "k.child_id")
        within = None if clause == "1=1" else (clause, params)
    with s.db.reading() as cur:
        ids = _view(s).lookup(cur, q, limit, within)
        files = _view(s).files(cur, ids)
        near = {cid for cid, (file, _) in files.items() if reaches(actor, place_of(file))}
        ids = [cid for cid in ids if cid in near or (glass and cid in files)][:limit]
        found = _view(s).chains_of(cur, {cid: files[cid] for cid in ids}, category, utcnow())
    fields = ("name", "place", "contact_chain")
    what = f"{request.method} {request.scope['route'].path}"
    s.access.record(actor, [cid for cid in ids if cid in near], what, fields,
                    checked_reason("purpose", purpose))
    if glass:
        s.access.record(actor, [cid for cid in ids if cid not in near], what, fields, glass,
                        break_glass=True)
    items = [{"child_id": cid, "name": found[cid]["file"].get("name"),
              "school": found[cid]["file"].get("school"),
              "class_name": found[cid]["file"].get("class_name"),
              "village": found[cid]["file"].get("village"),
              "chain": found[cid]["chain"]} for cid in ids]
    return {"items": items}


@router.post("/incidents", status_code=201)
def report_incident(cmd: ih.ReportIncident, request: Request, s: ServicesDep,
                    actor: ActorDep, idem: IdemDep) -> JSONResponse:
    """Record the report, and answer with whom to call for that category."""
    result = ih.IncidentHandlers(s.app).report(cmd, actor, idem)
    s.runner.wait_for(result.position, REPORT_WAIT_SECONDS)
    with s.db.reading() as cur:
        found = _view(s).chains(cur, [str(cmd.child_id)], cmd.category, utcnow())
    chain = found.get(str(cmd.child_id), {}).get("chain", [])
    if chain:
        record_shown(s, actor, request, [str(cmd.child_id)], ("contact_chain",))
    body = {**result.as_json(), "category": cmd.category, "chain": chain}
    return JSONResponse(body, status_code=result.status_code)


@router.post("/incidents/{incident_id}/contact-attempts")
def attempt_contact(incident_id: UUID, cmd: ih.RecordContactAttempt, s: ServicesDep,
                    actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(ih.IncidentHandlers(s.app).attempt_contact(incident_id, cmd, actor, idem))


@router.post("/incidents/{incident_id}/escalations")
def escalate(incident_id: UUID, cmd: ih.Escalate, s: ServicesDep, actor: ActorDep,
             idem: IdemDep) -> JSONResponse:
    return answer(ih.IncidentHandlers(s.app).escalate(incident_id, cmd, actor, idem))


@router.post("/incidents/{incident_id}/resolution")
def resolve(incident_id: UUID, cmd: ih.Resolve, s: ServicesDep, actor: ActorDep,
            idem: IdemDep) -> JSONResponse:
    return answer(ih.IncidentHandlers(s.app).resolve(incident_id, cmd, actor, idem))


@router.get("/incidents", dependencies=[CaughtUp])
def incidents(request: Request, s: ServicesDep, actor: ActorDep,
              status: Literal["open", "resolved"] | None = None,
              overdue: bool | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Incidents in reach; each shows where it happened (personal: domain/personal.py), so
    each is a read of its child's data, in the access log."""
    require(actor, "incident.read")
    with s.db.reading() as cur:
        rows = _view(s).incident_list(cur, status, overdue, utcnow(), limit,
                                      reach_clause(actor, s.directory.pairings))
    record_shown(s, actor, request, [row["child_id"] for row in rows], ("incident",))
    return {"items": rows, "next_cursor": None}
