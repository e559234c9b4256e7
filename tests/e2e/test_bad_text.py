"""Text a store or a spreadsheet cannot hold is refused at the edge (issue 19, finding 3).

The sweep reads every operation of /openapi.json and every page route of the app: each
path, query and header parameter and each string field of each JSON body (however deep),
each page's query and form fields and an upload's file name get each class of forbidden
character; every answer must be 422 naming that field, and no table of the store (events,
idempotency answers, access log, views) may change. Both stores: NUL is PostgreSQL's 500.
"""

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlparse, parse_qs

from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient

from infra.web.pages.i18n import ZH
from services import text
from tests.conftest import Api, child_body

# Each class the edge refuses everywhere, with the type the answer names.
NEVER = {"\x00": "control_character", "\x1b": "control_character", "\x7f": "control_character",
         "\x9b": "control_character", "\uffff": "noncharacter", "\ufdd0": "noncharacter",
         "\U0001fffe": "noncharacter", "\U0010ffff": "noncharacter"}
SURROGATE = "\ud800"  # only a JSON escape can carry one (a URL or a form decodes it away)
LINE_BREAKS = ("\t", "\n", "\r\n")
# The free texts of the commands (services/commands.FREE_TEXT): they keep line breaks.
FREE_TEXT = {"reason", "findings", "notes", "summary", "description", "note", "decisions"}
SOME_ID = "00000000-0000-4000-8000-000000000001"
PATH_VALUES = {"username": "someone", "school_year": "2025"}


def test_every_parameter_and_body_field_refuses_each_class_naming_it(
        api: Api, database_url: str) -> None:
    document = api.client.get("/openapi.json").json()
    before = _settled_counts(api.client, database_url)
    checked = 0
    for path, method, operation in _operations(document):
        for where, name in _parameters(operation):
            for bad, kind in NEVER.items():
                if where == "header" and ord(bad) > 0xFF:
                    continue  # header bytes read as Latin-1: never a non-character
                answer = _send_parameter(api, path, method, where, name, f"a{bad}b")
                _assert_named(answer, f"{where}.{name}", kind, method, path)
                checked += 1
            if where != "header" and name not in ("purpose", "break_glass"):
                answer = _send_parameter(api, path, method, where, name, "a\tb")
                _assert_named(answer, f"{where}.{name}", "line_break", method, path)
        for field in _string_fields(document, operation):
            surrogate = {} if field[0] == "form" else {SURROGATE: "lone_surrogate"}
            for bad, kind in {**NEVER, **surrogate}.items():
                answer = _send_body(api, path, method, field, f"a{bad}b")
                _assert_named(answer, _dotted(field), kind, method, path)
                checked += 1
            checked += _check_line_breaks(api, path, method, field)
    assert checked > 1500, checked  # every operation, parameter and field took part
    assert _settled_counts(api.client, database_url) == before, "a refused request stored something"


def _check_line_breaks(api: Api, path: str, method: str, field: tuple[Any, ...]) -> int:
    """A single-line field refuses tab and line breaks; a free text keeps them."""
    for brk in LINE_BREAKS:
        answer = _send_body(api, path, method, field, f"Abcdef-123{brk}Xyz5")
        named = [e for e in _errors(answer) if e["field"] == _dotted(field)]
        if _is_free_text(field):
            assert all(e["type"] != "line_break" for e in named), (method, path, field)
        else:
            assert answer.status_code == 422 and any(
                e["type"] in ("line_break", "string_pattern_mismatch", "literal_error",
                              "uuid_parsing", "date_from_datetime_parsing", "date_parsing",
                              "datetime_from_date_parsing", "datetime_parsing") for e in named), \
                (method, path, field, answer.text)
    return len(LINE_BREAKS)


def test_a_lone_surrogate_with_an_idempotency_key_is_422_not_500(api: Api) -> None:
    """It was a 500: the key's request hash encoded the body before the command refused it."""
    body = json.dumps({**child_body(), "name": "张\ud800明"})  # ensure_ascii: as \ud800
    answer = api.client.post("/children", content=body, headers={
        **api.headers, "Content-Type": "application/json", "Idempotency-Key": "k-1"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "name", "type": "lone_surrogate",
                                        "reason": text.SURROGATE[1]}]
    untyped = api.client.post("/children", content=body, headers={  # FastAPI reads it as JSON
        **api.headers, "Idempotency-Key": "k-2"})
    assert untyped.status_code == 422 and untyped.json()["errors"][0]["field"] == "name"


