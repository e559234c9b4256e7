"""The registry (台帐) and the child's file (一人一档), with its forms and printouts.

Reads call the API's endpoint functions, so the page shows exactly what the API discloses to
this reader (counselling notes, ID numbers); writes go through Handlers.change_child with the
same changes as the API routes, so the same permission and jurisdiction checks apply.
"""

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from domain.child import Child
from domain.errors import DomainError, NotFound
from domain.values import utcnow
from infra import spreadsheet
from infra.services import Services
from infra.web.dependencies import ServicesDep, position_query
from infra.web.pages.emergency import aware, now_local
from infra.web.pages.session import (CST, FormFields, PageActor, PageError, caught_up,
                                     lang_of, problems_of, render, see_other, status_of)
from infra.web.reach import file_in_reach, record_shown
from infra.web.routers import children as api
from infra.web.routers.assessments import XLSX
from services import commands as c
from services.permissions import NOTES_READERS, PERMISSIONS

router = APIRouter(prefix="/ui")
FILTERS = ("township", "village", "school", "class_name", "status")
PAGE_SIZE = 50
EXPORT_MAX = 20000
# 见到儿童本人: three answers; "" (not stated) is None, as on visits recorded before it was
# asked. Anything else is left for the command to refuse, naming the field.
SEEN: dict[str, bool | None] = {"true": True, "false": False, "": None}


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "")[:100] for k in (*FILTERS, "q")}


def _registry_page(s: Services, actor: Any, f: dict[str, str], after: int,
                   limit: int) -> list[dict[str, Any]]:
    return api.registry_page(s, actor, **{k: f[k] or None for k in FILTERS},
                             q=f["q"][:50] or None, limit=limit, cursor=after)["items"]


@router.get("/children", response_class=HTMLResponse)
def registry(request: Request, s: ServicesDep, actor: PageActor,
             cursor: Annotated[int, position_query()] = 0) -> HTMLResponse:
    f = _filters(request)
    rows = _registry_page(s, actor, f, cursor, PAGE_SIZE)
    record_shown(s, actor, request, [row["child_id"] for row in rows], api.LISTED)
    more = rows[-1]["position"] if len(rows) == PAGE_SIZE else None
    query = urlencode({k: v for k, v in f.items() if v})
    return render(request, "registry.html", rows=rows, f=f, next_cursor=more, query=query,
                  statuses=list(spreadsheet.STATUS))


