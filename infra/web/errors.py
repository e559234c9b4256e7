"""The one place domain errors become HTTP statuses."""

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.errors import ConflictingState, Forbidden, InvalidFact, NotFound
from services.auth import AuthError
from services.login_throttle import TooManyAttempts


class NotCaughtUp(Exception):
    """The views did not reach the asked position in time (503 with Retry-After)."""


def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"),
               "reason": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": "invalid input", "errors": errors}, status_code=422)


def _invalid(_: Request, exc: InvalidFact) -> JSONResponse:
    return JSONResponse({"detail": "invalid input",
                         "errors": [{"field": exc.field, "reason": exc.reason}]}, 422)


def _status(code: int, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    def handler(_: Request, exc: Exception) -> JSONResponse:
        # A conflict may name what it conflicts with (existing_child_id, merged_into).
        body = {"detail": str(exc), **getattr(exc, "details", {})}
        return JSONResponse(body, status_code=code, headers=headers)
    return handler


def _too_many(_: Request, exc: TooManyAttempts) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=429,
                        headers={"Retry-After": str(exc.retry_after)})


def install(app: FastAPI) -> None:
    app.add_exception_handler(TooManyAttempts, _too_many)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidFact, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(ConflictingState, _status(409))
    app.add_exception_handler(NotFound, _status(404))
    app.add_exception_handler(Forbidden, _status(403))
    app.add_exception_handler(AuthError, _status(401, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(NotCaughtUp, _status(503, {"Retry-After": "1"}))
    # The database is away: say so and let the client retry, rather than a bare 500.
    app.add_exception_handler(OperationalError, _status(503, {"Retry-After": "2"}))
    app.add_exception_handler(InterfaceError, _status(503, {"Retry-After": "2"}))
