"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from infra.web.dependencies import ServicesDep

router = APIRouter(tags=["health"])

# Views further behind the store than this are "not ready".
MAX_LAG_EVENTS = 1000


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(s: ServicesDep) -> JSONResponse:
    try:
        head = s.app.max_position()
        s.runner.load_positions()
    except Exception as error:  # noqa: BLE001 - any failure to reach the store means not ready
        return JSONResponse({"status": "unavailable", "store": type(error).__name__}, 503)
    lag = head - s.runner.position
    body = {"status": "ok" if lag <= MAX_LAG_EVENTS else "lagging", "position": head,
            "projections_position": s.runner.position, "lag": lag}
    return JSONResponse(body, 200 if lag <= MAX_LAG_EVENTS else 503)


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
