"""Helpers over HTTP: docs/DOMAIN.md §3 "Pairings"."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.reach import helper_in_reach, record_shown
from infra.web.routers.children import answer
from services import commands as c
from services.jurisdiction import sees_files
from services.permissions import require

router = APIRouter(prefix="/helpers", tags=["helpers"])


@router.post("", status_code=201)
def register_helper(cmd: c.RegisterHelper, s: ServicesDep, actor: ActorDep,
                    idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.register_helper(cmd, actor, idem))


@router.get("/{helper_id}", dependencies=[CaughtUp])
def get_helper(helper_id: UUID, request: Request, s: ServicesDep,
               actor: ActorDep) -> dict[str, Any]:
    """The helper, within reach (404 otherwise), with the paired children the caller
    reaches: named to those who read files, and each such read in the access log."""
    require(actor, "helper.read")
    found, mine = helper_in_reach(s, actor, str(helper_id))
    children = [child for child in found["children"] if child["child_id"] in mine]
    if sees_files(actor):
        record_shown(s, actor, request, [child["child_id"] for child in children], ("name",))
    else:
        children = [{k: v for k, v in child.items() if k != "name"} for child in children]
    return {**found, "children": children}