def test_a_field_whose_name_is_bad_is_named_in_escapes(api: Api) -> None:
    """The answer must be encodable even when the bad text is the field's name."""
    answer = api.client.post("/children", content='{"\\ud800": 1}', headers={
        **api.headers, "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "\\ud800"


def test_a_name_with_uffff_is_refused_so_the_exports_stay_valid(api: Api) -> None:
    answer = api.post("/children", {**child_body(), "name": "张\uffff明"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "name"
    assert api.client.get("/dashboards/compliance.xlsx", headers=api.headers).status_code == 200


def test_pages_show_the_fields_chinese_label_and_a_chinese_reason(
        client: TestClient, database_url: str) -> None:
    """Every page route: each query parameter, path parameter and form field, and the file
    name of an upload, refused with the error page (422) naming the field in Chinese."""
    before = _settled_counts(client, database_url)
    pages = [r for r in every_route(client.app) if r.path.startswith("/ui")]
    assert len(pages) >= 20
    for route in pages:
        for method in route.methods:
            for where, name in _page_fields(route, method):
                for bad, kind in NEVER.items():
                    answer = _send_page(client, route.path, method, where, name, f"a{bad}b")
                    assert answer.status_code == 422, (method, route.path, name)
                    label = ZH.get(name, name)
                    assert f"「{label}」{text.REASONS_ZH[kind]}" in answer.text, (
                        method, route.path, name)
    upload = client.post("/ui/import", files={"file": ("台帐\uffff.xlsx", b"x")},
                         follow_redirects=False)
    assert upload.status_code == 422
    assert f"「{ZH['file']}」{text.REASONS_ZH['noncharacter']}" in upload.text
    assert _settled_counts(client, database_url) == before


def test_a_single_line_field_on_a_page_form_is_named_beside_the_form(api: Api) -> None:
    """A tab in a visit's kind or a counselling topic reaches the command, which refuses it;
    the page shows it beside the form in Chinese, as its other problems."""
    child = api.post("/children", child_body()).json()["id"]
    client = api.client
    client.post("/ui/login", data={"username": "admin", "password": "qianshou-test-1"})
    page = client.get(f"/ui/children/{child}").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(f"/ui/children/{child}/counselling-sessions", data={
        "csrf": csrf, "occurred_at": "2025-01-01T10:00", "topic": "学习\t压力",
        "risk_level": "low", "notes": "第一行\n第二行"})
    assert answer.status_code == 422
    assert text.REASONS_ZH["line_break"] in answer.text


# --- enumerating the routes -------------------------------------------------------------------


def every_route(app: Any) -> list[Any]:
    """Every route of the app with its full path. FastAPI 0.165 keeps an included router as
    one _IncludedRouter in app.routes (no APIRoute there), so they are walked through."""
    found = []
    for route in app.routes:
        if isinstance(route, _IncludedRouter):
            found += [r for r in route.effective_route_contexts()
                      if isinstance(r.original_route, APIRoute)]
        elif isinstance(route, APIRoute):
            found.append(route)
    return found



def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method.upper(), operation


def _parameters(operation: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["in"], p["name"]) for p in operation.get("parameters", [])]


def _string_fields(document: dict[str, Any], operation: dict[str, Any]) -> list[tuple[Any, ...]]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        form = content.get("application/x-www-form-urlencoded", {}).get("schema")
        return [] if form is None else [("form", f) for f in _walk(document, form, ())]
    return list(_walk(document, schema, ()))


def _walk(document: dict[str, Any], schema: dict[str, Any],
          at: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """The paths of the string fields of a schema, through $ref, anyOf, arrays, objects."""
    if "$ref" in schema:
        yield from _walk(document, _resolve(document, schema["$ref"]), at)
    elif "anyOf" in schema:
        seen: set[tuple[Any, ...]] = set()
        for option in schema["anyOf"]:
            for found in _walk(document, option, at):
                if found not in seen:
                    seen.add(found)
                    yield found
    elif schema.get("type") == "array":
        yield from _walk(document, schema.get("items", {}), (*at, 0))
    elif schema.get("type") == "object" or "properties" in schema:
        for name, inner in schema.get("properties", {}).items():
            yield from _walk(document, inner, (*at, name))
    elif schema.get("type") == "string" and at:
        yield at


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    found: Any = document
    for part in ref.lstrip("#/").split("/"):
        found = found[part]
    return found  # type: ignore[no-any-return]


def _dotted(field: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in field if p != "form")


def _is_free_text(field: tuple[Any, ...]) -> bool:
    return any(p in FREE_TEXT for p in field if isinstance(p, str))


# --- sending ----------------------------------------------------------------------------------


def _url(path: str, where: str, name: str, value: str) -> str:
    """The path with its parameters filled (the one named `name` with `value` when it is a
    path parameter), and `name=value` as the query when it is a query parameter."""
    filled = path
    for param in re.findall(r"{(\w+)}", path):
        given = PATH_VALUES.get(param, SOME_ID)
        if where == "path" and param == name:
            given = quote(value, safe="")
        filled = filled.replace(f"{{{param}}}", given)
    if where == "query":
        filled += f"?{quote(name)}={quote(value, safe='')}"
    return filled


def _send_parameter(api: Api, path: str, method: str, where: str, name: str,
                    value: str) -> Any:
    headers = dict(api.headers)
    if where == "header":
        headers[name] = value.encode("latin-1")  # type: ignore[assignment]
    return api.client.request(method, _url(path, where, name, value), headers=headers)


def _send_body(api: Api, path: str, method: str, field: tuple[Any, ...], value: str) -> Any:
    url = _url(path, "", "", "")
    if field[0] == "form":
        return api.client.request(method, url, data={field[1]: value}, headers=api.headers)
    body = json.dumps(_nested(field, value))  # ensure_ascii: a surrogate as its escape
    return api.client.request(method, url, content=body, headers={
        **api.headers, "Content-Type": "application/json"})


def _nested(field: tuple[Any, ...], value: Any) -> Any:
    if not field:
        return value
    head, rest = field[0], field[1:]
    return [_nested(rest, value)] if head == 0 else {head: _nested(rest, value)}


def _errors(answer: Any) -> list[dict[str, Any]]:
    try:
        return answer.json().get("errors", [])  # type: ignore[no-any-return]
    except ValueError:
        return []


def _assert_named(answer: Any, field: str, kind: str, method: str, path: str) -> None:
    assert answer.status_code == 422, (method, path, field, answer.status_code, answer.text)
    assert {"field": field, "type": kind} in [
        {"field": e["field"], "type": e.get("type")} for e in _errors(answer)], (
        method, path, field, answer.text)


def _page_fields(route: Any, method: str) -> list[tuple[str, str]]:
    fields = [("path", p.name) for p in route.dependant.path_params]
    fields += [("query", p.name) for p in route.dependant.query_params]
    fields += [("query", name) for name in ("q", "township", "lang")]
    if method == "POST":
        fields += [("form", name) for name in (
            "findings", "summary", "topic", "notes", "note", "location", "description",
            "outcome", "name", "phone", "q", "break_glass", "csrf", "username", "next")]
    return fields


def _send_page(client: TestClient, path: str, method: str, where: str, name: str,
               value: str) -> Any:
    data = {name: value} if where == "form" else None
    return client.request(method, _url(path, where, name, value), data=data,
                          follow_redirects=False)


# --- nothing stored ---------------------------------------------------------------------------


def _settled_counts(client: TestClient, database_url: str) -> dict[str, int]:
    """Every table of the store and its number of rows, once the views have applied every
    stored event; read through the service's own pool (a shared PostgreSQL may have no
    connection to spare for one more client)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.runner.wait_for(services.app.max_position(), 30)
    if database_url.startswith("sqlite"):
        listing = "SELECT name FROM sqlite_master WHERE type = 'table'"
        prefix = ""
    else:
        schema = parse_qs(urlparse(database_url).query)["schema"][0]
        listing = ("SELECT table_name AS name FROM information_schema.tables "
                   f"WHERE table_schema = '{schema}'")
        prefix = f'"{schema}".'
    with services.db.reading() as cur:
        names = [row["name"] for row in cur.execute(listing).fetchall()]
        return {n: cur.execute(f'SELECT count(*) AS n FROM {prefix}"{n}"').fetchone()["n"]
                for n in names}


def test_the_character_classes() -> None:
    """The rule itself: every control character, every plane's non-characters."""
    for plane in range(17):
        for last in (0xFFFE, 0xFFFF):
            assert text.problem(f"a{chr(plane * 0x10000 + last)}") == text.NONCHARACTER
    for code in range(0xFDD0, 0xFDF0):
        assert text.problem(chr(code)) == text.NONCHARACTER
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        ch = chr(code)
        expected = None if ch in "\t\n" else text.CONTROL
        assert text.problem(f"a{ch}b", multiline=True) == expected, hex(code)
    assert text.problem("a\r\nb", multiline=True) is None
    assert text.problem("a\rb", multiline=True) == text.CONTROL
    assert text.problem("a\nb") == text.LINE_BREAK
    assert text.problem("\ud800") == text.SURROGATE
    assert text.problem("张小明 Zhang-Xiaoming ﹏ \U0001f600 \ufdf0 \ufffd") is None
