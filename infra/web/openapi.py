"""/openapi.json as the service really answers (issue 19, finding 12).

FastAPI documents every answer as JSON and knows nothing of what a created id is for. Here,
once, after it builds the document:
- the .xlsx exports are documented as spreadsheets and /metrics as Prometheus text;
- every operation with a body documents the 400 that FastAPI sends for a body it cannot
  read (not UTF-8); /readyz documents its own 503;
- every text says which characters it takes (services/text.py): single-line unless the
  command declares it free text (services/commands.FreeText) or it is a reader's reason;
- the commands that create an id carry OpenAPI links to the operations that take it, so
  that a client (and schemathesis' stateful phase, tests/e2e/test_fuzz.py) can follow
  them: register a child, then record a visit on that child.
"""

import json
import re
from typing import Any

from fastapi import FastAPI

from infra.web.edge import REASON_PARAMS
from services import text
from prometheus_client import CONTENT_TYPE_LATEST

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"schema": {"type": "string", "format": "binary"}}
PROMETHEUS = CONTENT_TYPE_LATEST  # what /metrics sends
UNREADABLE = {"description": "the body could not be read (not UTF-8)",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}
TOO_MANY = {"description": "too many failed sign-ins: wait Retry-After seconds",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}
NOT_READY = {"description": "the store is away or the views lag", "content": {
    "application/json": {"schema": {"type": "object", "required": ["status"],
                                    "properties": {"status": {"type": "string"}}}}}}

# What a created resource's answer holds (a runtime expression) -> where operations take it.
# Parameters are matched by name: a path or query parameter, or a field of a JSON body.
PRODUCERS: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/children"): {"child_id": "$response.body#/id"},
    ("post", "/helpers"): {"helper_id": "$response.body#/id"},
    ("post", "/incidents"): {"incident_id": "$response.body#/id",
                             "child_id": "$response.body#/child_id"},
    ("post", "/grants"): {"grant_id": "$response.body#/id"},
    ("post", "/programmes"): {"programme": "$response.body#/code"},
    ("post", "/case-conferences"): {"action_id": "$response.body#/action_ids/0"},
    ("post", "/users"): {"username": "$response.body#/username"},
}


def install(app: FastAPI) -> None:
    """After the routers are included: FastAPI builds the document once, corrected here."""
    built = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = corrected(built())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def corrected(doc: dict[str, Any]) -> dict[str, Any]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            _media_types(path, operation)
            if "requestBody" in operation:
                operation["responses"]["400"] = UNREADABLE
            for parameter in operation.get("parameters", []):
                multiline = parameter["name"] in REASON_PARAMS
                _characters(parameter["schema"], multiline)
    for name in _request_schemas(doc):
        _characters(doc["components"]["schemas"][name], False)
    doc["paths"]["/readyz"]["get"]["responses"]["503"] = NOT_READY
    doc["paths"]["/auth/token"]["post"]["responses"]["429"] = TOO_MANY
    _links(doc)
    return doc


def _request_schemas(doc: dict[str, Any]) -> set[str]:
    """The component schemas that requests send (bodies and what they hold), not answers."""
    found: set[str] = set()
    pending = [op.get("requestBody", {}) for ops in doc["paths"].values() for op in ops.values()]
    while pending:
        for ref in re.findall(r"#/components/schemas/([\w.-]+)", json.dumps(pending.pop())):
            if ref not in found:
                found.add(ref)
                pending.append(doc["components"]["schemas"][ref])
    return found


def _characters(schema: dict[str, Any], multiline: bool) -> None:
    """Give each plain string of a schema (no pattern, format or enum) its pattern."""
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = text.FREE_TEXT_PATTERN if multiline else text.SINGLE_LINE_PATTERN
    for inner in [*schema.get("properties", {}).values(), *schema.get("anyOf", []),
                  *([schema["items"]] if isinstance(schema.get("items"), dict) else [])]:
        _characters(inner, multiline)


def _media_types(path: str, operation: dict[str, Any]) -> None:
    ok = operation["responses"].get("200")
    if ok is None:
        return
    if path.endswith(".xlsx"):
        ok["content"] = {XLSX: BINARY}
    elif path == "/metrics":
        ok["content"] = {PROMETHEUS: {"schema": {"type": "string"}}}


def _links(doc: dict[str, Any]) -> None:
    """For each producer, a link to every operation taking one of the values it gives."""
    for (method, path), gives in PRODUCERS.items():
        source = doc["paths"][path][method]
        status = next(code for code in ("201", "200") if code in source["responses"])
        links: dict[str, Any] = {}
        for target_path, operations in doc["paths"].items():
            for target_method, target in operations.items():
                link = _link_to(doc, target, gives)
                if link and (target_path, target_method) != (path, method):
                    links[target["operationId"]] = link
        source["responses"][status]["links"] = links


def _link_to(doc: dict[str, Any], target: dict[str, Any],
             gives: dict[str, str]) -> dict[str, Any] | None:
    params = {f"{p['in']}.{p['name']}": gives[p["name"]]
              for p in target.get("parameters", []) if p["name"] in gives}
    body = {name: gives[name] for name in _body_fields(doc, target) if name in gives}
    if not params and not body:
        return None
    link: dict[str, Any] = {"operationId": target["operationId"]}
    if params:
        link["parameters"] = params
    if body:
        link["requestBody"] = body
    return link


def _body_fields(doc: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The top-level fields of a JSON body (through $ref and anyOf)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref", "")
        if ref:
            return list(doc["components"]["schemas"][ref.split("/")[-1]].get("properties", {}))
    return []
