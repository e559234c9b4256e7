"""Integer parameters (issue 19, finding 8), on SQLite and PostgreSQL: every integer query or
path parameter of every route, API and pages, and every cursor, answers 2**63 and -1 with a
422 naming the parameter (on a page, in Chinese words), never a 500 from a store's 64-bit
integers (`/children?cursor=9223372036854775808` was a 500 on SQLite)."""

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from infra.web.pages.session import PARAM_LABELS
from tests.browser.test_pages_http import sign_in
from tests.conftest import ADMIN_PASSWORD, Api, register

TOO_BIG, NEGATIVE = 2**63, -1


def _params(dependant: Any) -> Iterator[tuple[str, Any]]:
    """(where, field) of every query and path parameter, dependencies included."""
    for field in dependant.query_params:
        yield "query", field
    for field in dependant.path_params:
        yield "path", field
    for sub in dependant.dependencies:
        yield from _params(sub)


def integer_params(client: TestClient) -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) for every integer parameter of the app."""
    found = set()
    for route in iter_route_contexts(client.app.router.routes):  # type: ignore[attr-defined]
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for where, field in _params(dependant):
            if "int" in str(field.field_info.annotation):
                for method in route.methods:
                    found.add((method, route.path, where, field.name))
    return sorted(found)


def _request(client: TestClient, api: Api, method: str, path: str, where: str, name: str,
             value: int) -> Any:
    path = path.replace("{helper_id}", str(uuid.uuid4()))
    if where == "path":
        path = path.replace("{" + name + "}", str(value))
        params = {}
    else:
        path = path.replace("{school_year}", "2025")
        params = {name: str(value)}
    return client.request(method, path, params=params, headers=api.headers)


def test_every_integer_parameter_refuses_2_63_and_minus_1_naming_it(client: TestClient,
                                                                   api: Api) -> None:
    found = integer_params(client)
    names = {(path, name) for _, path, _, name in found}
    assert {("/children", "cursor"), ("/ui/children", "cursor"), ("/children", "min_position"),
            ("/ui/assessments", "year"), ("/audit/access", "cursor")} <= names, names
    sign_in(client, "admin", ADMIN_PASSWORD)
    for method, path, where, name in found:
        for value in (TOO_BIG, NEGATIVE):
            answer = _request(client, api, method, path, where, name, value)
            what = (method, path, name, value, answer.status_code, answer.text[:300])
            assert answer.status_code == 422, what
            if path.startswith("/ui"):
                assert PARAM_LABELS["zh"][name] in answer.text, what  # its Chinese name
                assert "输入有误" in answer.text, what
            else:
                fields = [e["field"] for e in answer.json()["errors"]]
                assert any(f.split(".")[-1] == name for f in fields), what


def test_the_duplicates_cursor_is_bounded_too(api: Api) -> None:
    """A text cursor of two positions (`12.40`): each part within the store's integers."""
    for cursor in (f"{TOO_BIG}.1", f"1.{TOO_BIG}", "-1.2", "1.-2", "x.1"):
        answer = api.get("/children/duplicates", cursor=cursor)
        assert answer.status_code == 422, (cursor, answer.text)
        assert answer.json()["errors"][0]["field"] == "cursor"
    assert api.get("/children/duplicates", cursor=f"{2**62}.{2**62}").status_code == 200


def test_the_largest_accepted_cursor_reads_an_empty_page(api: Api) -> None:
    """The bound itself is a position the stores can compare: an empty page, not a 500."""
    child = register(api)
    assert api.get("/children", min_position=child["position"]).status_code == 200
    for path, more in (("/children", {}), ("/audit/access", {"child_id": child["id"]}),
                       ("/audit/break-glass", {})):
        answer = api.get(path, cursor=2**62, **more)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["items"] == []