@router.get("/children/export.xlsx")
def export(request: Request, s: ServicesDep, actor: PageActor) -> Response:
    f = _filters(request)
    rows = list(zip(range(EXPORT_MAX), spreadsheet.iter_all(
        lambda after: _registry_page(s, actor, f, after, 500))))
    record_shown(s, actor, request, [row["child_id"] for _, row in rows], api.LISTED)
    data = spreadsheet.registry_export(row for _, row in rows)
    name = f"registry-{utcnow().astimezone(CST):%Y%m%d}.xlsx"
    return Response(data, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _file(request: Request, s: Services, actor: Any, child_id: UUID,
          as_of: str | None) -> dict[str, Any]:
    """The API's archive answer; as_of is a date, meaning the end of that day in CST."""
    moment = None
    if as_of:
        try:
            moment = datetime.combine(date.fromisoformat(as_of), time.max, tzinfo=CST)
        except ValueError:
            raise PageError(422, "invalid", "as_of") from None
    try:
        return api.archive_file(child_id, s, actor, as_of=moment)
    except NotFound:
        raise PageError(404, "not_found") from None


@router.get("/children/{child_id}", response_class=HTMLResponse)
def child_file(request: Request, child_id: UUID, s: ServicesDep, actor: PageActor,
               as_of: str | None = None) -> HTMLResponse:
    return _show_file(request, s, actor, child_id, as_of)


def _show_file(request: Request, s: Services, actor: Any, child_id: UUID, as_of: str | None,
               problems: dict[str, str] | None = None, form_name: str = "",
               values: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """The file; after a refused form, with the form's values and what was wrong."""
    found = _file(request, s, actor, child_id, as_of)
    may = {a: actor.role in PERMISSIONS[a]
           for a in ("child.visit", "child.parent_feedback", "child.counsel")}
    return render(request, "child.html", status=status, file=found, p=found["profile"],
                  as_of=as_of or "", may=may, notes_reader=actor.role in NOTES_READERS,
                  problems=problems or {}, form_name=form_name, values=values or {},
                  now=now_local(), saved=request.query_params.get("saved"))


def _change(request: Request, s: Services, actor: Any, child_id: UUID, form: dict[str, Any],
            name: str, model: type[c.Command], action: str,
            change: Callable[[Any], Callable[[Child], None]]) -> Response:
    """Validate the form as the API's command, apply it through the handler, show the file."""
    body = {**form, "occurred_at": aware(form.get("occurred_at"))}
    try:
        cmd = model.model_validate(body)
        result = s.handlers.change_child(child_id, action, change(cmd), actor, None)
    except (ValidationError, DomainError) as error:
        try:  # the file comes back with the form: only within reach, and logged
            file_in_reach(s, actor, request, str(child_id))
        except NotFound:
            raise PageError(404, "not_found") from None
        return _show_file(request, s, actor, child_id, None,
                          problems_of(error, lang_of(request)), name, form, status_of(error))
    caught_up(s, result.position)
    return see_other(f"/ui/children/{child_id}?saved={name}#timeline")


@router.post("/children/{child_id}/visits", response_class=HTMLResponse)
def record_visit(request: Request, child_id: UUID, s: ServicesDep, actor: PageActor,
                 form: FormFields) -> Response:
    phones = [p.strip() for p in str(form.get("contacts_confirmed") or "").replace("，", ",")
              .split(",") if p.strip()]
    form = {**form, "contacts_confirmed": phones,
            "needs_followup": bool(form.get("needs_followup")),
            "child_seen": SEEN.get(form.get("child_seen") or "", form.get("child_seen"))}
    return _change(request, s, actor, child_id, form, "visit", c.RecordVisit, "child.visit",
                   lambda cmd: lambda ch: ch.record_visit(
                       cmd.occurred_at, cmd.kind, cmd.findings, cmd.needs_followup,
                       cmd.contacts_confirmed, cmd.child_seen))


@router.post("/children/{child_id}/parent-feedback", response_class=HTMLResponse)
def record_feedback(request: Request, child_id: UUID, s: ServicesDep, actor: PageActor,
                    form: FormFields) -> Response:
    return _change(request, s, actor, child_id, form, "feedback", c.RecordParentFeedback,
                   "child.parent_feedback", lambda cmd: lambda ch: ch.record_parent_feedback(
                       cmd.occurred_at, cmd.channel, cmd.summary))


@router.post("/children/{child_id}/counselling-sessions", response_class=HTMLResponse)
def record_counselling(request: Request, child_id: UUID, s: ServicesDep, actor: PageActor,
                       form: FormFields) -> Response:
    return _change(request, s, actor, child_id, form, "counselling", c.RecordCounselling,
                   "child.counsel", lambda cmd: lambda ch: ch.record_counselling(
                       cmd.occurred_at, cmd.topic, cmd.risk_level, cmd.notes))


@router.get("/children/{child_id}/print", response_class=HTMLResponse)
def printable_file(request: Request, child_id: UUID, s: ServicesDep,
                   actor: PageActor) -> HTMLResponse:
    found = _file(request, s, actor, child_id, None)
    return render(request, "print_file.html", file=found, p=found["profile"],
                  printed=utcnow().astimezone(CST).strftime("%Y-%m-%d %H:%M"))


@router.get("/children/{child_id}/card", response_class=HTMLResponse)
def contact_card(request: Request, child_id: UUID, s: ServicesDep,
                 actor: PageActor) -> HTMLResponse:
    found = _file(request, s, actor, child_id, None)
    with s.db.reading() as cur:
        chains = s.views["contact_chain"].chains(cur, [str(child_id)], None, utcnow())
    chain = chains.get(str(child_id), {}).get("chain", [])
    return render(request, "card.html", p=found["profile"], chain=chain,
                  printed=utcnow().astimezone(CST).strftime("%Y-%m-%d"))
