"""The security headers (issue 19, finding 10), on SQLite and PostgreSQL: every GET route of
the app, API and pages, signed in and not, answers with a Content-Security-Policy that
forbids framing and inline script, the other protective headers, and Cache-Control:
no-store (all but the static files carry or may carry a child's data)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.browser.test_pages_http import sign_in
from tests.conftest import ADMIN_PASSWORD, Api, register

NOW = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def get_routes(client: TestClient) -> list[str]:
    """Every path of the app that answers GET, as FastAPI routes it (routers included)."""
    routes = client.app.router.routes  # type: ignore[attr-defined]
    paths = [r.path for r in iter_route_contexts(routes) if "GET" in (r.methods or set())]
    assert len(paths) >= 45 and "/ui/children/{child_id}" in paths and "/docs" in paths
    return paths


@pytest.fixture
def ids(api: Api) -> dict[str, str]:
    """Real ids for the path parameters, so that routes answer with data, not only 404."""
    child = register(api)
    helper = api.post("/helpers", {"name": "刘妈妈", "agency": "womens_federation",
                                   "role": "volunteer", "phone": "13912345678",
                                   "township": "白沙关镇", "village": "白沙关村"}).json()
    incident = api.post("/incidents", {"child_id": child["id"], "category": "injury",
                                       "severity": "low", "occurred_at": NOW,
                                       "location": "操场", "description": "擦伤"}).json()
    assert api.get("/children", min_position=incident["position"]).status_code == 200
    return {"child_id": child["id"], "helper_id": helper["id"],
            "incident_id": incident["id"], "school_year": "2025"}


def _fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no id for a parameter of {path}: add it to the ids fixture"
    return path


def _assert_protected(path: str, headers: Any) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, (path, csp)
    if path not in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert "script-src 'self';" in csp and "style-src 'self';" in csp, (path, csp)
        assert "unsafe-inline" not in csp, (path, csp)
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "no-referrer", path
    assert headers.get("cache-control") == "no-store", (path, headers.get("cache-control"))


def test_every_get_route_carries_the_security_headers_and_no_store(
        client: TestClient, api: Api, ids: dict[str, str]) -> None:
    statuses: dict[str, tuple[int, int]] = {}
    sign_in(client, "admin", ADMIN_PASSWORD)  # the pages' cookie
    for route in get_routes(client):
        path = _fill(route, ids)
        signed_in = client.get(path, headers=api.headers, follow_redirects=False)
        _assert_protected(path, signed_in.headers)
        anonymous = TestClient(client.app).get(path, follow_redirects=False)  # 401, 303, ...
        _assert_protected(path, anonymous.headers)
        statuses[route] = (signed_in.status_code, anonymous.status_code)
    ok = [route for route, (status, _) in statuses.items() if status == 200]
    # Not only refusals: the routes that show a child's data answered with it.
    for route in ("/children/{child_id}", "/children", "/ui/children/{child_id}",
                  "/ui/children/{child_id}/card", "/ui/incidents/{incident_id}",
                  "/helpers/{helper_id}", "/ui/children/export.xlsx",
                  "/children/{child_id}/contact-chain"):
        assert route in ok, (route, statuses[route])
    assert len(ok) >= 40, statuses


def test_errors_and_refusals_carry_them_too(client: TestClient, api: Api) -> None:
    """A 401, a 404, a 422 and an answer of the error handlers: the same headers."""
    for path, headers in ((f"/children/{uuid.uuid4()}", api.headers),
                          ("/children?limit=0", api.headers), ("/children", {}),
                          ("/no/such/path", {}), (f"/ui/children/{uuid.uuid4()}", {})):
        answer = client.get(path, headers=headers, follow_redirects=False)
        assert answer.status_code in (303, 401, 404, 422), (path, answer.status_code)
        _assert_protected(path.split("?")[0], answer.headers)


def test_static_files_may_be_cached_and_are_not_sniffed(client: TestClient) -> None:
    for path in ("/static/app.css", "/static/print.js"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "public, max-age=3600"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_the_pages_use_no_inline_script_or_style(client: TestClient, api: Api,
                                                  ids: dict[str, str]) -> None:
    """What the CSP would refuse is not in the pages: no <script> without src, no style
    attribute or element, no on* handler (the browser test checks Chromium agrees)."""
    sign_in(client, "admin", ADMIN_PASSWORD)
    pages = [p for p in get_routes(client) if p.startswith("/ui") and "xlsx" not in p]
    for route in pages:
        html = client.get(_fill(route, ids)).text.lower()
        assert "<style" not in html and " style=" not in html, route
        assert "<script>" not in html and " onclick=" not in html, route
        assert "javascript:" not in html, route
