"""Sign-in and user administration: docs/DOMAIN.md §8 and the token endpoint."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep, oauth2
from infra.web.routers.children import answer
from services import commands as c
from services.auth import AuthError
from services.permissions import require

router = APIRouter(tags=["users"])


@router.post("/auth/token")
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()],
          s: ServicesDep) -> dict[str, Any]:
    return {"access_token": s.tokens.login(form.username, form.password),
            "token_type": "bearer"}


@router.post("/auth/logout", status_code=204, response_class=Response)
def logout(s: ServicesDep, token: Annotated[str | None, Depends(oauth2)]) -> Response:
    """Sign out: this token stops working at once, on every process of the service."""
    if not token:
        raise AuthError("not signed in: send Authorization: Bearer <token>")
    s.tokens.logout(token)
    return Response(status_code=204)


@router.post("/users", status_code=201)
def create_user(cmd: c.CreateUser, s: ServicesDep, actor: ActorDep,
                idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.create_user(cmd, actor, idem))


@router.get("/users", dependencies=[CaughtUp])
def list_users(s: ServicesDep, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
               cursor: Annotated[str, Query(max_length=40)] = "") -> dict[str, Any]:
    require(actor, "user.manage")
    with s.db.reading() as cur:
        rows = s.views["users"].page(cur, cursor, limit)
    return {"items": rows, "next_cursor": rows[-1]["username"] if len(rows) == limit else None}


@router.post("/users/{username}/disable")
def disable_user(username: str, s: ServicesDep, actor: ActorDep, idem: IdemDep,
                 cmd: c.DisableUser | None = None) -> JSONResponse:
    answered = s.handlers.disable_user(username, cmd or c.DisableUser(), actor, idem)
    s.tokens.end_sessions(username)  # at once, on every process (the flag follows within 1 s)
    return answer(answered)


@router.post("/users/{username}/role")
def change_role(username: str, cmd: c.ChangeRole, s: ServicesDep, actor: ActorDep,
                idem: IdemDep) -> JSONResponse:
    """A new role and the jurisdiction it needs; the user's tokens follow within a second."""
    return answer(s.handlers.change_role(username, cmd, actor, idem))


@router.post("/users/{username}/jurisdiction")
def change_jurisdiction(username: str, cmd: c.ChangeJurisdiction, s: ServicesDep,
                        actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_jurisdiction(username, cmd, actor, idem))
