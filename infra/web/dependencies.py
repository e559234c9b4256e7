"""Request-scoped pieces: the services, the signed-in actor, Idempotency-Key, min_position.

The API's dependencies are `async def` where their work is quick and in memory: FastAPI
runs every plain `def` dependency in the thread pool, and each hop there cost a lookup
about as much as its SQL (py-spy, bench/RESULTS.md). What may block (reading an account,
waiting for the views) still goes to the thread pool.
"""

import json
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer

from domain.actor import Actor
from domain.errors import InvalidFact
from infra.services import Services
from infra.web.errors import NotCaughtUp
from services.auth import AuthError
from services.idempotency import IdempotencyRequest

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
# Every position or cursor a client sends: far below SQLite's 64-bit integers, so a bound
# is a 422 naming the parameter, never an overflow in the store.
MAX_POSITION = 2**62


def position_query(description: str | None = None) -> Any:
    """A position or cursor in the query: 0 to MAX_POSITION."""
    return Query(ge=0, le=MAX_POSITION, description=description)


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def current_actor(request: Request, services: ServicesDep,
                  token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """The token's actor, resolved once per request: the gate (infra/web/authorize) keeps
    what it found on request.state, and the endpoint reuses it."""
    actor = _known_actor(request, token) or services.tokens.actor(token)  # type: ignore[arg-type]
    request.state.actor = actor
    return actor


async def signed_in_actor(request: Request, services: ServicesDep,
                          token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """current_actor for the API, in the thread pool: every request reads its session's row
    (a signed-out token must stop at once on every process; services/auth.py)."""
    actor = _known_actor(request, token)
    if actor is None:
        actor = await run_in_threadpool(services.tokens.actor, token)  # type: ignore[arg-type]
    request.state.actor = actor
    return actor


def _known_actor(request: Request, token: str | None) -> Actor | None:
    """The actor this request already resolved; 401 without a token to resolve."""
    known: Actor | None = getattr(request.state, "actor", None)
    if known is None and not token:
        raise AuthError("not signed in: send Authorization: Bearer <token>")
    return known


ActorDep = Annotated[Actor, Depends(signed_in_actor)]


async def idempotency(request: Request, actor: ActorDep,
                      key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                        max_length=200)] = None,
                      ) -> IdempotencyRequest | None:
    if not key:
        return None
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return IdempotencyRequest.of(actor.username, key, request.method, request.url.path, body)


IdemDep = Annotated[IdempotencyRequest | None, Depends(idempotency)]


def caught_up(services: ServicesDep,
              min_position: Annotated[int | None, position_query()] = None) -> None:
    """Read-your-writes: answer only once the views have processed min_position."""
    if min_position is None or services.runner.position >= min_position:
        return
    last = services.app.max_position()
    if min_position > last:
        # Every position a command answered is already stored: waiting cannot help.
        raise InvalidFact("min_position", f"is beyond the last stored position {last}")
    if not services.runner.wait_for(min_position, services.settings.wait_timeout_seconds):
        raise NotCaughtUp(f"the views have not yet reached position {min_position}")


async def caught_up_dependency(
        services: ServicesDep,
        min_position: Annotated[int | None, position_query()] = None) -> None:
    """caught_up, waiting in the thread pool only when the views are behind."""
    if min_position is not None and services.runner.position < min_position:
        await run_in_threadpool(caught_up, services, min_position)


CaughtUp = Depends(caught_up_dependency)
