"""Helpers over HTTP: CONTRACT.md "Helpers"."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from domain.errors import NotFound
from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.routers.children import answer
from services import commands as c
from services.permissions import require

router = APIRouter(prefix="/helpers", tags=["helpers"])


@router.post("", status_code=201)
def register_helper(cmd: c.RegisterHelper, s: ServicesDep, actor: ActorDep,
                    idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.register_helper(cmd, actor, idem))


@router.get("/{helper_id}", dependencies=[CaughtUp])
def get_helper(helper_id: UUID, s: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    require(actor, "helper.read")
    with s.db.reading() as cur:
        found = s.directory.get(cur, str(helper_id))
    if found is None:
        raise NotFound("helper not found")
    return found
